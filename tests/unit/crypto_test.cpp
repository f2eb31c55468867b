// Keys, JWK/JWS, CSRs and certificate parsing, each cross-checked with OpenSSL directly
// rather than with the module's own inverse functions.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <map>

namespace crypto = certcli::crypto;
using crypto::Deleter;
using crypto::KeyType;

namespace {

void free_extensions(STACK_OF(X509_EXTENSION)* s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
void free_bytes(unsigned char* p) { OPENSSL_free(p); }

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<free_extensions>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using BytesPtr = std::unique_ptr<unsigned char, Deleter<free_bytes>>;

const KeyType kAllTypes[] = {KeyType::ec256, KeyType::ec384, KeyType::rsa2048, KeyType::rsa3072,
                             KeyType::rsa4096};

// Generating RSA keys is slow; tests that only need "a key" share these.
const crypto::PrivateKey& ec_key() {
  static const auto key = crypto::PrivateKey::generate(KeyType::ec256);
  return key;
}
const crypto::PrivateKey& rsa_key() {
  static const auto key = crypto::PrivateKey::generate(KeyType::rsa2048);
  return key;
}

crypto::PkeyPtr public_key_of(const crypto::PrivateKey& key) {
  std::string pem = key.public_pem();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  crypto::PkeyPtr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(pub);
  return pub;
}

bool openssl_verify(EVP_PKEY* pub, const EVP_MD* md, std::string_view data, std::string_view sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pub) == 1);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

// JWS r||s back to the DER SEQUENCE OpenSSL verifies.
std::string raw_to_der(std::string_view raw) {
  int half = static_cast<int>(raw.size() / 2);
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr r(BN_bin2bn(in, half, nullptr));
  BnPtr s(BN_bin2bn(in + half, half, nullptr));
  REQUIRE(ECDSA_SIG_set0(sig.get(), r.get(), s.get()) == 1);
  r.release();  // owned by sig now
  s.release();
  unsigned char* encoded = nullptr;
  int length = i2d_ECDSA_SIG(sig.get(), &encoded);
  BytesPtr der(encoded);
  REQUIRE(length > 0);
  return std::string(reinterpret_cast<char*>(der.get()), static_cast<std::size_t>(length));
}

struct CertSpec {
  std::string common_name = "example.com";
  std::string san = "DNS:example.com, DNS:www.example.com, IP:192.0.2.1, IP:2001:db8::1";
  long serial = 0x0123456789ABCDEF;
  std::time_t not_before = 1767323045;  // 2026-01-02T03:04:05Z
  std::time_t not_after = 1775099045;   // 2026-04-02T03:04:05Z
};

// A self-signed certificate built with plain X509 APIs, independent of the module.
crypto::X509Ptr make_certificate(const crypto::PrivateKey& key, const CertSpec& spec) {
  crypto::X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), spec.serial) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>("Test CA"), -1, -1, 0) == 1);
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1,
                                     0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()), spec.not_before) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(cert.get()), spec.not_after) != nullptr);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, spec.san.c_str()));
  REQUIRE(ext);
  REQUIRE(X509_add_ext(cert.get(), ext.get(), -1) == 1);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  return cert;
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

template <class F>
certcli::ErrorKind error_kind_of(F&& f) {
  try {
    f();
  } catch (const certcli::Error& e) {
    return e.kind();
  }
  FAIL("no certcli::Error was thrown");
  return certcli::ErrorKind::internal;
}

}  // namespace

// ---- encoding ----

TEST_CASE("base64url_encode matches the RFC 4648 test vectors without padding", "[crypto][base64url]") {
  const std::map<std::string, std::string> vectors = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CHECK(crypto::base64url_encode(plain) == encoded);
    CHECK(crypto::base64url_decode(encoded) == plain);
  }
}

TEST_CASE("base64url uses - and _ where base64 uses + and /", "[crypto][base64url]") {
  CHECK(crypto::base64url_encode("\xfb\xff") == "-_8");
  CHECK(crypto::base64url_encode("\xfb\xef\xbe") == "----");
  CHECK(crypto::base64url_encode("\xff\xff\xff") == "____");
  CHECK(crypto::base64url_decode("-_8") == "\xfb\xff");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string encoded = crypto::base64url_encode(all);
  CHECK(encoded.find_first_of("+/=") == std::string::npos);
  CHECK(crypto::base64url_decode(encoded) == all);
}

TEST_CASE("base64url_decode rejects characters outside the url alphabet", "[crypto][base64url]") {
  for (const char* bad : {"Zm9v+g", "Zm9v/g", "Zg==", "Zm 9v", "Zm9v\n", "Zm9v\xc3\xa9", "Z"}) {
    INFO(bad);
    CHECK(error_kind_of([&] { crypto::base64url_decode(bad); }) == certcli::ErrorKind::invalid_input);
  }
}

