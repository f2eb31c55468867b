#include <certcli/acme.hpp>
#include <certcli/error.hpp>
#include <certcli/verify.hpp>

#include <catch2/catch.hpp>

using namespace certcli;
using lifecycle::evaluate_caa;
using Caa = dns::CaaRecord;

namespace {

const std::vector<std::string> kLetsEncrypt{"letsencrypt.org"};

lifecycle::ChallengeRecordFound found(std::string cname, std::vector<std::string> txt = {}) {
  return {"_acme-challenge.example.com", std::move(cname), std::move(txt)};
}

}  // namespace

TEST_CASE("no CAA records allow every CA", "[verify][caa]") {
  CHECK(evaluate_caa({}, kLetsEncrypt, false).allowed);
  CHECK(evaluate_caa({}, {}, true).allowed);
}

TEST_CASE("an issue property naming the CA allows it, whatever its parameters and case", "[verify][caa]") {
  CHECK(evaluate_caa({{0, "issue", "letsencrypt.org"}}, kLetsEncrypt, false).allowed);
  CHECK(evaluate_caa({{0, "issue", " LetsEncrypt.org ; validationmethods=dns-01"}}, kLetsEncrypt, false).allowed);
  CHECK(evaluate_caa({{0, "issue", "other-ca.example"}, {0, "issue", "letsencrypt.org"}}, kLetsEncrypt, false).allowed);
}

TEST_CASE("an issue property naming only another CA forbids this one and says what it allows", "[verify][caa]") {
  auto verdict = evaluate_caa({{0, "issue", "other-ca.example"}}, kLetsEncrypt, false);
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.allows.find("other-ca.example") != std::string::npos);
}

TEST_CASE("an empty issuer value forbids every CA", "[verify][caa]") {
  auto verdict = evaluate_caa({{0, "issue", ";"}}, kLetsEncrypt, false);
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.allows.find("forbids every CA") != std::string::npos);
  CHECK_FALSE(evaluate_caa({{0, "issue", ""}}, kLetsEncrypt, false).allowed);
}

TEST_CASE("a set with only iodef restricts nobody", "[verify][caa]") {
  CHECK(evaluate_caa({{0, "iodef", "mailto:security@example.com"}}, kLetsEncrypt, false).allowed);
}

TEST_CASE("issuewild is ignored for a name that is not a wildcard", "[verify][caa]") {
  CHECK(evaluate_caa({{0, "issuewild", ";"}}, kLetsEncrypt, false).allowed);
  CHECK_FALSE(evaluate_caa({{0, "issuewild", "letsencrypt.org"}, {0, "issue", "other-ca.example"}}, kLetsEncrypt, false).allowed);
}

TEST_CASE("for a wildcard name issuewild replaces issue when there is any", "[verify][caa]") {
  std::vector<Caa> records{{0, "issue", "letsencrypt.org"}, {0, "issuewild", "other-ca.example"}};
  CHECK_FALSE(evaluate_caa(records, kLetsEncrypt, true).allowed);
  CHECK(evaluate_caa(records, kLetsEncrypt, false).allowed);
  CHECK(evaluate_caa({{0, "issue", "other-ca.example"}, {0, "issuewild", "letsencrypt.org"}}, kLetsEncrypt, true).allowed);
  CHECK_FALSE(evaluate_caa({{0, "issue", "letsencrypt.org"}, {0, "issuewild", ";"}}, kLetsEncrypt, true).allowed);
}

TEST_CASE("for a wildcard name without issuewild the issue properties rule", "[verify][caa]") {
  CHECK(evaluate_caa({{0, "issue", "letsencrypt.org"}}, kLetsEncrypt, true).allowed);
  CHECK_FALSE(evaluate_caa({{0, "issue", "other-ca.example"}}, kLetsEncrypt, true).allowed);
}

TEST_CASE("an unknown critical property forbids issuance, a known or non-critical one does not", "[verify][caa]") {
  auto verdict = evaluate_caa({{0, "issue", "letsencrypt.org"}, {128, "tbs", "x"}}, kLetsEncrypt, false);
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.reason.find("tbs") != std::string::npos);
  CHECK(evaluate_caa({{0, "issue", "letsencrypt.org"}, {0, "tbs", "x"}}, kLetsEncrypt, false).allowed);
  CHECK(evaluate_caa({{128, "issue", "letsencrypt.org"}}, kLetsEncrypt, false).allowed);
}

TEST_CASE("CAA records that restrict issuance fail when the CA's identities are unknown", "[verify][caa]") {
  auto verdict = evaluate_caa({{0, "issue", "letsencrypt.org"}}, {}, false);
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.reason.find("not known") != std::string::npos);
}

TEST_CASE("the presets' CAA identities are known by directory URL", "[verify][caa]") {
  CHECK(lifecycle::known_caa_identities("https://acme-v02.api.letsencrypt.org/directory") == kLetsEncrypt);
  CHECK(lifecycle::known_caa_identities("https://acme-staging-v02.api.letsencrypt.org/directory") == kLetsEncrypt);
  CHECK(lifecycle::known_caa_identities("https://acme.zerossl.com/v2/DV90") == std::vector<std::string>{"sectigo.com"});
  CHECK(lifecycle::known_caa_identities("https://127.0.0.1:14000/dir").empty());
}

