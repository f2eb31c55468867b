// ACME Renewal Information (RFC 9773): the CertID of a certificate, reading the CA's renewalInfo
// answer, placing the renewal in its window, and acme::Client asking a scripted CA on 127.0.0.1.
#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include <catch2/catch.hpp>

#include "loopback.hpp"
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

using namespace certcli;
using namespace std::chrono_literals;
using crypto::Deleter;

namespace {

// ---- certificates made with plain OpenSSL calls, independent of the module ----

using AsnOctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using AkidPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using AsnIntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;

const crypto::PrivateKey& ec_key() {
  static const auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  return key;
}

// The RFC 9773 4.1 example's parts.
const std::string kRfcKeyId("\x69\x88\x5B\x6B\x87\x46\x40\x41\xE1\xB3\x7B\x84\x7B\xA0\xAE\x2C\xDE\x01\xC8\xD4", 20);
const std::string kRfcSerial("\x00\x87\x65\x43\x21", 5);
const std::string kRfcCertId = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

// A certificate for example.com with `serial` (big-endian magnitude bytes) and, unless
// `aki_key_id` is empty, an Authority Key Identifier holding exactly those bytes.
crypto::X509Ptr make_certificate(const std::string& serial, const std::string& aki_key_id) {
  crypto::X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), static_cast<int>(serial.size()), nullptr));
  REQUIRE(bn);
  AsnIntegerPtr serial_number(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  REQUIRE(X509_set_serialNumber(cert.get(), serial_number.get()) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("example.com"),
                                     -1, -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()), 1767323045) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(cert.get()), 1775099045) != nullptr);
  REQUIRE(X509_set_pubkey(cert.get(), ec_key().get()) == 1);
  if (!aki_key_id.empty()) {
    AkidPtr akid(AUTHORITY_KEYID_new());
    akid->keyid = ASN1_OCTET_STRING_new();
    REQUIRE(ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>(aki_key_id.data()),
                                  static_cast<int>(aki_key_id.size())) == 1);
    REQUIRE(X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) == 1);
  }
  REQUIRE(X509_sign(cert.get(), ec_key().get(), EVP_sha256()) > 0);
  return cert;
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string bytes_of(const ASN1_OCTET_STRING* value) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

// The serial's DER content octets by another road: the magnitude from the BIGNUM, with the
// 0x00 that DER puts in front of a positive number whose high bit is set.
std::string serial_octets_via_bignum(const X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  REQUIRE(bn);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  if (bytes.empty() || (static_cast<unsigned char>(bytes[0]) & 0x80)) bytes.insert(bytes.begin(), '\0');
  return bytes;
}

// ---- a CA on 127.0.0.1 that answers each request with the next scripted reply ----

class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds duration) override {
    now_ += std::chrono::ceil<std::chrono::seconds>(duration);
  }
  TimePoint now_{std::chrono::seconds{1764087496}};  // 2025-11-25T16:18:16Z
};

struct Request {
  std::string method;
  std::string path;
  std::string body;
};

