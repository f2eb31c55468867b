#include <certcli/renewal.hpp>

#include <catch2/catch.hpp>

using namespace certcli;
using namespace std::chrono_literals;

namespace {

constexpr auto kDay = std::chrono::hours{24};
const TimePoint kIssued = parse_rfc3339("2026-01-01T00:00:00Z");

store::DomainRecord certificate_valid_for(std::chrono::hours lifetime) {
  store::DomainRecord record;
  record.name = "example.com";
  record.status = store::CertificateStatus::ready;
  record.not_before = kIssued;
  record.issued_at = kIssued;
  record.expires_at = kIssued + lifetime;
  return record;
}

}  // namespace

TEST_CASE("a 90-day certificate is due once a third of its life is left") {
  auto record = certificate_valid_for(90 * kDay);
  CHECK_FALSE(renewal::renewal_due(record, kIssued + 59 * kDay, {}).due);
  CHECK(renewal::renewal_due(record, kIssued + 60 * kDay, {}).due);
  CHECK(renewal::renewal_due(record, kIssued + 61 * kDay, {}).due_at == kIssued + 60 * kDay);
}

TEST_CASE("a six-day certificate is due with half its life left") {
  auto record = certificate_valid_for(6 * kDay);
  CHECK_FALSE(renewal::renewal_due(record, kIssued + 2 * kDay, {}).due);
  CHECK(renewal::renewal_due(record, kIssued + 3 * kDay, {}).due);
}

TEST_CASE("buffer_days overrides the lifetime rule") {
  auto record = certificate_valid_for(90 * kDay);
  renewal::Policy policy{30};
  CHECK_FALSE(renewal::renewal_due(record, kIssued + 59 * kDay, policy).due);
  CHECK(renewal::renewal_due(record, kIssued + 60 * kDay, policy).due);
  policy.buffer_days = 10;
  CHECK_FALSE(renewal::renewal_due(record, kIssued + 70 * kDay, policy).due);
  CHECK(renewal::renewal_due(record, kIssued + 80 * kDay, policy).due);
}

TEST_CASE("the point chosen in the CA's ARI window comes before buffer days and the lifetime rule") {
  auto record = certificate_valid_for(90 * kDay);
  record.renewal.ari_renew_at = kIssued + 20 * kDay;  // the CA wants it early (say, a revocation ahead)
  CHECK(renewal::renewal_due(record, kIssued + 20 * kDay, {30}).due);
  CHECK(renewal::renewal_due(record, kIssued + 20 * kDay, {30}).reason.find("ARI") != std::string::npos);
  record.renewal.ari_renew_at = kIssued + 85 * kDay;  // or late
  CHECK_FALSE(renewal::renewal_due(record, kIssued + 70 * kDay, {30}).due);
}

TEST_CASE("a domain without a certificate is due at once") {
  store::DomainRecord record;
  CHECK(renewal::renewal_due(record, kIssued, {}).due);
}

TEST_CASE("failed renewals back off 1 h, 2 h, 4 h ... capped at 24 h") {
  CHECK(renewal::backoff_after(1) == 1h);
  CHECK(renewal::backoff_after(2) == 2h);
  CHECK(renewal::backoff_after(3) == 4h);
  CHECK(renewal::backoff_after(5) == 16h);
  CHECK(renewal::backoff_after(6) == 24h);
  CHECK(renewal::backoff_after(100) == 24h);
}

TEST_CASE("each expiry threshold is owed once, most urgent first") {
  auto record = certificate_valid_for(90 * kDay);
  const std::vector<int> thresholds{30, 14, 7};
  CHECK(renewal::alerts_owed(record, kIssued + 59 * kDay, thresholds).empty());       // 31 days left
  CHECK(renewal::alerts_owed(record, kIssued + 61 * kDay, thresholds) == std::vector<int>{30});
  record.renewal.alerts_sent = {30};
  CHECK(renewal::alerts_owed(record, kIssued + 62 * kDay, thresholds).empty());
  CHECK(renewal::alerts_owed(record, kIssued + 85 * kDay, thresholds) == std::vector<int>{7, 14});
  record.renewal.alerts_sent = {30, 14, 7};
  CHECK(renewal::alerts_owed(record, kIssued + 89 * kDay, thresholds).empty());
}

TEST_CASE("days left round down and go negative after expiry") {
  CHECK(renewal::days_left(kIssued + 10 * kDay, kIssued) == 10);
  CHECK(renewal::days_left(kIssued + 10 * kDay - 1s, kIssued) == 9);
  CHECK(renewal::days_left(kIssued, kIssued + 1s) == -1);
}

TEST_CASE("a name the live certificate does not cover makes a domain due at once") {
  auto record = certificate_valid_for(90 * kDay);
  record.names = {"example.com", "www.example.com"};
  record.covered_names = {"example.com"};
  auto decision = renewal::renewal_due(record, kIssued + kDay, {});
  CHECK(decision.due);
  CHECK(decision.reason == "names not covered: www.example.com");
  record.covered_names = {"example.com", "*.example.com"};  // a wildcard covers the new name
  CHECK_FALSE(renewal::renewal_due(record, kIssued + kDay, {}).due);
}

TEST_CASE("a record from before covered names were kept is not due for coverage") {
  auto record = certificate_valid_for(90 * kDay);
  record.names = {"example.com", "www.example.com"};
  CHECK_FALSE(renewal::renewal_due(record, kIssued + kDay, {}).due);
}

TEST_CASE("names_not_covered keeps the record's order and knows a wildcard never covers its apex") {
  CHECK(renewal::names_not_covered({"b.example.com", "example.com", "a.example.com"}, {"*.example.com"}) ==
        std::vector<std::string>{"example.com"});
  CHECK(renewal::names_not_covered({"example.com"}, {}) == std::vector<std::string>{"example.com"});
  // A wildcard domain's own names, held by its certificate, are all covered.
  CHECK(renewal::names_not_covered({"example.com", "*.example.com"}, {"example.com", "*.example.com"}).empty());
}