TEST_CASE("a CNAME to the alias is valid delegation", "[verify][dns01]") {
  auto check = lifecycle::classify_challenge_record(found("Challenges.Example.NET"), "challenges.example.net.");
  CHECK(check.ok);
  CHECK(check.status == "valid");
}

TEST_CASE("nothing at the challenge name is missing, with the CNAME to create", "[verify][dns01]") {
  auto check = lifecycle::classify_challenge_record(found(""), "challenges.example.net");
  CHECK_FALSE(check.ok);
  CHECK(check.status == "missing");
  CHECK(check.fix == "create `_acme-challenge.example.com. CNAME challenges.example.net.`");
}

TEST_CASE("a CNAME pointing elsewhere is wrong, naming where it points now", "[verify][dns01]") {
  auto check = lifecycle::classify_challenge_record(found("old.example.org"), "challenges.example.net");
  CHECK_FALSE(check.ok);
  CHECK(check.status == "wrong");
  CHECK(check.fix ==
        "change `_acme-challenge.example.com. CNAME old.example.org.` to "
        "`_acme-challenge.example.com. CNAME challenges.example.net.`");
}

TEST_CASE("a TXT record where the CNAME should be is a duplicate, with the records to delete", "[verify][dns01]") {
  auto check = lifecycle::classify_challenge_record(found("", {"abc", "def"}), "challenges.example.net");
  CHECK_FALSE(check.ok);
  CHECK(check.status == "duplicate");
  CHECK(check.fix ==
        "delete `_acme-challenge.example.com. TXT \"abc\"`, `_acme-challenge.example.com. TXT \"def\"`, then "
        "create `_acme-challenge.example.com. CNAME challenges.example.net.`");
}

TEST_CASE("without an alias a CNAME is followed and stale TXT values are a warning", "[verify][dns01]") {
  auto delegated = lifecycle::classify_challenge_record(found("elsewhere.example.net"), "");
  CHECK(delegated.ok);
  CHECK(delegated.message.find("delegated to elsewhere.example.net") != std::string::npos);
  auto stale = lifecycle::classify_challenge_record(found("", {"old"}), "");
  CHECK(stale.ok);
  CHECK(stale.warning);
  CHECK(stale.status == "valid");
  auto free = lifecycle::classify_challenge_record(found(""), "");
  CHECK(free.ok);
  CHECK_FALSE(free.warning);
}

TEST_CASE("an ownership token lasts 30 days and is missing until made", "[verify][ownership]") {
  const TimePoint now = parse_rfc3339("2026-11-28T10:00:00Z");
  store::DomainRecord record;
  CHECK(lifecycle::ownership_token_expired(record.verification, now));
  lifecycle::new_ownership_token(record, now);
  CHECK(record.verification.ownership_token.size() == 43);  // 32 bytes, base64url without padding
  CHECK_FALSE(lifecycle::ownership_token_expired(record.verification, now + std::chrono::hours{24 * 30 - 1}));
  CHECK(lifecycle::ownership_token_expired(record.verification, now + std::chrono::hours{24 * 30}));
  std::string first = record.verification.ownership_token;
  lifecycle::new_ownership_token(record, now);
  CHECK(record.verification.ownership_token != first);
}

TEST_CASE("the ownership record of a wildcard is its base name's", "[verify][ownership]") {
  CHECK(lifecycle::ownership_record_name("*.example.com") == "_certcli-verify.example.com");
  CHECK(lifecycle::ownership_record_name("example.com") == "_certcli-verify.example.com");
}

TEST_CASE("require_passed names the first failing check with its fix and counts the others", "[verify]") {
  lifecycle::VerifyReport report;
  report.domain = "example.com";
  report.names.push_back({"example.com", "dns-01",
                          {{"dns-01", false, false, "missing", "no CNAME", "create it"}, {"caa", false, false, "forbidden", "x", "y"}}});
  report.names.push_back({"www.example.com", "http-01", {{"address", true, false, "valid", "ok", ""}}});
  CHECK_FALSE(report.ok());
  try {
    lifecycle::require_passed(report);
    FAIL("require_passed returned");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::preflight);
    CHECK(error.hint() == "create it");
    CHECK(std::string(error.what()).find("example.com: dns-01 check failed: no CNAME (1 other check failed") == 0);
  }
  report.names.front().checks.clear();
  CHECK_NOTHROW(lifecycle::require_passed(report));
}

TEST_CASE("a directory's caaIdentities are kept as DNS names and bad entries skipped", "[verify][acme]") {
  auto meta = nlohmann::json::parse(R"({"caaIdentities": ["LetsEncrypt.org", "not a name", 7, "*.x.example", "letsencrypt.org", "ca.example"]})");
  CHECK(acme::parse_caa_identities(meta) == std::vector<std::string>{"letsencrypt.org", "ca.example"});
  CHECK(acme::parse_caa_identities(nlohmann::json::object()).empty());
  CHECK(acme::parse_caa_identities(nlohmann::json::parse(R"({"caaIdentities": "letsencrypt.org"})")).empty());
}