TEST_CASE("sha256 and to_hex give the FIPS 180-2 digest of abc", "[crypto]") {
  std::string digest = crypto::sha256("abc");
  CHECK(digest.size() == 32);
  CHECK(crypto::to_hex(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::to_hex(std::string("\x00\x0f\xf0", 3)) == "000ff0");
}

// ---- key types and PEM ----

TEST_CASE("key type names parse and print symmetrically", "[crypto][key]") {
  for (KeyType type : kAllTypes) CHECK(crypto::parse_key_type(crypto::key_type_name(type)) == type);
  CHECK_FALSE(crypto::parse_key_type("rsa1024").has_value());
  CHECK_FALSE(crypto::parse_key_type("EC256").has_value());
  CHECK_FALSE(crypto::parse_key_type("").has_value());
}

TEST_CASE("every key type generates and round-trips through plain and encrypted PEM", "[crypto][key]") {
  for (KeyType type : kAllTypes) {
    INFO(crypto::key_type_name(type));
    auto key = crypto::PrivateKey::generate(type);
    CHECK(key.type() == type);

    std::string pem = key.to_pem();
    CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);  // PKCS#8
    auto back = crypto::PrivateKey::from_pem(pem);
    CHECK(back.type() == type);
    CHECK(EVP_PKEY_eq(back.get(), key.get()) == 1);
    CHECK(back.to_pem() == pem);

    std::string encrypted = key.to_pem("correct horse");
    CHECK(encrypted.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0) == 0);
    auto decrypted = crypto::PrivateKey::from_pem(encrypted, "correct horse");
    CHECK(EVP_PKEY_eq(decrypted.get(), key.get()) == 1);
    CHECK(decrypted.public_pem() == key.public_pem());
  }
}

TEST_CASE("an encrypted PEM with a wrong or missing passphrase throws a crypto error", "[crypto][key]") {
  std::string encrypted = ec_key().to_pem("secret");
  try {
    crypto::PrivateKey::from_pem(encrypted, "not the secret");
    FAIL("wrong passphrase accepted");
  } catch (const certcli::Error& e) {
    CHECK(e.kind() == certcli::ErrorKind::crypto);
    CHECK_THAT(e.what(), Catch::Contains("passphrase"));
  }
  try {
    crypto::PrivateKey::from_pem(encrypted);
    FAIL("missing passphrase accepted");
  } catch (const certcli::Error& e) {
    CHECK(e.kind() == certcli::ErrorKind::crypto);
    CHECK_THAT(e.what(), Catch::Contains("passphrase"));
  }
}

TEST_CASE("from_pem rejects data without a private key", "[crypto][key]") {
  CHECK(error_kind_of([] { crypto::PrivateKey::from_pem("hello"); }) == certcli::ErrorKind::crypto);
  CHECK(error_kind_of([] { crypto::PrivateKey::from_pem(ec_key().public_pem()); }) ==
        certcli::ErrorKind::crypto);
}

TEST_CASE("from_pem rejects key types certcli cannot sign with", "[crypto][key]") {
  crypto::PkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), ed.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(size));
  CHECK(error_kind_of([&] { crypto::PrivateKey::from_pem(pem); }) == certcli::ErrorKind::crypto);
}

// ---- JWK and thumbprint ----

TEST_CASE("jwk_thumbprint reproduces the RFC 7638 section 3.1 example", "[crypto][jwk]") {
  nlohmann::json jwk = {
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n"
       "3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zg"
       "dAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFC"
       "ur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"},
  };
  CHECK(crypto::jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST_CASE("jwk_thumbprint rejects JWKs missing a required member", "[crypto][jwk]") {
  CHECK(error_kind_of([] { crypto::jwk_thumbprint({{"kty", "RSA"}, {"n", "AQAB"}}); }) ==
        certcli::ErrorKind::invalid_input);
  CHECK(error_kind_of([] { crypto::jwk_thumbprint({{"kty", "OKP"}, {"x", "AA"}}); }) ==
        certcli::ErrorKind::invalid_input);
  CHECK(error_kind_of([] { crypto::jwk_thumbprint(nlohmann::json::array()); }) ==
        certcli::ErrorKind::invalid_input);
}

TEST_CASE("public_jwk of an EC key holds the curve point padded to the field size", "[crypto][jwk]") {
  for (auto [type, crv, size] : {std::tuple{KeyType::ec256, "P-256", 32}, std::tuple{KeyType::ec384, "P-384", 48}}) {
    auto key = crypto::PrivateKey::generate(type);
    auto jwk = crypto::public_jwk(key);
    CHECK(jwk.size() == 4);
    CHECK(jwk["kty"] == "EC");
    CHECK(jwk["crv"] == crv);
    std::string x = crypto::base64url_decode(jwk["x"].get<std::string>());
    std::string y = crypto::base64url_decode(jwk["y"].get<std::string>());
    CHECK(x.size() == static_cast<std::size_t>(size));
    CHECK(y.size() == static_cast<std::size_t>(size));
    // OpenSSL's uncompressed point encoding is 0x04 || X || Y.
    unsigned char point[1 + 2 * 48];
    std::size_t length = 0;
    REQUIRE(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &length) == 1);
    CHECK(std::string(reinterpret_cast<char*>(point), length) == "\x04" + x + y);
    CHECK(crypto::jws_algorithm(key) == (type == KeyType::ec256 ? "ES256" : "ES384"));
  }
}

