// certcli/crypto.hpp — the only module that touches OpenSSL key, CSR and certificate objects.
// Owns: key generation and PEM I/O, signatures (raw JWS form), CSRs, certificate parsing and
// its RFC 9773 ARI CertID, base64url, SHA-256, JWK and its RFC 7638 thumbprint. Uses OpenSSL 3
// EVP APIs only; no deprecated call, no raw *_free outside src/crypto/.
#pragma once

#include <certcli/clock.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::crypto {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;

enum class KeyType { ec256, ec384, rsa2048, rsa3072, rsa4096 };

// "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096".
std::optional<KeyType> parse_key_type(std::string_view name);
std::string key_type_name(KeyType type);

class PrivateKey {
 public:
  static PrivateKey generate(KeyType type);
  // Throws Error{crypto} when the PEM does not hold a private key. An encrypted PEM needs
  // `passphrase`; a wrong one is reported as such.
  static PrivateKey from_pem(std::string_view pem, const std::string& passphrase = {});

  // PKCS#8 PEM; encrypted (as to_encrypted_pem) when a passphrase is given.
  std::string to_pem(const std::string& passphrase = {}) const;
  // Encrypted PKCS#8 PEM ("BEGIN ENCRYPTED PRIVATE KEY"): PBES2, AES-256-CBC, the key derived
  // with scrypt N=2^14, r=8, p=1 (16 MiB, within the 32 MiB OpenSSL allows when decrypting).
  std::string to_encrypted_pem(const std::string& passphrase) const;
  std::string public_pem() const;
  KeyType type() const;
  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit PrivateKey(PkeyPtr key) : key_(std::move(key)) {}
  PkeyPtr key_;
};

// Whether PEM text holds an encrypted private key (PKCS#8 or a legacy Proc-Type header).
bool is_encrypted_key_pem(std::string_view pem);
// A private key PEM re-encoded: encrypted with `passphrase`, or in clear when it is empty.
// `pem` may itself be encrypted with `current`. Throws as from_pem does.
std::string reencode_key_pem(std::string_view pem, const std::string& current, const std::string& passphrase);
// Overwrites a secret's bytes (OPENSSL_cleanse, which the compiler may not elide), then empties it.
// The whole buffer, up to its capacity: a string that shrank, or was moved from while short,
// still holds bytes past its end.
void wipe(std::string& secret) noexcept;

// The text of a secret (a private key's PEM, a passphrase) in a buffer that wipes itself: its
// destructor and every assignment over it overwrite the bytes (wipe), so a key read, decrypted
// or passed on leaves no copy in freed memory for a later allocation, a crash or a swap file to
// show. Taking a std::string&& keeps its buffer (and wipes what the source may still hold); a
// move copies and wipes the source, since a short string lives inside the object itself.
class SecretString {
 public:
  SecretString() = default;
  SecretString(std::string&& text) noexcept : text_(std::move(text)) { wipe(text); }  // NOLINT: implicit on purpose
  SecretString(const SecretString& other) : text_(other.text_) {}
  SecretString(SecretString&& other) : text_(other.text_) { wipe(other.text_); }
  SecretString& operator=(SecretString other) {
    wipe(text_);
    text_ = other.text_;
    return *this;
  }
  ~SecretString() { wipe(text_); }

