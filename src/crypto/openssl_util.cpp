// Shared OpenSSL plumbing for src/crypto/. See openssl_util.hpp.
#include "openssl_util.hpp"

#include <openssl/err.h>

#include <climits>

namespace certcli::crypto::detail {

void free_openssl_string(void* p) { OPENSSL_free(p); }

void free_extension_stack(STACK_OF(X509_EXTENSION)* stack) {
  sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
}

void free_x509_stack(STACK_OF(X509)* stack) { sk_X509_pop_free(stack, X509_free); }

std::string drain_openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

void throw_openssl(const std::string& what, std::string hint) {
  std::string detail = drain_openssl_errors();
  std::string message = detail.empty() ? what : what + " (" + detail + ")";
  throw Error(ErrorKind::crypto, std::move(message), std::move(hint));
}

BioPtr read_bio(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw Error(ErrorKind::invalid_input, "input of " + std::to_string(bytes.size()) + " bytes is too large",
                "PEM files and certificates are far smaller than 2 GiB; check the file");
  }
  BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) throw_openssl("cannot allocate a memory BIO");
  return bio;
}

BioPtr write_bio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) throw_openssl("cannot allocate a memory BIO");
  return bio;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace certcli::crypto::detail