TEST_CASE("public_jwk keeps EC coordinates 32 bytes when they start with a zero byte", "[crypto][jwk]") {
  bool found = false;
  for (int i = 0; i < 3000 && !found; ++i) {
    auto key = crypto::PrivateKey::generate(KeyType::ec256);
    auto jwk = crypto::public_jwk(key);
    for (const char* member : {"x", "y"}) {
      std::string coordinate = crypto::base64url_decode(jwk[member].get<std::string>());
      REQUIRE(coordinate.size() == 32);
      if (coordinate[0] == '\0') found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("public_jwk of an RSA key holds minimal big-endian n and e", "[crypto][jwk]") {
  auto jwk = crypto::public_jwk(rsa_key());
  CHECK(jwk.size() == 3);
  CHECK(jwk["kty"] == "RSA");
  CHECK(jwk["e"] == "AQAB");
  std::string n = crypto::base64url_decode(jwk["n"].get<std::string>());
  CHECK(n.size() == 256);
  CHECK(n[0] != '\0');
  CHECK(crypto::jws_algorithm(rsa_key()) == "RS256");
}

TEST_CASE("jwk_thumbprint depends only on the required members", "[crypto][jwk]") {
  auto jwk = crypto::public_jwk(ec_key());
  std::string thumbprint = crypto::jwk_thumbprint(jwk);
  CHECK(thumbprint.size() == 43);
  auto extended = jwk;
  extended["kid"] = "anything";
  extended["use"] = "sig";
  CHECK(crypto::jwk_thumbprint(extended) == thumbprint);
  std::string expected = crypto::base64url_encode(crypto::sha256(
      R"({"crv":"P-256","kty":"EC","x":")" + jwk["x"].get<std::string>() + R"(","y":")" +
      jwk["y"].get<std::string>() + R"("})"));
  CHECK(thumbprint == expected);
}

// ---- JWS signatures ----

TEST_CASE("an ES256 JWS signature is 64 bytes of r||s that OpenSSL verifies", "[crypto][jws]") {
  const std::string input = "eyJhbGciOiJFUzI1NiJ9.eyJoZWxsbyI6IndvcmxkIn0";
  std::string signature = crypto::jws_sign(ec_key(), input);
  REQUIRE(signature.size() == 64);
  auto pub = public_key_of(ec_key());
  std::string der = raw_to_der(signature);
  CHECK(openssl_verify(pub.get(), EVP_sha256(), input, der));
  CHECK_FALSE(openssl_verify(pub.get(), EVP_sha256(), input + "x", der));
  std::string flipped = signature;
  flipped[10] = static_cast<char>(flipped[10] ^ 0x01);
  CHECK_FALSE(openssl_verify(pub.get(), EVP_sha256(), input, raw_to_der(flipped)));
}

TEST_CASE("an ES384 JWS signature is 96 bytes of r||s that OpenSSL verifies with SHA-384", "[crypto][jws]") {
  auto key = crypto::PrivateKey::generate(KeyType::ec384);
  std::string signature = crypto::jws_sign(key, "payload");
  REQUIRE(signature.size() == 96);
  auto pub = public_key_of(key);
  CHECK(openssl_verify(pub.get(), EVP_sha384(), "payload", raw_to_der(signature)));
}

TEST_CASE("an RS256 JWS signature is PKCS#1 v1.5 with SHA-256 that OpenSSL verifies", "[crypto][jws]") {
  const std::string input = "eyJhbGciOiJSUzI1NiJ9.eyJoZWxsbyI6IndvcmxkIn0";
  std::string signature = crypto::jws_sign(rsa_key(), input);
  REQUIRE(signature.size() == 256);
  auto pub = public_key_of(rsa_key());
  CHECK(openssl_verify(pub.get(), EVP_sha256(), input, signature));
  CHECK_FALSE(openssl_verify(pub.get(), EVP_sha256(), "eyJhbGciOiJSUzI1NiJ9.eyJoZWxsbyI6IndvcmxkIn1", signature));
  // PKCS#1 v1.5 is deterministic, unlike ECDSA.
  CHECK(crypto::jws_sign(rsa_key(), input) == signature);
}

TEST_CASE("jws_verify accepts its own signatures and rejects tampering", "[crypto][jws]") {
  for (const crypto::PrivateKey* key : {&ec_key(), &rsa_key()}) {
    std::string signature = crypto::jws_sign(*key, "a.b");
    CHECK(crypto::jws_verify(*key, "a.b", signature));
    CHECK_FALSE(crypto::jws_verify(*key, "a.c", signature));
    std::string tampered = signature;
    tampered.back() = static_cast<char>(tampered.back() ^ 0x80);
    CHECK_FALSE(crypto::jws_verify(*key, "a.b", tampered));
    CHECK_FALSE(crypto::jws_verify(*key, "a.b", signature.substr(1)));
    CHECK_FALSE(crypto::jws_verify(*key, "a.b", ""));
  }
  CHECK_FALSE(crypto::jws_verify(ec_key(), "a.b", crypto::jws_sign(crypto::PrivateKey::generate(KeyType::ec256), "a.b")));
}

// ---- CSR ----

TEST_CASE("make_csr_der produces a signed CSR whose SANs OpenSSL reads back", "[crypto][csr]") {
  for (const crypto::PrivateKey* key : {&ec_key(), &rsa_key()}) {
    std::vector<std::string> names = {"example.com", "www.example.com", "192.0.2.7", "2001:db8::2"};
    std::string der = crypto::make_csr_der(*key, names);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509ReqPtr request(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(request);
    CHECK(X509_REQ_verify(request.get(), X509_REQ_get0_pubkey(request.get())) == 1);
    CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(request.get()), key->get()) == 1);
    CHECK(X509_REQ_get_signature_nid(request.get()) ==
          (key == &ec_key() ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption));

    X509_NAME* subject = X509_REQ_get_subject_name(request.get());
    char cn[256] = {};
    REQUIRE(X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn) > 0);
    CHECK(std::string(cn) == "example.com");

    ExtStackPtr extensions(X509_REQ_get_extensions(request.get()));
    REQUIRE(extensions);
    GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(X509V3_get_d2i(extensions.get(), NID_subject_alt_name, nullptr, nullptr)));
    REQUIRE(sans);
    REQUIRE(sk_GENERAL_NAME_num(sans.get()) == 4);
    auto text = [&](int i, int type) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      REQUIRE(name->type == type);
      const ASN1_STRING* value = type == GEN_DNS ? name->d.dNSName : name->d.iPAddress;
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                         static_cast<std::size_t>(ASN1_STRING_length(value)));
    };
    CHECK(text(0, GEN_DNS) == "example.com");
    CHECK(text(1, GEN_DNS) == "www.example.com");
    CHECK(text(2, GEN_IPADD) == std::string("\xc0\x00\x02\x07", 4));
    CHECK(text(3, GEN_IPADD) == std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16));
  }
}