  const std::string& str() const { return text_; }
  operator const std::string&() const { return text_; }  // NOLINT: passes where a const string& is taken
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

std::string base64url_encode(std::string_view bytes);
// The OpenSSL this process runs with ("OpenSSL 3.0.15 3 Sep 2024"), for --version.
std::string library_version();
// Throws Error{invalid_input} on characters outside the base64url alphabet.
std::string base64url_decode(std::string_view text);
// Raw 32-byte digest.
std::string sha256(std::string_view bytes);
std::string to_hex(std::string_view bytes);  // lowercase, no separators

// The public JWK (RFC 7517/7518) of a key: {"crv","kty","x","y"} or {"e","kty","n"}.
nlohmann::json public_jwk(const PrivateKey& key);
// RFC 7638: base64url(SHA-256(canonical JSON of the required members in lexical order)).
std::string jwk_thumbprint(const nlohmann::json& jwk);

// The JWS "alg" for a key: ES256 (P-256), ES384 (P-384), RS256 (RSA).
std::string jws_algorithm(const PrivateKey& key);
// Signature over `signing_input` in JWS form (RFC 7518 3.4: ECDSA as fixed-size r||s,
// RSA as PKCS#1 v1.5 with SHA-256). Raw bytes, not base64url.
std::string jws_sign(const PrivateKey& key, std::string_view signing_input);
// Verifies a JWS-form signature with the key's public half (used by tests and self-checks).
bool jws_verify(const PrivateKey& key, std::string_view signing_input, std::string_view signature);

// HMAC (RFC 2104) of `data` under `key` with digest "SHA256", "SHA384" or "SHA512", through
// EVP_MAC. Raw bytes. For External Account Binding (RFC 8555 7.3.4: HS256/HS384/HS512).
std::string hmac(std::string_view digest, std::string_view key, std::string_view data);
// The DER encoding of the first certificate of a PEM bundle (revokeCert, RFC 8555 7.6; also
// declared in certcli/bundle.hpp, defined in src/crypto/bundle.cpp).
std::string certificate_der(std::string_view pem);

// A DER PKCS#10 request signed with `key`: the first name as CN, every name as a dNSName SAN.
std::string make_csr_der(const PrivateKey& key, const std::vector<std::string>& names);

// A CSR someone else made (issue --csr): its DER, and the names it asks for, the subject CN
// first (when there is one) and then each dNSName and iPAddress SAN, without repeats, as written
// (the caller normalizes them).
struct CsrInfo {
  std::string der;
  std::vector<std::string> names;
  std::string public_key_der;  // SubjectPublicKeyInfo
};
// Reads a PEM ("BEGIN CERTIFICATE REQUEST" or "BEGIN NEW CERTIFICATE REQUEST") or DER PKCS#10
// request and verifies its self-signature. Throws Error{crypto} naming what is wrong.
CsrInfo parse_csr(std::string_view pem_or_der);
// Whether the first certificate of `certificate_pem` carries the SubjectPublicKeyInfo `public_key_der`.
bool certificate_has_public_key(std::string_view certificate_pem, std::string_view public_key_der);
// The DER SubjectPublicKeyInfo of the first certificate of `certificate_pem`.
std::string certificate_public_key_der(std::string_view certificate_pem);

struct CertificateInfo {
  std::string subject_common_name;
  std::string issuer_common_name;
  std::string issuer;             // one-line RFC 2253 form
  std::string serial_hex;         // uppercase hex, no separators
  std::vector<std::string> sans;  // dNSName and iPAddress entries, in certificate order
  TimePoint not_before;
  TimePoint not_after;
  std::string sha256_fingerprint;  // uppercase hex with colons, as `openssl x509 -fingerprint`
};

// Splits a PEM bundle into its CERTIFICATE blocks, each with its BEGIN/END lines.
std::vector<std::string> split_pem_certificates(std::string_view bundle);
// Parses the first certificate of a PEM bundle; throws Error{crypto} when there is none.
CertificateInfo parse_certificate(std::string_view pem);
// Whether the first certificate of `certificate_pem` carries the public half of `key`.
bool key_matches_certificate(const PrivateKey& key, std::string_view certificate_pem);

// The ACME Renewal Information CertID of the first certificate of `certificate_pem` (RFC 9773
// 4.1): base64url(Authority Key Identifier keyIdentifier) "." base64url(serial number), where the
// serial is the DER INTEGER's content octets (a leading 0x00 kept when the high bit is set; no tag
// or length), both unpadded. It names the certificate in renewalInfo URLs and in a newOrder's
// "replaces". Throws Error{crypto} when there is no certificate, or when it has no AKI extension
// with a keyIdentifier (a CA that omits it cannot be asked about the certificate).
std::string ari_cert_id(const std::string& certificate_pem);
// The same from its two raw parts, for callers (and tests) that hold them already. Throws
// Error{invalid_input} when either part is empty.
std::string ari_cert_id_from_parts(std::string_view aki_key_id_bytes, std::string_view serial_content_octets);

}  // namespace certcli::crypto
