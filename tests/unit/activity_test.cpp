// certcli wait (wait_for_domain over a real file store, time moved by a test clock) and the
// activity log (stamping, rotation, reading damaged and rotated files).
#include <certcli/activity.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

// Sleeping advances time; `on_sleep` plays the other certcli that writes the record meanwhile.
class StepClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds duration) override {
    now_ += std::chrono::duration_cast<std::chrono::seconds>(duration);
    ++sleeps;
    if (on_sleep) on_sleep(sleeps);
  }
  std::function<void(int)> on_sleep;
  int sleeps = 0;

 private:
  TimePoint now_{std::chrono::seconds{1764000000}};
};

store::DomainRecord record_with(store::CertificateStatus status) {
  store::DomainRecord r;
  r.name = "wait.example.com";
  r.names = {r.name};
  r.status = status;
  return r;
}

struct Notes {
  std::vector<std::string> lines;
  lifecycle::Progress progress() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
};

}  // namespace

TEST_CASE("a recorded error type gives the exit kind of the error that made it", "[wait]") {
  CHECK(lifecycle::kind_of_recorded_error("certcli:network") == ErrorKind::network);
  CHECK(lifecycle::kind_of_recorded_error("certcli:retry-later") == ErrorKind::retry_later);
  CHECK(lifecycle::kind_of_recorded_error("certcli:ca-misbehaved") == ErrorKind::ca_rejected);
  CHECK(lifecycle::kind_of_recorded_error("urn:ietf:params:acme:error:connection") == ErrorKind::challenge);
  CHECK(lifecycle::kind_of_recorded_error("urn:ietf:params:acme:error:rejectedIdentifier") == ErrorKind::ca_rejected);
  CHECK_FALSE(lifecycle::kind_of_recorded_error("certcli:error"));
  CHECK_FALSE(lifecycle::kind_of_recorded_error("something else"));
}

TEST_CASE("wait returns at once for a ready domain", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(record_with(store::CertificateStatus::ready));
  StepClock clock;
  auto result = lifecycle::wait_for_domain(*store, clock, "wait.example.com", std::nullopt, std::chrono::seconds{1}, {});
  CHECK(result.outcome == lifecycle::WaitOutcome::ready);
  CHECK(clock.sleeps == 0);
}

TEST_CASE("wait returns the recorded error of a failed domain", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  auto r = record_with(store::CertificateStatus::failed);
  r.error = store::RecordedError{"urn:ietf:params:acme:error:connection", "could not connect", "open port 80"};
  store->save_domain(r);
  StepClock clock;
  auto result = lifecycle::wait_for_domain(*store, clock, "wait.example.com", std::nullopt, std::chrono::seconds{1}, {});
  CHECK(result.outcome == lifecycle::WaitOutcome::failed);
  REQUIRE(result.record.error);
  CHECK(result.record.error->detail == "could not connect");
}

TEST_CASE("wait times out on a pending domain and says once that nothing is issuing it", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(record_with(store::CertificateStatus::pending));
  StepClock clock;
  Notes notes;
  auto result = lifecycle::wait_for_domain(*store, clock, "wait.example.com", std::chrono::seconds{5},
                                           std::chrono::seconds{1}, notes.progress());
  CHECK(result.outcome == lifecycle::WaitOutcome::timed_out);
  CHECK(result.waited == std::chrono::seconds{5});
  REQUIRE(notes.lines.size() == 1);
  CHECK(notes.lines[0] == "waiting for a certcli issue/renew to run for wait.example.com");
}

TEST_CASE("wait returns as soon as another certcli marks the domain ready", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(record_with(store::CertificateStatus::pending));
  StepClock clock;
  clock.on_sleep = [&](int sleeps) {
    if (sleeps == 2) store->save_domain(record_with(store::CertificateStatus::issuing));
    if (sleeps == 4) store->save_domain(record_with(store::CertificateStatus::ready));
  };
  Notes notes;
  auto result = lifecycle::wait_for_domain(*store, clock, "wait.example.com", std::chrono::seconds{60},
                                           std::chrono::seconds{2}, notes.progress());
  CHECK(result.outcome == lifecycle::WaitOutcome::ready);
  CHECK(clock.sleeps == 4);
  CHECK(result.waited == std::chrono::seconds{8});
  // issuing with nobody holding the domain's lock reads as an interrupted run, said once.
  REQUIRE(notes.lines.size() == 2);
  CHECK(notes.lines[1].find("interrupted") != std::string::npos);
}

