// Reading what an operator uploads: every refusal names the file and, for PEM, the block.
#include <certcli/bundle.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>

using certcli::Error;
using certcli::crypto::read_certificates;
using certcli::crypto::read_private_key;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("an upload of garbage names the file and says it is neither PEM nor DER") {
  CHECK(message_of([] { read_certificates("\x01\x02garbage", "cert.bin"); }) ==
        "cert.bin holds no certificate: it is neither PEM (no '-----BEGIN CERTIFICATE-----' line) nor a DER certificate");
  CHECK(message_of([] { read_certificates("  \n", "empty.pem"); }) == "empty.pem is empty");
}

TEST_CASE("an upload names the PEM block that is wrong, by number and line") {
  const std::string text = "junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  CHECK(message_of([&] { read_certificates(text, "c.pem"); }) == "c.pem: block 1 (line 2) is a PRIVATE KEY, not a CERTIFICATE");
  const std::string cut = "-----BEGIN CERTIFICATE-----\nAAAA\n";
  CHECK(message_of([&] { read_certificates(cut, "c.pem"); }) ==
        "c.pem: block 1 (line 1) is cut short: '-----BEGIN CERTIFICATE-----' has no END line");
  const std::string bad = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  CHECK(message_of([&] { read_certificates(bad, "c.pem"); }).starts_with("c.pem: block 1 (line 1) is not a valid certificate"));
}

TEST_CASE("a key file without a key is refused naming the file") {
  CHECK(message_of([] { read_private_key("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", {}, "k.pem"); }) ==
        "k.pem holds no PRIVATE KEY block");
  CHECK(message_of([] { read_private_key("\x30\x03\x02\x01\x00", {}, "k.der") ; }).starts_with("k.der holds no private key"));
}

TEST_CASE("a PKCS#1, SEC1 or PKCS#8 key comes back as PKCS#8 in clear") {
  auto key = certcli::crypto::PrivateKey::generate(certcli::crypto::KeyType::ec256);
  std::string pem = key.to_pem();
  CHECK(read_private_key(pem, {}, "k.pem") == pem);
  std::string encrypted = key.to_pem("pass phrase");
  CHECK(read_private_key(encrypted, "pass phrase", "k.pem") == pem);
  CHECK(message_of([&] { read_private_key(encrypted, "", "k.pem"); }).starts_with("k.pem: the private key is encrypted"));
}