// One connection per request (each reply says Connection: close), so the server stays simple.
class ScriptedCa {
 public:
  ScriptedCa() {
    listen_fd_ = certcli::testing::listen_on_loopback(port_);
  }
  ~ScriptedCa() {
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string directory(bool with_renewal_info) const {
    nlohmann::json dir = {{"newNonce", url("/nonce")}, {"newAccount", url("/account")}, {"newOrder", url("/order")}};
    if (with_renewal_info) dir["renewalInfo"] = url("/renewal-info");
    return reply(200, dir.dump());
  }
  static std::string reply(int status, const std::string& body, const std::string& headers = {}) {
    return "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + headers + "\r\n" + body;
  }
  void serve(std::vector<std::string> replies) {
    replies_ = std::move(replies);
    thread_ = std::thread([this] { run(); });
  }
  // Waits until the script is played (or the server gave up), then returns what was asked.
  std::vector<Request> requests() {
    if (thread_.joinable()) thread_.join();
    return requests_;
  }

 private:
  void run() {
    for (const std::string& answer : replies_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;  // bounded, so a failing test cannot hang
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (read_request(fd)) ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(fd);
    }
  }

  bool read_request(int fd) {
    std::string buffer;
    auto fill = [&] {
      char chunk[4096];
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(got));
      return true;
    };
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return false;
    std::string head = buffer.substr(0, end);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::size_t length = 0;
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) length = std::stoul(head.substr(at + 17));
    while (buffer.size() < end + 4 + length)
      if (!fill()) return false;
    Request request;
    request.method = head.substr(0, head.find(' '));
    std::size_t path_start = head.find(' ') + 1;
    request.path = head.substr(path_start, head.find(' ', path_start) - path_start);
    request.body = buffer.substr(end + 4, length);
    requests_.push_back(std::move(request));
    return true;
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<std::string> replies_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// A newOrder answer's body for a.test.
std::string pending_order(const ScriptedCa& ca) {
  return nlohmann::json{{"status", "pending"},
                        {"identifiers", {{{"type", "dns"}, {"value", "a.test"}}}},
                        {"authorizations", {ca.url("/authz/1")}},
                        {"finalize", ca.url("/finalize/1")}}
      .dump();
}

nlohmann::json jws_payload(const Request& request) {
  auto jws = nlohmann::json::parse(request.body);
  return nlohmann::json::parse(crypto::base64url_decode(jws.at("payload").get<std::string>()));
}

const acme::Sender kCa{"the CA at https://ca.test/dir", "https"};

nlohmann::json window_body(const std::string& start, const std::string& end) {
  return {{"suggestedWindow", {{"start", start}, {"end", end}}}};
}

// The message of the CaMisbehaved that `parse` throws, or "" when it throws none.
template <class Parse>
std::string refusal(Parse parse) {
  try {
    parse();
  } catch (const acme::CaMisbehaved& e) {
    CHECK(e.kind() == ErrorKind::ca_rejected);
    return e.what();
  }
  return "";
}

}  // namespace

// ---- CertID ----

TEST_CASE("the ARI CertID of the RFC 9773 example parts is the RFC's") {
  CHECK(crypto::ari_cert_id_from_parts(kRfcKeyId, kRfcSerial) == kRfcCertId);
}

TEST_CASE("an ARI CertID cannot be made from an empty part") {
  CHECK_THROWS_AS(crypto::ari_cert_id_from_parts("", kRfcSerial), Error);
  CHECK_THROWS_AS(crypto::ari_cert_id_from_parts(kRfcKeyId, ""), Error);
}

TEST_CASE("a certificate with the RFC example's key identifier and serial has the RFC's CertID") {
  // 0x87654321 has its high bit set, so its DER INTEGER is 00 87 65 43 21: the 0x00 is kept.
  auto cert = make_certificate("\x87\x65\x43\x21", kRfcKeyId);
  CHECK(crypto::ari_cert_id(to_pem(cert.get())) == kRfcCertId);
}

TEST_CASE("a certificate's CertID joins its AKI keyIdentifier and serial octets as OpenSSL reads them") {
  const std::string key_id(32, '\xab');
  for (const std::string& serial :
       {std::string("\x01\x23\x45\x67\x89\xab\xcd\xef"), std::string("\x7f"), std::string("\xff\xee"),
        std::string(20, '\x9c'), std::string("\x00\x00\x05", 3)}) {
    auto cert = make_certificate(serial, key_id);
    const auto* aki = X509_get0_authority_key_id(cert.get());
    REQUIRE(aki != nullptr);
    std::string expected = crypto::base64url_encode(bytes_of(aki)) + "." +
                           crypto::base64url_encode(serial_octets_via_bignum(cert.get()));
    INFO(crypto::to_hex(serial));
    CHECK(crypto::ari_cert_id(to_pem(cert.get())) == expected);
    CHECK(crypto::ari_cert_id(to_pem(cert.get())).find('=') == std::string::npos);
  }
  // A 20-byte serial with the high bit set takes 21 content octets.
  auto cert = make_certificate(std::string(20, '\x9c'), key_id);
  std::string id = crypto::ari_cert_id(to_pem(cert.get()));
  CHECK(crypto::base64url_decode(id.substr(id.find('.') + 1)) == std::string(1, '\0') + std::string(20, '\x9c'));
}