TEST_CASE("make_csr_der omits the CN when the first name exceeds 64 characters", "[crypto][csr]") {
  std::string long_name = std::string(60, 'a') + ".example.com";
  std::string der = crypto::make_csr_der(ec_key(), {long_name});
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr request(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(request);
  CHECK(X509_NAME_get_index_by_NID(X509_REQ_get_subject_name(request.get()), NID_commonName, -1) < 0);
  CHECK(X509_REQ_verify(request.get(), X509_REQ_get0_pubkey(request.get())) == 1);
}

TEST_CASE("make_csr_der treats dotted names that are not addresses as DNS names", "[crypto][csr]") {
  std::string der = crypto::make_csr_der(ec_key(), {"1.2.3.4.example.com"});
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr request(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(request);
  ExtStackPtr extensions(X509_REQ_get_extensions(request.get()));
  GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(X509V3_get_d2i(extensions.get(), NID_subject_alt_name, nullptr, nullptr)));
  REQUIRE(sans);
  CHECK(sk_GENERAL_NAME_value(sans.get(), 0)->type == GEN_DNS);
}

TEST_CASE("make_csr_der rejects an empty name list and unusable names", "[crypto][csr]") {
  CHECK(error_kind_of([] { crypto::make_csr_der(ec_key(), {}); }) == certcli::ErrorKind::invalid_input);
  CHECK(error_kind_of([] { crypto::make_csr_der(ec_key(), {"example.com", ""}); }) ==
        certcli::ErrorKind::invalid_input);
  CHECK(error_kind_of([] { crypto::make_csr_der(ec_key(), {"b\xc3\xbc" "cher.example"}); }) ==
        certcli::ErrorKind::invalid_input);
}

// ---- certificates ----

TEST_CASE("parse_certificate reads every field of a self-signed certificate", "[crypto][cert]") {
  CertSpec spec;
  auto cert = make_certificate(ec_key(), spec);
  std::string pem = to_pem(cert.get());
  auto info = crypto::parse_certificate(pem);

  CHECK(info.subject_common_name == "example.com");
  CHECK(info.issuer_common_name == "example.com");
  CHECK(info.issuer == "CN=example.com,O=Test CA");
  CHECK(info.serial_hex == "0123456789ABCDEF");
  CHECK(info.sans == std::vector<std::string>{"example.com", "www.example.com", "192.0.2.1", "2001:db8::1"});
  CHECK(info.not_before == certcli::parse_rfc3339("2026-01-02T03:04:05Z"));
  CHECK(info.not_after == certcli::parse_rfc3339("2026-04-02T03:04:05Z"));

  // The fingerprint is SHA-256 over the DER certificate, "AB:CD:..." like openssl x509 -fingerprint.
  unsigned char* raw = nullptr;
  int length = i2d_X509(cert.get(), &raw);
  BytesPtr der(raw);
  REQUIRE(length > 0);
  std::string digest =
      crypto::sha256(std::string(reinterpret_cast<char*>(der.get()), static_cast<std::size_t>(length)));
  std::string expected;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    if (i) expected += ':';
    std::string hex = crypto::to_hex(digest.substr(i, 1));
    for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    expected += hex;
  }
  CHECK(info.sha256_fingerprint == expected);
  CHECK(info.sha256_fingerprint.size() == 32 * 3 - 1);
}