TEST_CASE("wait does not take a failed record for the answer while a run holds the domain", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(record_with(store::CertificateStatus::failed));
  auto held = store->lock_domain("wait.example.com", std::chrono::seconds{1});
  // flock is per open file, so the lock held here counts as another run's.
  REQUIRE(store->is_domain_locked("wait.example.com"));
  StepClock clock;
  auto result = lifecycle::wait_for_domain(*store, clock, "wait.example.com", std::chrono::seconds{3},
                                           std::chrono::seconds{1}, {});
  CHECK(result.outcome == lifecycle::WaitOutcome::timed_out);
}

TEST_CASE("wait names a domain that was never added", "[wait]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  StepClock clock;
  try {
    lifecycle::wait_for_domain(*store, clock, "nothing.example.com", std::nullopt, std::chrono::seconds{1}, {});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::not_found);
  }
}

TEST_CASE("every activity event carries the uid and the command, and never key material", "[activity]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->set_activity_command("domain add");
  store->append_activity({{"time", "2026-11-25T16:38:16Z"}, {"event", "domain.added"}, {"domain", "a.example.com"}});
  store->append_activity({{"time", "2026-11-25T16:38:17Z"},
                          {"event", "oops"},
                          {"detail", "-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----\n"}});
  auto log = lifecycle::read_activity(dir.path, {});
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[0]["uid"] == static_cast<long long>(::geteuid()));
  CHECK(log.events[0]["command"] == "domain add");
  CHECK(files::read_file(dir.path / "activity.jsonl").find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE("the activity log is rotated past 8 MiB, kept, and read oldest first", "[activity]") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  std::string old_line = R"({"time":"2026-01-01T00:00:00Z","event":"old.event","pad":")" + std::string(200, 'x') + "\"}\n";
  std::string big;
  while (big.size() < 8 * 1024 * 1024) big += old_line;
  files::write_file_atomic(dir.path / "activity.jsonl", big, fs::perms::owner_read | fs::perms::owner_write);

  store->append_activity({{"time", "2026-02-01T00:00:00Z"}, {"event", "new.event"}});
  auto rotated = lifecycle::activity_files(dir.path);
  REQUIRE(rotated.size() == 2);
  CHECK(rotated[0].filename().string().starts_with("activity.jsonl.20"));
  CHECK(fs::file_size(rotated[0]) == big.size());
  CHECK(fs::file_size(dir.path / "activity.jsonl") < 200);

  auto log = lifecycle::read_activity(dir.path, {});
  CHECK(log.events.front()["event"] == "old.event");
  CHECK(log.events.back()["event"] == "new.event");
  CHECK(log.damaged.empty());
}

TEST_CASE("a damaged activity line is skipped and named, and filters select by domain and time", "[activity]") {
  std::string text =
      R"({"time":"2026-01-01T00:00:00Z","event":"domain.added","domain":"a.example.com"})" "\n"
      R"({"time":"2026-01-02T00:00:00Z","event":"domain.add)" "\n"
      "\n"
      R"({"time":"2026-01-03T00:00:00Z","event":"domain.added","domain":"b.example.com"})" "\n"
      R"([1,2])" "\n"
      R"({"time":"2026-01-04T00:00:00Z","event":"domain.removed","domain":"a.example.com"})";
  lifecycle::ActivityLog all;
  lifecycle::parse_activity(text, "activity.jsonl", {}, all);
  CHECK(all.events.size() == 3);
  REQUIRE(all.damaged.size() == 2);
  CHECK(all.damaged[0].starts_with("activity.jsonl line 2:"));
  CHECK(all.damaged[1].starts_with("activity.jsonl line 5:"));

  lifecycle::ActivityLog of_a;
  lifecycle::parse_activity(text, "activity.jsonl",
                            {"a.example.com", parse_rfc3339("2026-01-02T00:00:00Z")}, of_a);
  REQUIRE(of_a.events.size() == 1);
  CHECK(of_a.events[0]["event"] == "domain.removed");
}