TEST_CASE("a leaf whose AKI OpenSSL derived from its issuer's subject key identifier names that key") {
  crypto::X509Ptr issuer = make_certificate("\x01", "");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.get(), issuer.get(), nullptr, nullptr, 0);
  ExtPtr ski(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash"));
  REQUIRE(ski);
  REQUIRE(X509_add_ext(issuer.get(), ski.get(), -1) == 1);
  crypto::X509Ptr leaf = make_certificate("\xc0\xff\xee", "");  // DER content octets 00 c0 ff ee
  X509V3_set_ctx(&ctx, issuer.get(), leaf.get(), nullptr, nullptr, 0);
  ExtPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  REQUIRE(aki);
  REQUIRE(X509_add_ext(leaf.get(), aki.get(), -1) == 1);
  REQUIRE(X509_sign(leaf.get(), ec_key().get(), EVP_sha256()) > 0);

  const ASN1_OCTET_STRING* issuer_key = X509_get0_subject_key_id(issuer.get());
  REQUIRE(issuer_key != nullptr);
  CHECK(crypto::ari_cert_id(to_pem(leaf.get())) ==
        crypto::base64url_encode(bytes_of(issuer_key)) + "." + crypto::base64url_encode(std::string("\x00\xc0\xff\xee", 4)));
  // In a bundle, the first certificate (the leaf) is the one named.
  CHECK(crypto::ari_cert_id(to_pem(leaf.get()) + to_pem(issuer.get())) == crypto::ari_cert_id(to_pem(leaf.get())));
}

TEST_CASE("a certificate without an Authority Key Identifier has no CertID, and the error says why") {
  auto cert = make_certificate("\x42", "");
  try {
    crypto::ari_cert_id(to_pem(cert.get()));
    FAIL("a CertID was made without an AKI");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::crypto);
    CHECK_THAT(e.what(), Catch::Contains("Authority Key Identifier"));
    CHECK_THAT(e.what(), Catch::Contains("42"));
  }
  CHECK_THROWS_AS(crypto::ari_cert_id("no certificate here"), Error);
}

// ---- the renewalInfo answer ----

TEST_CASE("a renewalInfo body with a window and an explanation URL parses") {
  auto body = window_body("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z");
  body["explanationURL"] = "https://ca.test/docs/ari";
  acme::RenewalInfo info = acme::parse_renewal_info(body, kCa);
  CHECK(info.window_start == parse_rfc3339("2025-01-02T04:00:00Z"));
  CHECK(info.window_end == parse_rfc3339("2025-01-03T04:00:00Z"));
  CHECK(info.explanation_url == "https://ca.test/docs/ari");
  CHECK_FALSE(info.retry_after);
}

TEST_CASE("a renewalInfo body without an explanation URL, with offsets and fractions, parses") {
  auto info = acme::parse_renewal_info(window_body("2025-01-02T04:00:00.123+02:00", "2025-01-02T04:00:01Z"), kCa);
  CHECK(info.window_start == parse_rfc3339("2025-01-02T02:00:00Z"));
  CHECK(info.explanation_url.empty());
  auto with_null = window_body("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z");
  with_null["explanationURL"] = nullptr;
  with_null["somethingNew"] = {1, 2, 3};  // fields of later extensions are ignored
  CHECK(acme::parse_renewal_info(with_null, kCa).explanation_url.empty());
}

TEST_CASE("a renewalInfo window that ends before or when it starts is refused (RFC 9773 4.2)") {
  std::string message =
      refusal([] { acme::parse_renewal_info(window_body("2025-01-03T04:00:00Z", "2025-01-02T04:00:00Z"), kCa); });
  CHECK_THAT(message, Catch::Contains("the CA at https://ca.test/dir"));
  CHECK_THAT(message, Catch::Contains("does not end after it starts"));
  CHECK_FALSE(
      refusal([] { acme::parse_renewal_info(window_body("2025-01-02T04:00:00Z", "2025-01-02T04:00:00Z"), kCa); }).empty());
}

TEST_CASE("a renewalInfo body without a suggested window is refused") {
  for (const nlohmann::json& body :
       {nlohmann::json::object(), nlohmann::json::array(), nlohmann::json("text"), nlohmann::json{{"suggestedWindow", "soon"}},
        nlohmann::json{{"suggestedWindow", {{"start", "2025-01-02T04:00:00Z"}}}},
        nlohmann::json{{"suggestedWindow", {{"end", "2025-01-02T04:00:00Z"}}}},
        nlohmann::json{{"suggestedWindow", {{"start", 1735790400}, {"end", 1735876800}}}}}) {
    INFO(body.dump());
    CHECK_THAT(refusal([&] { acme::parse_renewal_info(body, kCa); }), Catch::Contains("the CA at https://ca.test/dir"));
  }
}

