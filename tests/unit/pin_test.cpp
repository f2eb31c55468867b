// Certificate pinning: pins equal OpenSSL's own pipeline, the pin table's file and rules, the
// import formats, and the pin-safe renewal decision.
#include "temp_dir.hpp"

#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/pin.hpp>
#include <certcli/process.hpp>
#include <certcli/spki.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace certcli;
using certcli::testing::TempDir;

namespace {

// Runs `script` with /bin/sh in `dir` and returns its standard output, trimmed. The fixtures are
// made by the openssl binary, not by certcli, so the comparison is with an independent tool.
std::string sh(const std::filesystem::path& dir, const std::string& script) {
  process::Command command;
  command.argv = {"/bin/sh", "-c", "cd '" + dir.string() + "' && " + script};
  process::Result result = process::run(command);
  INFO(script << "\n" << result.err);
  REQUIRE(result.succeeded());
  std::string out = result.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A self-signed certificate of a new key, as PEM (cert.pem, key.pem) and DER (cert.der).
void make_certificate(const std::filesystem::path& dir, const std::string& keygen) {
  sh(dir, "openssl " + keygen + " -out key.pem 2>/dev/null && "
          "openssl req -x509 -new -key key.pem -subj /CN=pin.test -days 30 -out cert.pem 2>/dev/null && "
          "openssl x509 -in cert.pem -outform der -out cert.der");
}

std::string openssl_pin(const std::filesystem::path& dir, const std::string& x509_args) {
  return sh(dir, "openssl x509 " + x509_args + " -pubkey -noout | openssl pkey -pubin -outform der | "
                 "openssl dgst -sha256 -binary | base64");
}

std::string pin_of(const std::filesystem::path& file) {
  return crypto::pinned_object(files::read_file(file), {}, file.string()).pin;
}

const std::string kPinA = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";  // SHA-256 of ""
const std::string kPinB = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";  // SHA-256 of "hello"
const std::string kPinC = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";  // SHA-256 of "abc"

}  // namespace

TEST_CASE("the pin of an EC certificate equals OpenSSL's, from PEM and from DER") {
  TempDir dir;
  make_certificate(dir.path, "ecparam -name prime256v1 -genkey -noout");
  const std::string expected = openssl_pin(dir.path, "-in cert.pem");
  REQUIRE(expected.size() == 44);
  CHECK(pin_of(dir.path / "cert.pem") == expected);
  CHECK(pin_of(dir.path / "cert.der") == expected);
  CHECK(openssl_pin(dir.path, "-inform der -in cert.der") == expected);
  CHECK(pin_of(dir.path / "key.pem") == expected);  // the key's pin is its certificate's
}

TEST_CASE("the pin of an RSA certificate equals OpenSSL's, from PEM and from DER") {
  TempDir dir;
  make_certificate(dir.path, "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048");
  const std::string expected = openssl_pin(dir.path, "-in cert.pem");
  CHECK(pin_of(dir.path / "cert.pem") == expected);
  CHECK(pin_of(dir.path / "cert.der") == expected);
  CHECK(pin_of(dir.path / "key.pem") == expected);
  sh(dir.path, "openssl pkey -in key.pem -pubout -out pub.pem");
  CHECK(pin_of(dir.path / "pub.pem") == expected);
  CHECK(crypto::pinned_object(files::read_file(dir.path / "cert.der"), {}, "cert.der").kind == "certificate");
}

TEST_CASE("two keys have different pins, and a file that holds no key is refused naming it") {
  TempDir a, b;
  make_certificate(a.path, "ecparam -name prime256v1 -genkey -noout");
  make_certificate(b.path, "ecparam -name prime256v1 -genkey -noout");
  CHECK(pin_of(a.path / "cert.pem") != pin_of(b.path / "cert.pem"));
  CHECK_THROWS_WITH(crypto::pinned_object("hello", {}, "notes.txt"),
                    Catch::Contains("notes.txt holds no certificate, private key or public key"));
}

TEST_CASE("a pin is padded base64 of exactly 32 bytes") {
  CHECK(pin::is_pin(kPinA));
  CHECK_FALSE(pin::is_pin(kPinA.substr(0, 43)));
  CHECK_FALSE(pin::is_pin("aGVsbG8="));  // base64, but 5 bytes
  CHECK_FALSE(pin::is_pin("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="));  // base64url is not the pin alphabet
}

TEST_CASE("pin import reads one pin per line and HPKP pin-sha256 lists, and names the bad line") {
  const std::string text = "# pins of the app\n" + kPinA + "\n\n"
                           "Public-Key-Pins: pin-sha256=\"" + kPinB + "\"; pin-sha256=\"" + kPinC +
                           "\"; max-age=5184000; includeSubDomains\n" + kPinA + "  # again\n";
  CHECK(pin::parse_pin_list(text, "pins.txt") == std::vector<std::string>{kPinA, kPinB, kPinC});
  CHECK_THROWS_WITH(pin::parse_pin_list(kPinA + "\nnot-a-pin\n", "pins.txt"), Catch::StartsWith("pins.txt:2: 'not-a-pin' is not a pin"));
}

TEST_CASE("the pin table round-trips through pins.toml, with the status recomputed") {
  const TimePoint now = parse_rfc3339("2026-11-28T12:00:00Z");
  pin::PinEntry with_cert{"example.com", "example.com", "example.com", kPinA, "AB:CD", parse_rfc3339("2027-01-01T00:00:00Z"),
                          "host:example.com:443 #0", now};
  pin::PinEntry manual{"manual", "", "", kPinB, "", std::nullopt, "manual", now};
  pin::PinEntry old{"old", "", "old.example", kPinC, "EF:01", parse_rfc3339("2026-01-01T00:00:00Z"), "cert:old.pem", now};
  std::string text = pin::serialize_pins({with_cert, manual, old}, now);
  CHECK(text.find("expired") != std::string::npos);
  auto back = pin::parse_pins(text, "pins.toml");
  REQUIRE(back.size() == 3);
  CHECK(back[0].label == "example.com");
  CHECK(back[0].pin == kPinA);
  CHECK(back[0].expires == with_cert.expires);
  CHECK(back[0].source == "host:example.com:443 #0");
  CHECK(pin::status_of(back[0], now) == pin::PinStatus::valid);
  CHECK(pin::status_of(back[1], now) == pin::PinStatus::unknown);
  CHECK(pin::status_of(back[2], now) == pin::PinStatus::expired);
  CHECK(pin::status_of(back[0], parse_rfc3339("2027-01-01T00:00:00Z")) == pin::PinStatus::expired);
}

TEST_CASE("a damaged pins.toml is refused with its line, never rewritten") {
  CHECK_THROWS_WITH(pin::parse_pins("[[pin]]\nlabel = \"x\"\npin = \"short\"\n", "pins.toml"),
                    Catch::StartsWith("pins.toml:1: the pin of 'x' is not base64 of 32 bytes"));
  CHECK_THROWS_AS(pin::parse_pins("[[pin]\n", "pins.toml"), Error);
}

TEST_CASE("a pin applies to its host, to its CN, and to the one-label names a wildcard CN covers") {
  pin::PinEntry by_host{"a", "api.example.com", "", kPinA, "", {}, "", {}};
  pin::PinEntry wildcard{"b", "", "*.example.com", kPinA, "", {}, "", {}};
  CHECK(pin::applies_to(by_host, "api.example.com"));
  CHECK_FALSE(pin::applies_to(by_host, "www.example.com"));
  CHECK(pin::applies_to(wildcard, "www.example.com"));
  CHECK_FALSE(pin::applies_to(wildcard, "example.com"));  // a wildcard never covers its apex
  CHECK_FALSE(pin::applies_to(wildcard, "a.b.example.com"));
}

TEST_CASE("labels are made unique with a number") {
  std::vector<pin::PinEntry> entries{{"host", "", "", kPinA, "", {}, "", {}}, {"host-2", "", "", kPinB, "", {}, "", {}}};
  CHECK(pin::unique_label(entries, "other") == "other");
  CHECK(pin::unique_label(entries, "host") == "host-3");
}

TEST_CASE("an unpinned domain gets its key as configured") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinC};
  input.live_key_pin = kPinA;
  pin::KeyDecision d = pin::decide_key(input);
  CHECK_FALSE(d.pinned);
  CHECK_FALSE(d.refused);
  CHECK(d.choice == pin::KeyChoice::as_configured);
}

