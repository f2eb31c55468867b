#include <certcli/acme.hpp>
#include <certcli/challenge.hpp>
#include <certcli/crypto.hpp>
#include <certcli/lifecycle.hpp>

#include <catch2/catch.hpp>

using namespace certcli;
using namespace std::chrono_literals;

TEST_CASE("a JWS from make_jws verifies over its protected header and payload") {
  for (auto type : {crypto::KeyType::ec256, crypto::KeyType::rsa2048}) {
    auto key = crypto::PrivateKey::generate(type);
    nlohmann::json header = {{"alg", crypto::jws_algorithm(key)}, {"nonce", "n1"}, {"url", "https://ca.test/x"}};
    nlohmann::json jws = acme::make_jws(key, header, R"({"a":1})");
    std::string signing_input = jws["protected"].get<std::string>() + "." + jws["payload"].get<std::string>();
    CHECK(crypto::jws_verify(key, signing_input, crypto::base64url_decode(jws["signature"].get<std::string>())));
    CHECK(nlohmann::json::parse(crypto::base64url_decode(jws["protected"].get<std::string>())) == header);
    CHECK(crypto::base64url_decode(jws["payload"].get<std::string>()) == R"({"a":1})");
    CHECK_FALSE(crypto::jws_verify(key, signing_input + "x", crypto::base64url_decode(jws["signature"].get<std::string>())));
  }
}

TEST_CASE("POST-as-GET signs an empty payload, not an empty object") {
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  nlohmann::json jws = acme::make_jws(key, {{"alg", "ES256"}}, "");
  CHECK(jws["payload"] == "");
}

TEST_CASE("Retry-After is honoured in seconds and as an HTTP date, within bounds") {
  TimePoint now{std::chrono::seconds{1764087496}};  // 2025-11-25T16:18:16Z
  net::HttpResponse response;
  CHECK(acme::retry_after(response, now, 700ms) == 700ms);
  response.headers = {{"retry-after", "7"}};
  CHECK(acme::retry_after(response, now, 700ms) == 7s);
  response.headers = {{"retry-after", "0"}};
  CHECK(acme::retry_after(response, now, 700ms) == 1s);
  response.headers = {{"retry-after", "99999999999"}};
  CHECK(acme::retry_after(response, now, 700ms) == 1h);
  response.headers = {{"retry-after", "Tue, 25 Nov 2025 16:18:46 GMT"}};
  CHECK(acme::retry_after(response, now, 700ms) == 30s);
  response.headers = {{"retry-after", "0000120"}};
  CHECK(acme::retry_after(response, now, 700ms) == 120s);
  response.headers = {{"retry-after", "Tue, 25 Nov 2025 16:18:46 GMTjunk"}};
  CHECK(acme::retry_after(response, now, 700ms) == 700ms);
  response.headers = {{"retry-after", "soon"}};
  CHECK(acme::retry_after(response, now, 700ms) == 700ms);
}

TEST_CASE("problem documents name their type, detail and each subproblem") {
  auto body = nlohmann::json::parse(R"({
    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
    "detail": "some names were rejected",
    "subproblems": [{"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids",
                     "identifier": {"type": "dns", "value": "b.example.com"}}]})");
  acme::Problem problem = acme::Problem::from_json(body, 400);
  CHECK(problem.short_type() == "rejectedIdentifier");
  CHECK(problem.describe() == "rejectedIdentifier: some names were rejected; b.example.com: caa: CAA forbids");
}

TEST_CASE("orders and authorizations parse from the CA's JSON and malformed ones are refused") {
  auto order = acme::parse_order(nlohmann::json::parse(R"({"status":"pending","identifiers":[{"type":"dns","value":"a.test"}],
      "authorizations":["https://ca.test/authz/1"],"finalize":"https://ca.test/fin/1"})"), "https://ca.test/order/1");
  CHECK(order.status == "pending");
  CHECK(order.identifiers.at(0).value == "a.test");
  CHECK(order.authorization_urls.at(0) == "https://ca.test/authz/1");
  CHECK(order.certificate_url.empty());
  CHECK_THROWS_AS(acme::parse_order(nlohmann::json::parse(R"({"status":5})"), "u"), Error);
  CHECK_THROWS_AS(acme::parse_authorization(nlohmann::json::parse(R"({"status":"pending"})"), "u"), Error);
}

TEST_CASE("http-01 tokens that could escape the webroot are refused") {
  CHECK(challenge::http01_path("abc-_XYZ09") == "/.well-known/acme-challenge/abc-_XYZ09");
  CHECK_THROWS_AS(challenge::http01_path("../../etc/passwd"), Error);
  CHECK_THROWS_AS(challenge::http01_path(""), Error);
  CHECK_THROWS_AS(challenge::http01_path("a/b"), Error);
}

TEST_CASE("listen addresses parse into address and port") {
  CHECK(challenge::parse_listen_address("127.0.0.1:8080") == std::pair<std::string, int>{"127.0.0.1", 8080});
  CHECK(challenge::parse_listen_address("[::1]:80") == std::pair<std::string, int>{"::1", 80});
  CHECK(challenge::parse_listen_address(":80").second == 80);
  CHECK_THROWS_AS(challenge::parse_listen_address("127.0.0.1"), Error);
  CHECK_THROWS_AS(challenge::parse_listen_address("127.0.0.1:99999"), Error);
  CHECK_THROWS_AS(challenge::parse_listen_address("127.0.0.1:http"), Error);
}

TEST_CASE("the CA is chosen from a preset, its staging twin, or a directory URL") {
  CHECK(lifecycle::select_ca("", "", false).name == "letsencrypt");
  CHECK(lifecycle::select_ca("letsencrypt", "", true).directory_url ==
        "https://acme-staging-v02.api.letsencrypt.org/directory");
  auto custom = lifecycle::select_ca("", "https://127.0.0.1:14000/dir", false);
  CHECK(custom.name == "custom");
  CHECK(custom.id.starts_with("127.0.0.1_14000-"));
  CHECK(custom.id == lifecycle::ca_id_for_url("https://127.0.0.1:14000/dir"));
  CHECK(custom.id != lifecycle::ca_id_for_url("https://127.0.0.1:14000/dir2"));
  CHECK_THROWS_AS(lifecycle::select_ca("nope", "", false), Error);
  CHECK_THROWS_AS(lifecycle::select_ca("zerossl", "", true), Error);
  CHECK_THROWS_AS(lifecycle::select_ca("letsencrypt", "https://x.test/dir", false), Error);
  CHECK_THROWS_AS(lifecycle::select_ca("", "ftp://x.test/dir", false), Error);
}