TEST_CASE("renewalInfo times that are not RFC 3339 are refused, shown quoted") {
  for (const char* bad : {"2025-01-02 04:00:00Z", "2025-01-02T04:00:00", "tomorrow", "2025-02-30T04:00:00Z",
                          "2025-01-02T04:00:00Z\x1b[2J"}) {
    INFO(bad);
    std::string message = refusal([&] { acme::parse_renewal_info(window_body(bad, "2099-01-01T00:00:00Z"), kCa); });
    CHECK_THAT(message, Catch::Contains("RFC 3339"));
    CHECK(message.find('\x1b') == std::string::npos);
    CHECK_FALSE(refusal([&] { acme::parse_renewal_info(window_body("2025-01-01T00:00:00Z", bad), kCa); }).empty());
  }
}

TEST_CASE("a renewalInfo explanation URL that is not an absolute URL of the CA's scheme or https is refused") {
  for (const nlohmann::json& url : {nlohmann::json("/docs/ari"), nlohmann::json("http://ca.test/docs"),
                                    nlohmann::json("javascript:alert(1)"), nlohmann::json("https://ca.test/a b"),
                                    nlohmann::json(42), nlohmann::json("https://ca.test/" + std::string(3000, 'a'))}) {
    auto body = window_body("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z");
    body["explanationURL"] = url;
    INFO(url.dump().substr(0, 80));
    try {
      acme::parse_renewal_info(body, kCa);
      FAIL("accepted");
    } catch (const acme::CaMisbehaved& e) {
      CHECK_THAT(e.what(), Catch::Contains("the CA at https://ca.test/dir"));
      CHECK_THAT(e.hint(), Catch::Contains("renewal information"));  // not the order hint
    }
  }
  // A test CA on plain http may link to https documentation, and to its own http pages.
  const acme::Sender http_ca{"the CA at http://ca.test/dir", "http"};
  auto body = window_body("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z");
  body["explanationURL"] = "https://docs.test/ari";
  CHECK(acme::parse_renewal_info(body, http_ca).explanation_url == "https://docs.test/ari");
  body["explanationURL"] = "http://ca.test/ari";
  CHECK(acme::parse_renewal_info(body, http_ca).explanation_url == "http://ca.test/ari");
}

// ---- the moment of renewal ----

TEST_CASE("the renewal time is the window's start at fraction 0 and just before its end near 1") {
  acme::RenewalInfo info{parse_rfc3339("2025-01-02T00:00:00Z"), parse_rfc3339("2025-01-04T00:00:00Z"), "", {}};
  CHECK(acme::renewal_time_in_window(info, 0.0) == info.window_start);
  CHECK(acme::renewal_time_in_window(info, 0.5) == parse_rfc3339("2025-01-03T00:00:00Z"));
  CHECK(acme::renewal_time_in_window(info, 0.25) == parse_rfc3339("2025-01-02T12:00:00Z"));
  CHECK(acme::renewal_time_in_window(info, 0.99999) == parse_rfc3339("2025-01-03T23:59:58Z"));
  const double largest_below_one = std::nextafter(1.0, 0.0);
  CHECK(acme::renewal_time_in_window(info, largest_below_one) == info.window_end - 1s);
}

TEST_CASE("a renewal fraction outside 0 to 1 is clamped into the window") {
  acme::RenewalInfo info{parse_rfc3339("2025-01-02T00:00:00Z"), parse_rfc3339("2025-01-04T00:00:00Z"), "", {}};
  CHECK(acme::renewal_time_in_window(info, -3.0) == info.window_start);
  CHECK(acme::renewal_time_in_window(info, std::numeric_limits<double>::quiet_NaN()) == info.window_start);
  CHECK(acme::renewal_time_in_window(info, 1.0) == info.window_end - 1s);
  CHECK(acme::renewal_time_in_window(info, 1e300) == info.window_end - 1s);
  acme::RenewalInfo one_second{info.window_start, info.window_start + 1s, "", {}};
  CHECK(acme::renewal_time_in_window(one_second, 0.9) == info.window_start);
  acme::RenewalInfo empty{info.window_end, info.window_start, "", {}};  // never from parse_renewal_info
  CHECK(acme::renewal_time_in_window(empty, 0.5) == info.window_end);
}

TEST_CASE("a renewal window has passed once its end is reached") {
  acme::RenewalInfo info{parse_rfc3339("2025-01-02T00:00:00Z"), parse_rfc3339("2025-01-04T00:00:00Z"), "", {}};
  CHECK_FALSE(acme::renewal_window_has_passed(info, info.window_start));
  CHECK_FALSE(acme::renewal_window_has_passed(info, info.window_end - 1s));
  CHECK(acme::renewal_window_has_passed(info, info.window_end));
}

