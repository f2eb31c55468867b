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

TEST_CASE("Retry-After is read as seconds or an HTTP date, uncapped, and ignored when malformed") {
  TimePoint now{std::chrono::seconds{1764087496}};  // 2025-11-25T16:18:16Z
  net::HttpResponse response;
  CHECK_FALSE(acme::requested_retry_time(response, now));
  auto asked = [&](const char* value) {
    response.headers = {{"retry-after", value}};
    return acme::requested_retry_time(response, now);
  };
  CHECK(asked("7") == now + 7s);
  CHECK(asked("0") == now);
  CHECK(asked("0000120") == now + 120s);
  // A wait longer than any run is reported as asked, so the caller can say when to come back.
  CHECK(asked("999999999") == now + 999999999s);
  CHECK(format_rfc3339(*asked("999999999")) == "2057-08-03T18:04:55Z");
  CHECK(asked("99999999999999999999") == now + 9999999999s);  // clamped, not overflowed
  CHECK(asked("Tue, 25 Nov 2025 16:18:46 GMT") == now + 30s);
  CHECK(asked("Wed, 01 Jan 2070 00:00:00 GMT") == parse_rfc3339("2070-01-01T00:00:00Z"));
  CHECK(asked("Mon, 01 Jan 2024 00:00:00 GMT") == now);  // the past means now
  CHECK_FALSE(asked("Tue, 25 Nov 2025 16:18:46 GMTjunk"));
  CHECK_FALSE(asked("soon"));
  CHECK_FALSE(asked("-5"));
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
  CHECK_THROWS_AS(acme::parse_order(nlohmann::json::parse(R"({"status":5})"), "https://ca.test/order/1"), Error);
  CHECK_THROWS_AS(acme::parse_authorization(nlohmann::json::parse(R"({"status":"pending"})"), "https://ca.test/a/1"), Error);
}

TEST_CASE("http-01 tokens that could escape the webroot are refused") {
  CHECK(challenge::http01_path("abc-_XYZ09") == "/.well-known/acme-challenge/abc-_XYZ09");
  CHECK_THROWS_AS(challenge::http01_path("../../etc/passwd"), Error);
  CHECK_THROWS_AS(challenge::http01_path(""), Error);
  CHECK_THROWS_AS(challenge::http01_path("a/b"), Error);
}

