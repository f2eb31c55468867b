// Public JWKs (RFC 7517, members from RFC 7518 section 6) and their RFC 7638 thumbprints.
#include "openssl_util.hpp"

#include <openssl/core_names.h>

#include <vector>

namespace certcli::crypto {
namespace {

detail::BnPtr get_bn(const PrivateKey& key, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), param, &raw) != 1) {
    detail::throw_openssl(std::string("cannot read the public key parameter '") + param + "'");
  }
  return detail::BnPtr(raw);
}

// RFC 7518 6.2.1.2: EC coordinates are exactly the field size, left-padded with zeros, so a
// coordinate that happens to start with 0x00 still encodes to the same length.
std::string padded(const BIGNUM* bn, int size) {
  std::string out(static_cast<std::size_t>(size), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size) != size) {
    detail::throw_openssl("EC coordinate does not fit the curve's field size");
  }
  return out;
}

// RFC 7518 6.3.1: RSA "n" and "e" are unsigned big-endian in the fewest octets.
std::string minimal(const BIGNUM* bn) {
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

const std::string& required_string(const nlohmann::json& jwk, const char* member) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string()) {
    throw Error(ErrorKind::invalid_input, std::string("JWK lacks the string member \"") + member + "\"",
                "a thumbprint needs every member RFC 7638 section 3.2 requires for the key type");
  }
  return it->get_ref<const std::string&>();
}

}  // namespace

nlohmann::json public_jwk(const PrivateKey& key) {
  switch (key.type()) {
    case KeyType::ec256:
    case KeyType::ec384: {
      bool p256 = key.type() == KeyType::ec256;
      int size = p256 ? 32 : 48;
      auto x = get_bn(key, OSSL_PKEY_PARAM_EC_PUB_X);
      auto y = get_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y);
      return {{"crv", p256 ? "P-256" : "P-384"},
              {"kty", "EC"},
              {"x", base64url_encode(padded(x.get(), size))},
              {"y", base64url_encode(padded(y.get(), size))}};
    }
    case KeyType::rsa2048:
    case KeyType::rsa3072:
    case KeyType::rsa4096: {
      auto n = get_bn(key, OSSL_PKEY_PARAM_RSA_N);
      auto e = get_bn(key, OSSL_PKEY_PARAM_RSA_E);
      return {{"e", base64url_encode(minimal(e.get()))},
              {"kty", "RSA"},
              {"n", base64url_encode(minimal(n.get()))}};
    }
  }
  throw Error(ErrorKind::internal, "public_jwk: unhandled key type");
}

std::string jwk_thumbprint(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    throw Error(ErrorKind::invalid_input, "a JWK must be a JSON object", "pass the key's public JWK");
  }
  const std::string& kty = required_string(jwk, "kty");
  // RFC 7638 3.2: only the required members, so optional ones ("alg", "kid", ...) never change
  // the thumbprint.
  std::vector<const char*> members;
  if (kty == "EC") {
    members = {"crv", "kty", "x", "y"};
  } else if (kty == "RSA") {
    members = {"e", "kty", "n"};
  } else if (kty == "oct") {
    members = {"k", "kty"};
  } else {
    throw Error(ErrorKind::invalid_input, "unsupported JWK key type \"" + kty + "\"",
                "thumbprints are defined here for EC, RSA and oct keys");
  }
  // RFC 7638 3.3: lexical member order, no whitespace. nlohmann::json's std::map object keeps
  // keys sorted byte-wise, and dump() with no indent emits no whitespace.
  nlohmann::json canonical = nlohmann::json::object();
  for (const char* member : members) canonical[member] = required_string(jwk, member);
  return base64url_encode(sha256(canonical.dump()));
}

}  // namespace certcli::crypto