TEST_CASE("a newOrder refusal counts as refusing replaces only when it is about the replacement") {
  auto problem = [](const char* type, const char* detail, int status) {
    return acme::Problem::from_json({{"type", std::string("urn:ietf:params:acme:error:") + type}, {"detail", detail}}, status);
  };
  CHECK(acme::problem_rejects_replaces(problem("alreadyReplaced", "", 409)));
  CHECK(acme::problem_rejects_replaces(problem("conflict", "cannot indicate an order replaces certificate with serial "
                                                           "\"03\", which already has a replacement order", 409)));
  CHECK(acme::problem_rejects_replaces(problem("malformed", "Could not validate ARI 'replaces' field", 404)));
  CHECK_FALSE(acme::problem_rejects_replaces(problem("malformed", "JWS has no signature", 400)));
  CHECK_FALSE(acme::problem_rejects_replaces(problem("rejectedIdentifier", "replace is not a valid name", 400)));
  CHECK_FALSE(acme::problem_rejects_replaces(problem("rateLimited", "too many replacements", 429)));
  CHECK_FALSE(acme::problem_rejects_replaces(problem("serverInternal", "replacing failed", 500)));
}

// ---- acme::Client against a scripted CA ----

TEST_CASE("fetch_renewal_info GETs renewalInfo/CertID and reads the window and Retry-After") {
  ScriptedCa ca;
  const std::string window = R"({"suggestedWindow":{"start":"2025-12-01T00:00:00Z","end":"2025-12-03T00:00:00Z"},
                                  "explanationURL":"https://ca.test/why"})";
  ca.serve({ca.directory(true), ScriptedCa::reply(200, window, "Retry-After: 21600\r\nReplay-Nonce: ari-nonce\r\n")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  auto info = client.fetch_renewal_info(kRfcCertId);
  REQUIRE(info);
  CHECK(info->window_start == parse_rfc3339("2025-12-01T00:00:00Z"));
  CHECK(info->window_end == parse_rfc3339("2025-12-03T00:00:00Z"));
  CHECK(info->explanation_url == "https://ca.test/why");
  CHECK(info->retry_after == clock.now() + 21600s);
  auto requests = ca.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].method == "GET");  // unauthenticated: no JWS, no POST-as-GET (RFC 9773 4.1)
  CHECK(requests[1].path == "/renewal-info/" + kRfcCertId);
  CHECK(requests[1].body.empty());
}

TEST_CASE("fetch_renewal_info asks nothing of a CA whose directory has no renewalInfo") {
  ScriptedCa ca;
  ca.serve({ca.directory(false)});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  CHECK_FALSE(client.fetch_renewal_info(kRfcCertId));
  CHECK(client.request_count() == 1);  // the directory only
  CHECK(ca.requests().size() == 1);
}

