// JWS signatures (RFC 7518 section 3): ES256/ES384 as fixed-size r||s, RS256 as PKCS#1 v1.5.
#include "openssl_util.hpp"

namespace certcli::crypto {
namespace {

bool is_ec(KeyType type) { return type == KeyType::ec256 || type == KeyType::ec384; }

// RFC 7518 3.4: ES384 hashes with SHA-384; every other algorithm here uses SHA-256.
const EVP_MD* digest_for(KeyType type) { return type == KeyType::ec384 ? EVP_sha384() : EVP_sha256(); }

// Octets in one of r or s: the curve's field size.
int coordinate_size(KeyType type) { return type == KeyType::ec384 ? 48 : 32; }

detail::MdCtxPtr new_md_ctx() {
  detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) detail::throw_openssl("cannot allocate a digest context");
  return ctx;
}

// OpenSSL emits ECDSA signatures as DER SEQUENCE{r, s}; JWS wants both integers left-padded
// to the field size and concatenated (RFC 7518 3.4).
std::string der_to_raw(const std::string& der, int size) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  detail::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) detail::throw_openssl("cannot decode the ECDSA signature OpenSSL produced");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(static_cast<std::size_t>(2 * size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, size) != size || BN_bn2binpad(s, out + size, size) != size) {
    detail::throw_openssl("ECDSA signature component exceeds the curve size");
  }
  return raw;
}

// Inverse of der_to_raw; nullopt when `raw` has the wrong length for the curve.
std::optional<std::string> raw_to_der(std::string_view raw, int size) {
  if (raw.size() != static_cast<std::size_t>(2 * size)) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  detail::BnPtr r(BN_bin2bn(in, size, nullptr));
  detail::BnPtr s(BN_bin2bn(in + size, size, nullptr));
  detail::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) detail::throw_openssl("cannot allocate an ECDSA signature");
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) detail::throw_openssl("cannot build an ECDSA signature");
  r.release();  // now owned by sig
  s.release();
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) detail::throw_openssl("cannot DER-encode an ECDSA signature");
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) detail::throw_openssl("cannot DER-encode an ECDSA signature");
  return der;
}

}  // namespace

std::string jws_algorithm(const PrivateKey& key) {
  switch (key.type()) {
    case KeyType::ec256: return "ES256";
    case KeyType::ec384: return "ES384";
    case KeyType::rsa2048:
    case KeyType::rsa3072:
    case KeyType::rsa4096: return "RS256";
  }
  throw Error(ErrorKind::internal, "jws_algorithm: unhandled key type");
}

std::string jws_sign(const PrivateKey& key, std::string_view signing_input) {
  KeyType type = key.type();
  auto ctx = new_md_ctx();
  // For RSA keys the default padding is PKCS#1 v1.5, which is what RS256 means (RFC 7518 3.3).
  if (EVP_DigestSignInit(ctx.get(), nullptr, digest_for(type), nullptr, key.get()) != 1) {
    detail::throw_openssl("cannot start a " + jws_algorithm(key) + " signature");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, signing_input.size()) != 1) {
    detail::throw_openssl("cannot size a " + jws_algorithm(key) + " signature");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     signing_input.size()) != 1) {
    detail::throw_openssl("cannot compute a " + jws_algorithm(key) + " signature");
  }
  signature.resize(length);  // DER ECDSA signatures vary in length
  return is_ec(type) ? der_to_raw(signature, coordinate_size(type)) : signature;
}

bool jws_verify(const PrivateKey& key, std::string_view signing_input, std::string_view signature) {
  KeyType type = key.type();
  std::string der;
  if (is_ec(type)) {
    auto converted = raw_to_der(signature, coordinate_size(type));
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  auto ctx = new_md_ctx();
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(type), nullptr, key.get()) != 1) {
    detail::throw_openssl("cannot start verifying a " + jws_algorithm(key) + " signature");
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(signing_input.data()),
                            signing_input.size());
  // A mismatch leaves reasons on the error queue; they describe this call only.
  detail::drain_openssl_errors();
  return ok == 1;
}

}  // namespace certcli::crypto
