// The OpenSSL certcli runs with: the shared library's own answer, not the headers' (a security
// update replaces the library under an unchanged binary).
#include <certcli/crypto.hpp>

#include <openssl/crypto.h>

namespace certcli::crypto {

std::string library_version() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace certcli::crypto