TEST_CASE("fetch_renewal_info answers nothing when the CA does not know the certificate (404)") {
  ScriptedCa ca;
  ca.serve({ca.directory(true),
            ScriptedCa::reply(404, R"({"type":"urn:ietf:params:acme:error:malformed","detail":"no such certificate"})")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  CHECK_FALSE(client.fetch_renewal_info(kRfcCertId));
  CHECK(ca.requests().size() == 2);
}

TEST_CASE("fetch_renewal_info waits as a 503's Retry-After asks and asks again") {
  ScriptedCa ca;
  ca.serve({ca.directory(true), ScriptedCa::reply(503, "busy", "Retry-After: 30\r\n"),
            ScriptedCa::reply(200, R"({"suggestedWindow":{"start":"2025-12-01T00:00:00Z","end":"2025-12-02T00:00:00Z"}})")});
  net::HttpClient http;
  FakeClock clock;
  const TimePoint started = clock.now();
  acme::Client client(http, clock, ca.url("/dir"));
  auto info = client.fetch_renewal_info(kRfcCertId);
  REQUIRE(info);
  CHECK_FALSE(info->retry_after);
  CHECK(clock.now() == started + 30s);
  CHECK(ca.requests().size() == 3);
}

TEST_CASE("fetch_renewal_info refuses a malformed answer naming the CA and the URL") {
  ScriptedCa ca;
  ca.serve({ca.directory(true),
            ScriptedCa::reply(200, R"({"suggestedWindow":{"start":"2025-12-03T00:00:00Z","end":"2025-12-01T00:00:00Z"}})")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  try {
    client.fetch_renewal_info(kRfcCertId);
    FAIL("a window ending before its start was accepted");
  } catch (const acme::CaMisbehaved& e) {
    CHECK_THAT(e.what(), Catch::Contains(ca.url("/dir")));
    CHECK(e.subject() == ca.url("/renewal-info/" + kRfcCertId));
  }
}

TEST_CASE("fetch_renewal_info refuses a CertID that could reach another path, before any request") {
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, "http://127.0.0.1:9/dir");  // never contacted
  for (const char* bad : {"", "abc", ".abc", "abc.", "a.b.c", "../../x.y", "aYhb/a.AIdl", "aYhb%2e.x", "a b.c"}) {
    INFO(bad);
    try {
      client.fetch_renewal_info(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_input);
    }
  }
  CHECK(client.request_count() == 0);
}

TEST_CASE("new_order with replaces sends the CertID, and the one-name form sends none") {
  ScriptedCa ca;
  const std::string order = pending_order(ca);
  const std::string created = "Location: " + ca.url("/order/1") + "\r\nReplay-Nonce: nonce-2\r\n";
  ca.serve({ca.directory(true), ScriptedCa::reply(200, "", "Replay-Nonce: nonce-1\r\n"),
            ScriptedCa::reply(201, order, created), ScriptedCa::reply(201, order, created)});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  client.use_account(ec_key(), ca.url("/account/1"));
  CHECK(client.new_order({"a.test"}, kRfcCertId).url == ca.url("/order/1"));
  CHECK(client.new_order({"a.test"}).status == "pending");
  auto requests = ca.requests();
  REQUIRE(requests.size() == 4);
  CHECK(jws_payload(requests[2]).at("replaces") == kRfcCertId);
  CHECK(jws_payload(requests[2]).at("identifiers").at(0).at("value") == "a.test");
  CHECK_FALSE(jws_payload(requests[3]).contains("replaces"));
}

TEST_CASE("new_order places the order again without replaces when the CA says it was already replaced") {
  ScriptedCa ca;
  const std::string order = pending_order(ca);
  const std::string replaced =
      R"({"type":"urn:ietf:params:acme:error:alreadyReplaced","detail":"already has a replacement order","status":409})";
  ca.serve({ca.directory(true), ScriptedCa::reply(200, "", "Replay-Nonce: nonce-1\r\n"),
            ScriptedCa::reply(409, replaced, "Replay-Nonce: nonce-2\r\nContent-Type: application/problem+json\r\n"),
            ScriptedCa::reply(201, order, "Location: " + ca.url("/order/1") + "\r\n")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  client.use_account(ec_key(), ca.url("/account/1"));
  CHECK(client.new_order({"a.test"}, kRfcCertId).url == ca.url("/order/1"));
  auto requests = ca.requests();
  REQUIRE(requests.size() == 4);  // directory, newNonce, newOrder refused, newOrder again
  CHECK(jws_payload(requests[2]).at("replaces") == kRfcCertId);
  CHECK_FALSE(jws_payload(requests[3]).contains("replaces"));
}

TEST_CASE("new_order with replaces does not retry a refusal that is not about the replacement") {
  ScriptedCa ca;
  ca.serve({ca.directory(true), ScriptedCa::reply(200, "", "Replay-Nonce: nonce-1\r\n"),
            ScriptedCa::reply(400, R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no"})",
                              "Replay-Nonce: nonce-2\r\n")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  client.use_account(ec_key(), ca.url("/account/1"));
  try {
    client.new_order({"a.test"}, kRfcCertId);
    FAIL("the refusal was not reported");
  } catch (const acme::AcmeError& e) {
    CHECK(e.problem().short_type() == "rejectedIdentifier");
  }
  CHECK(ca.requests().size() == 3);
}

TEST_CASE("new_order leaves replaces out for a CA whose directory has no renewalInfo") {
  ScriptedCa ca;
  const std::string order = pending_order(ca);
  ca.serve({ca.directory(false), ScriptedCa::reply(200, "", "Replay-Nonce: nonce-1\r\n"),
            ScriptedCa::reply(201, order, "Location: " + ca.url("/order/1") + "\r\n")});
  net::HttpClient http;
  FakeClock clock;
  acme::Client client(http, clock, ca.url("/dir"));
  client.use_account(ec_key(), ca.url("/account/1"));
  CHECK(client.new_order({"a.test"}, kRfcCertId).url == ca.url("/order/1"));
  auto requests = ca.requests();
  REQUIRE(requests.size() == 3);
  CHECK_FALSE(jws_payload(requests[2]).contains("replaces"));
}