TEST_CASE("parse_certificate handles a certificate without SANs or a small serial", "[crypto][cert]") {
  CertSpec spec;
  spec.serial = 10;
  spec.san = "email:admin@example.com";
  auto info = crypto::parse_certificate(to_pem(make_certificate(rsa_key(), spec).get()));
  CHECK(info.sans.empty());
  CHECK(info.serial_hex == "0A");
}

TEST_CASE("parse_certificate throws a crypto error when there is no certificate", "[crypto][cert]") {
  CHECK(error_kind_of([] { crypto::parse_certificate(""); }) == certcli::ErrorKind::crypto);
  CHECK(error_kind_of([] { crypto::parse_certificate(ec_key().public_pem()); }) == certcli::ErrorKind::crypto);
  CHECK(error_kind_of([] {
          crypto::parse_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        }) == certcli::ErrorKind::crypto);
}

TEST_CASE("split_pem_certificates returns each certificate of a bundle in order", "[crypto][cert]") {
  CertSpec leaf;
  CertSpec issuer;
  issuer.common_name = "Test Intermediate";
  issuer.serial = 2;
  std::string leaf_pem = to_pem(make_certificate(ec_key(), leaf).get());
  std::string issuer_pem = to_pem(make_certificate(rsa_key(), issuer).get());
  std::string bundle = "leading text\n" + leaf_pem + "\n" + issuer_pem + "trailing\n";

  auto blocks = crypto::split_pem_certificates(bundle);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0] == leaf_pem);
  CHECK(blocks[1] == issuer_pem);
  CHECK(crypto::parse_certificate(blocks[1]).subject_common_name == "Test Intermediate");
  CHECK(crypto::parse_certificate(bundle).subject_common_name == "example.com");
  CHECK(crypto::split_pem_certificates("no certificates here").empty());
}

TEST_CASE("key_matches_certificate tells the certificate's key from others", "[crypto][cert]") {
  std::string pem = to_pem(make_certificate(ec_key(), CertSpec{}).get());
  CHECK(crypto::key_matches_certificate(ec_key(), pem));
  CHECK_FALSE(crypto::key_matches_certificate(crypto::PrivateKey::generate(KeyType::ec256), pem));
  CHECK_FALSE(crypto::key_matches_certificate(rsa_key(), pem));
  std::string rsa_pem = to_pem(make_certificate(rsa_key(), CertSpec{}).get());
  CHECK(crypto::key_matches_certificate(rsa_key(), rsa_pem));
  CHECK_FALSE(crypto::key_matches_certificate(ec_key(), rsa_pem));
}
