// Private keys: generation, PKCS#8 PEM I/O and the KeyType a key belongs to.
#include "openssl_util.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>
#include <vector>

namespace certcli::crypto {
namespace {

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

bool looks_encrypted(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

}  // namespace

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
    bool encrypted = state.asked || looks_encrypted(pem);
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
  auto bio = detail::write_bio();
  int ok = 0;
  if (passphrase.empty()) {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    // PEM_write_bio_PKCS8PrivateKey takes a non-const buffer; give it a copy, not our string.
    std::vector<char> pass(passphrase.begin(), passphrase.end());
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), EVP_aes_256_cbc(), pass.data(),
                                       static_cast<int>(pass.size()), nullptr, nullptr);
    OPENSSL_cleanse(pass.data(), pass.size());
  }
  if (ok != 1) detail::throw_openssl("cannot encode the private key as PEM");
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
