// Private keys: generation, PKCS#8 PEM I/O and the KeyType a key belongs to.
#include "openssl_util.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <cstring>
#include <vector>

namespace certcli::crypto {
namespace {

// scrypt parameters of every encrypted key: N=2^14, r=8, p=1 costs 16 MiB and tens of
// milliseconds per derivation; N=2^15 would pass the 32 MiB cap OpenSSL's PKCS#8 decoder sets
// (the same values `openssl pkcs8 -scrypt` uses).
constexpr std::uint64_t kScryptN = 1u << 14;
constexpr std::uint64_t kScryptR = 8;
constexpr std::uint64_t kScryptP = 1;

using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<PKCS8_PRIV_KEY_INFO_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR_free>>;
using SigPtr = std::unique_ptr<X509_SIG, Deleter<X509_SIG_free>>;

const char* const kSupported = "supported key types are ec256, ec384, rsa2048, rsa3072 and rsa4096";

struct PassphraseState {
  const std::string* passphrase;
  bool asked = false;  // OpenSSL only asks when the PEM is actually encrypted.
};

// Never let OpenSSL fall back to its default callback, which would prompt on the terminal.
int passphrase_callback(char* buffer, int size, int /*rwflag*/, void* user) {
  auto* state = static_cast<PassphraseState*>(user);
  state->asked = true;
  const std::string& pass = *state->passphrase;
  if (pass.empty() || pass.size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buffer, pass.data(), pass.size());
  return static_cast<int>(pass.size());
}

std::optional<KeyType> classify(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length) != 1) {
      detail::drain_openssl_errors();
      return std::nullopt;
    }
    std::string_view name(group, length);
    if (name == SN_X9_62_prime256v1 || name == "P-256") return KeyType::ec256;
    if (name == SN_secp384r1 || name == "P-384") return KeyType::ec384;
    return std::nullopt;
  }
  // "RSA" only: RSA-PSS keys cannot sign RS256 (RFC 7518 3.3 is PKCS#1 v1.5).
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048: return KeyType::rsa2048;
      case 3072: return KeyType::rsa3072;
      case 4096: return KeyType::rsa4096;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string describe(EVP_PKEY* key) {
  const char* name = EVP_PKEY_get0_type_name(key);
  return std::string(name ? name : "unknown") + " " + std::to_string(EVP_PKEY_get_bits(key)) + "-bit";
}

}  // namespace

bool is_encrypted_key_pem(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

std::string reencode_key_pem(std::string_view pem, const std::string& current, const std::string& passphrase) {
  return PrivateKey::from_pem(pem, current).to_pem(passphrase);
}

void wipe(std::string& secret) noexcept {
  secret.resize(secret.capacity());  // within the capacity: no allocation, nothing thrown
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

std::optional<KeyType> parse_key_type(std::string_view name) {
  if (name == "ec256") return KeyType::ec256;
  if (name == "ec384") return KeyType::ec384;
  if (name == "rsa2048") return KeyType::rsa2048;
  if (name == "rsa3072") return KeyType::rsa3072;
  if (name == "rsa4096") return KeyType::rsa4096;
  return std::nullopt;
}

std::string key_type_name(KeyType type) {
  switch (type) {
    case KeyType::ec256: return "ec256";
    case KeyType::ec384: return "ec384";
    case KeyType::rsa2048: return "rsa2048";
    case KeyType::rsa3072: return "rsa3072";
    case KeyType::rsa4096: return "rsa4096";
  }
  throw Error(ErrorKind::internal, "unknown KeyType value " + std::to_string(static_cast<int>(type)));
}

PrivateKey PrivateKey::generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    // RFC 7518 3.4 pairs P-256 with ES256 and P-384 with ES384.
    case KeyType::ec256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::ec384: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::rsa2048: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)); break;
    case KeyType::rsa3072: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(3072)); break;
    case KeyType::rsa4096: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(4096)); break;
  }
  PkeyPtr key(raw);
  if (!key) detail::throw_openssl("cannot generate a " + key_type_name(type) + " key");
  return PrivateKey(std::move(key));
}

PrivateKey PrivateKey::from_pem(std::string_view pem, const std::string& passphrase) {
  auto bio = detail::read_bio(pem);
  PassphraseState state{&passphrase};
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &state));
  if (!key) {
    bool encrypted = state.asked || is_encrypted_key_pem(pem);
    if (encrypted && passphrase.empty()) {
      detail::drain_openssl_errors();
      throw Error(ErrorKind::crypto, "the private key is encrypted and no passphrase was given",
                  "supply the key's passphrase");
    }
    if (encrypted) {
      detail::drain_openssl_errors();
      throw Error(ErrorKind::crypto, "wrong passphrase for the encrypted private key",
                  "check the passphrase; it is case-sensitive");
    }
    detail::throw_openssl("no private key found in the PEM data",
                          "expected a '-----BEGIN PRIVATE KEY-----' (or EC/RSA PRIVATE KEY) block");
  }
  if (!classify(key.get())) {
    throw Error(ErrorKind::crypto, "unsupported private key: " + describe(key.get()), kSupported);
  }
  return PrivateKey(std::move(key));
}

std::string PrivateKey::to_pem(const std::string& passphrase) const {
  if (!passphrase.empty()) return to_encrypted_pem(passphrase);
  auto bio = detail::write_bio();
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    detail::throw_openssl("cannot encode the private key as PEM");
  return detail::bio_contents(bio.get());
}

// PEM_write_bio_PKCS8PrivateKey and OSSL_ENCODER derive the key with PBKDF2 only; scrypt takes
// building the PBES2 parameters ourselves (RFC 8018 6.2, RFC 7914 7).
std::string PrivateKey::to_encrypted_pem(const std::string& passphrase) const {
  if (passphrase.empty()) throw Error(ErrorKind::internal, "to_encrypted_pem needs a passphrase");
  if (passphrase.size() > 1024)
    throw Error(ErrorKind::invalid_input, "the passphrase is longer than 1024 bytes", "use a shorter passphrase");
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key_.get()));
  if (!info) detail::throw_openssl("cannot encode the private key as PKCS#8");
  AlgorPtr pbe(PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), nullptr, 0, nullptr, kScryptN, kScryptR, kScryptP));
  if (!pbe) detail::throw_openssl("cannot set up scrypt for the private key's encryption");
  SigPtr encrypted(PKCS8_set0_pbe(passphrase.data(), static_cast<int>(passphrase.size()), info.get(), pbe.get()));
  if (!encrypted) detail::throw_openssl("cannot encrypt the private key");
  pbe.release();  // owned by `encrypted` now
  auto bio = detail::write_bio();
  if (PEM_write_bio_PKCS8(bio.get(), encrypted.get()) != 1) detail::throw_openssl("cannot encode the encrypted private key as PEM");
  return detail::bio_contents(bio.get());
}

std::string PrivateKey::public_pem() const {
  auto bio = detail::write_bio();
  if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    detail::throw_openssl("cannot encode the public key as PEM");
  }
  return detail::bio_contents(bio.get());
}

KeyType PrivateKey::type() const {
  // from_pem and generate admit supported keys only, so this holds unless the class is misused.
  if (auto type = classify(key_.get())) return *type;
  throw Error(ErrorKind::internal, "private key of unsupported type " + describe(key_.get()));
}

}  // namespace certcli::crypto