TEST_CASE("a domain whose live key is pinned keeps that key") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinA};
  input.domain_pins = {kPinA};
  input.live_key_pin = kPinA;
  pin::KeyDecision d = pin::decide_key(input);
  CHECK(d.pinned);
  CHECK(d.choice == pin::KeyChoice::live);
  CHECK_FALSE(d.refused);
}

TEST_CASE("a backup key whose pin is in the table is the next key; one whose pin is not is ignored") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinA, kPinB};
  input.live_key_pin = kPinA;
  input.backup_key_pin = kPinB;
  CHECK(pin::decide_key(input).choice == pin::KeyChoice::backup);
  input.table_pins = {kPinA};
  CHECK(pin::decide_key(input).choice == pin::KeyChoice::live);
}

TEST_CASE("a pinned domain whose next key would match no pin is refused, unless forced") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinC};
  input.domain_pins = {kPinC};  // pinned by name, but not to the live key
  input.live_key_pin = kPinA;
  pin::KeyDecision d = pin::decide_key(input);
  CHECK(d.refused);
  CHECK(d.choice == pin::KeyChoice::as_configured);
  input.force = true;
  CHECK_FALSE(pin::decide_key(input).refused);
}

TEST_CASE("pins on an issuer of the chain let the leaf key change") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinC};
  input.domain_pins = {kPinC};
  input.live_key_pin = kPinA;
  input.live_issuer_pins = {kPinC};
  pin::KeyDecision d = pin::decide_key(input);
  CHECK_FALSE(d.refused);
  CHECK(d.choice == pin::KeyChoice::as_configured);
}

TEST_CASE("an operator CSR's key must match a pin of a pinned domain") {
  pin::KeyDecisionInput input;
  input.table_pins = {kPinA};
  input.live_key_pin = kPinA;
  input.csr_key_pin = kPinB;
  CHECK(pin::decide_key(input).refused);
  input.csr_key_pin = kPinA;
  CHECK_FALSE(pin::decide_key(input).refused);
}
