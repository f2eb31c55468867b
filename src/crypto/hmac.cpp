// HMAC through EVP_MAC (External Account Binding, RFC 8555 7.3.4). OpenSSL 3 EVP only: no
// deprecated HMAC() call.
#include "crypto/openssl_util.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <fmt/format.h>

namespace certcli::crypto {
namespace {

using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;

}  // namespace

std::string hmac(std::string_view digest, std::string_view key, std::string_view data) {
  if (digest != "SHA256" && digest != "SHA384" && digest != "SHA512")
    throw Error(ErrorKind::internal, fmt::format("HMAC with digest '{}' is not supported", digest));
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) detail::throw_openssl("cannot fetch HMAC");
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) detail::throw_openssl("cannot make an HMAC context");
  std::string digest_name(digest);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is still a key to HMAC; EVP_MAC_init wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const auto* key_bytes = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params) != 1) detail::throw_openssl("cannot start HMAC");
  if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    detail::throw_openssl("cannot compute HMAC");
  std::string out(EVP_MAX_MD_SIZE, '\0');
  size_t length = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length, out.size()) != 1)
    detail::throw_openssl("cannot finish HMAC");
  out.resize(length);
  return out;
}

}  // namespace certcli::crypto
