// The renew verb without a CA: a transport of the test's own stands in for the network, so the
// rules "a domain not due costs no request" and "a failure is recorded with its backoff" are
// pinned exactly, with a clock the test moves.
#include <certcli/lifecycle.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

using certcli::testing::TempDir;

class TestClock final : public Clock {
 public:
  explicit TestClock(TimePoint now) : now_(now) {}
  TimePoint now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds d) override { now_ += std::chrono::duration_cast<std::chrono::seconds>(d); }

 private:
  TimePoint now_;
};

// Every request is counted and answered as an unreachable CA would be.
class UnreachableCa final : public net::HttpTransport {
 public:
  net::HttpResponse get(const std::string& url) override { return refuse(url); }
  net::HttpResponse head(const std::string& url) override { return refuse(url); }
  net::HttpResponse post(const std::string& url, const std::string&, const std::string&) override { return refuse(url); }
  long request_count() const override { return requests_; }

 private:
  net::HttpResponse refuse(const std::string& url) {
    ++requests_;
    throw Error(ErrorKind::network, "cannot connect to " + url, "check the network", url);
  }
  long requests_ = 0;
};

const TimePoint kIssued = parse_rfc3339("2026-01-01T00:00:00Z");

store::DomainRecord ready_domain(const std::string& name, const fs::path& webroot) {
  store::DomainRecord record;
  record.name = name;
  record.names = {name};
  record.status = store::CertificateStatus::ready;
  record.directory_url = "https://ca.test/directory";
  record.challenge.http.webroot = webroot.string();
  record.not_before = kIssued;
  record.issued_at = kIssued;
  record.expires_at = kIssued + 90 * 24h;
  return record;
}

}  // namespace

TEST_CASE("renew asks the CA nothing when no domain is due") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "state");
  for (const char* name : {"a.example.com", "b.example.com"}) store->save_domain(ready_domain(name, dir.path));
  TestClock clock(kIssued + 30 * 24h);
  UnreachableCa ca;
  lifecycle::RenewRequest request;
  auto report = lifecycle::renew_certificates(*store, clock, ca, ca, request, {});
  CHECK(ca.request_count() == 0);
  REQUIRE(report.outcomes.size() == 2);
  for (const auto& outcome : report.outcomes) {
    CHECK(outcome.action == lifecycle::RenewAction::skipped);
    CHECK(outcome.due_at == kIssued + 60 * 24h);
  }
  CHECK_FALSE(report.any_failed());
}

TEST_CASE("a renewal that cannot reach the CA is recorded as failed with its backoff, and the next run skips it") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "state");
  store->save_domain(ready_domain("a.example.com", dir.path));
  TestClock clock(kIssued + 61 * 24h);  // due: under a third of 90 days left
  UnreachableCa ca;
  lifecycle::RenewRequest request;
  auto report = lifecycle::renew_certificates(*store, clock, ca, ca, request, {});
  REQUIRE(report.outcomes.size() == 1);
  CHECK(report.outcomes[0].action == lifecycle::RenewAction::failed);
  CHECK(report.outcomes[0].next_attempt_at == clock.now() + 1h);
  CHECK(ca.request_count() == 3);  // the directory, tried three times (no answer: 1 s, then 2 s later)
  auto record = store->load_domain("a.example.com");
  REQUIRE(record);
  CHECK(record->status == store::CertificateStatus::failed);
  CHECK(record->renewal.failures == 1);
  CHECK(record->error->type == "certcli:network");

  auto again = lifecycle::renew_certificates(*store, clock, ca, ca, request, {});
  CHECK(again.outcomes[0].action == lifecycle::RenewAction::backed_off);
  CHECK(ca.request_count() == 3);  // nothing more: backed off

  clock.sleep_for(61min);
  auto later = lifecycle::renew_certificates(*store, clock, ca, ca, request, {});
  CHECK(later.outcomes[0].action == lifecycle::RenewAction::failed);
  CHECK(later.outcomes[0].next_attempt_at == clock.now() + 2h);
}
