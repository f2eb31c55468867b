// certcli/bundle.hpp — certificates and keys that cross certcli's edge: files an operator brings
// (`upload`: PEM or DER, a chain in any order, keys in PKCS#1, SEC1 or PKCS#8, maybe encrypted)
// and the formats `download` hands out (DER, PKCS#12). Part of crypto/: OpenSSL stays behind it.
// Reads bytes and returns bytes; never touches a file or the store.
#pragma once

#include <certcli/crypto.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace certcli::crypto {

// The certificates of a file's bytes, each as one PEM block: PEM (one or more CERTIFICATE
// blocks) or DER (one certificate). Throws Error{invalid_input} naming `source` and, for PEM,
// which block (its number and line) is wrong: malformed, cut short, or not a certificate.
std::vector<std::string> read_certificates(std::string_view bytes, const std::string& source);

// A private key file's bytes as PKCS#8 PEM in clear: PEM (PKCS#8, encrypted PKCS#8, PKCS#1
// "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY", legacy encrypted) or DER (PKCS#8 or traditional).
// `passphrase` opens an encrypted one. Throws Error{invalid_input} naming `source`.
std::string read_private_key(std::string_view bytes, const std::string& passphrase, const std::string& source);

// The path from a leaf to its root, built from certificates in any order.
struct OrderedChain {
  std::string leaf;                        // PEM
  std::vector<std::string> intermediates;  // PEM, the leaf's issuer first; no root
  bool reordered = false;                  // the input did not list them leaf first, issuer next
  std::vector<std::string> notes;          // what was dropped and why ("the root ... is not served")
};

// Orders `certificates` (PEM blocks; the leaf is the one that carries `key_pem`'s public key,
// else the first that is not a CA) into leaf -> issuer -> ... A link holds when the issuer's
// subject is the child's issuer and its key verifies the child's signature. The path must end
// at a self-signed root in the bundle (dropped, with a note: servers do not send it) or at a
// certificate issued by a root of the system trust store. Certificates off the path are dropped
// with a note. Throws Error{invalid_input} naming the missing intermediate by its subject (the
// issuer of the last certificate found), and its caIssuers URL when the certificate has one.
OrderedChain order_chain(const std::vector<std::string>& certificates, const std::string& key_pem);

// The first certificate of PEM text in DER (a DER export; revokeCert, RFC 8555 7.6).
std::string certificate_der(std::string_view pem);

struct Pkcs12Options {
  std::string password;       // required
  bool legacy = false;        // PBE-SHA1-3DES for key and certificates, SHA-1 MAC
  std::string friendly_name;  // the alias keytool shows
};
// A PKCS#12 (DER) holding the key, the leaf and the chain. By default what OpenSSL 3 and Java
// (keytool since 8u301) read: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for both bags and
// an HMAC-SHA256 MAC; `legacy` for appliances that know only the old algorithms.
std::string make_pkcs12(const std::string& certificate_pem, const std::string& chain_pem, const std::string& key_pem,
                        const Pkcs12Options& options);

}  // namespace certcli::crypto