namespace {

nlohmann::json authorization_with_token(const std::string& token) {
  return {{"status", "pending"},
          {"identifier", {{"type", "dns"}, {"value", "a.test"}}},
          {"challenges", {{{"type", "http-01"}, {"url", "https://ca.test/chall/1"}, {"token", token}, {"status", "pending"}}}}};
}

// The message of what parsing `body` throws, or "" when it parses.
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

TEST_CASE("a challenge token outside base64url or of an absurd length is refused where it is parsed") {
  const acme::Sender ca{"the CA at https://ca.test/dir", "https"};
  const std::string good(43, 'a');
  CHECK(acme::parse_authorization(authorization_with_token(good), "https://ca.test/authz/1", ca).challenges.at(0).token == good);
  for (const std::string& bad : std::vector<std::string>{"abc/def/ghi/jkl/mno/pqr/stu", "../../../../../../../../tmp/x", "$(touch /tmp/certcli-pwned)x",
                          "has a space in it and is long enough", "tab\tand\nnewline-make-it-long-enough",
                          "short", std::string(257, 'a'), std::string(4096, 'a'), std::string(30, 'a') + "=="}) {
    std::string message = refusal([&] { acme::parse_authorization(authorization_with_token(bad), "https://ca.test/authz/1", ca); });
    INFO(bad);
    CHECK(message.find("the CA at https://ca.test/dir") != std::string::npos);
    const std::string shown = bad.starts_with("tab") ? "'tab\\x09and\\x0anewline" : bad.substr(0, 20);
    CHECK(message.find(shown) != std::string::npos);
    CHECK(message.size() < 400);  // a 4 KiB token is shown cut, not whole
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("URLs, statuses and identifiers a CA sends are checked before anything uses them") {
  const acme::Sender ca{"the CA at https://ca.test/dir", "https"};
  auto order = [](nlohmann::json patch) {
    nlohmann::json body = {{"status", "pending"},
                           {"identifiers", {{{"type", "dns"}, {"value", "a.test"}}}},
                           {"authorizations", {"https://ca.test/authz/1"}},
                           {"finalize", "https://ca.test/fin/1"}};
    body.merge_patch(patch);
    return body;
  };
  CHECK(acme::parse_order(order(nlohmann::json::object()), "https://ca.test/order/1", ca).finalize_url == "https://ca.test/fin/1");
  CHECK(acme::parse_order(order({{"identifiers", {{{"type", "dns"}, {"value", "*.a.test"}}}}}), "https://ca.test/o", ca)
            .identifiers.at(0)
            .value == "*.a.test");
  for (const nlohmann::json& patch :
       {nlohmann::json{{"status", "sleeping"}}, nlohmann::json{{"finalize", "http://ca.test/fin/1"}},
        nlohmann::json{{"finalize", "file:///etc/passwd"}}, nlohmann::json{{"finalize", nullptr}},
        nlohmann::json{{"authorizations", {"https://ca.test/authz/1 x"}}}, nlohmann::json{{"certificate", "/cert/1"}},
        nlohmann::json{{"identifiers", {{{"type", "dns"}, {"value", "../etc"}}}}},
        nlohmann::json{{"identifiers", {{{"type", "email"}, {"value", "a@a.test"}}}}}}) {
    INFO(patch.dump());
    CHECK_FALSE(refusal([&] { acme::parse_order(order(patch), "https://ca.test/order/1", ca); }).empty());
  }
  CHECK_FALSE(refusal([&] { acme::parse_order(order(nlohmann::json::object()), "ftp://ca.test/order/1", ca); }).empty());
  // A CA whose directory is plain http (a test CA on a private network) links with http.
  CHECK(acme::parse_order(order({{"finalize", "http://ca.test/fin/1"}, {"authorizations", {"http://ca.test/a"}}}),
                          "http://ca.test/order/1", acme::Sender{"the CA at http://ca.test/dir", "http"})
            .finalize_url == "http://ca.test/fin/1");
  auto authz = authorization_with_token(std::string(43, 'a'));
  authz["identifier"]["value"] = "*.a.test";  // authorizations name the base domain (RFC 8555 7.1.4)
  CHECK_FALSE(refusal([&] { acme::parse_authorization(authz, "https://ca.test/authz/1", ca); }).empty());
  authz = authorization_with_token(std::string(43, 'a'));
  authz["challenges"].push_back({{"type", "future-01"}, {"url", "x"}, {"token", "../.."}});
  CHECK(acme::parse_authorization(authz, "https://ca.test/authz/1", ca).challenges.size() == 1);  // unknown: dropped
}

TEST_CASE("problem texts from a CA cannot carry terminal escapes or forged lines") {
  auto problem = acme::Problem::from_json({{"type", "urn:ietf:params:acme:error:malformed"},
                                           {"detail", "bad\x1b[31mred\nforged line"}}, 400);
  CHECK(problem.detail == "bad\\x1b[31mred\\x0aforged line");  // shown, inert
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

TEST_CASE("directory profiles keep plain names with their descriptions and skip the rest") {
  auto meta = nlohmann::json::parse(R"({"profiles": {"classic": "https://ca.example/classic",
    "shortlived": "Six days", "odd": 7, "bad name": "x", "../etc": "y"}})");
  auto profiles = acme::parse_profiles(meta);
  REQUIRE(profiles.size() == 3);
  CHECK(profiles.at("classic") == "https://ca.example/classic");
  CHECK(profiles.at("shortlived") == "Six days");
  CHECK(profiles.at("odd").empty());
  CHECK(acme::parse_profiles(nlohmann::json::parse(R"({"profiles": ["classic"]})")).empty());
  CHECK(acme::parse_profiles(nlohmann::json::object()).empty());
}
