// Where the first poll goes: at the CA's learned validation or issuance time, or where its
// Retry-After says; and what a wait teaches. The CA here is a transport whose authorization
// turns valid a set time after the challenge is answered, on a clock that moves only by sleeps.
#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "temp_dir.hpp"

using namespace certcli;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST_CASE("the first poll waits the fallback until the CA has been measured, then its typical time") {
  acme::LatencyEstimate unknown;
  CHECK(acme::first_poll_delay(unknown, 300ms) == 300ms);
  acme::LatencyEstimate known{40ms, 3};
  CHECK(acme::first_poll_delay(known, 300ms) == 40ms);
  acme::LatencyEstimate absurd{10min, 3};
  CHECK(acme::first_poll_delay(absurd, 300ms) == 30s);
  acme::LatencyEstimate zero{0ms, 3};
  CHECK(acme::first_poll_delay(zero, 300ms) == 20ms);
}

TEST_CASE("a first poll that finds the work done shrinks the estimate, fast while samples are few") {
  acme::LatencyEstimate estimate;
  acme::learn_latency(estimate, 1000ms, true, 1000ms);
  CHECK(estimate.samples == 1);
  CHECK(estimate.typical == 700ms);
  for (int i = 0; i < 7; ++i) acme::learn_latency(estimate, estimate.typical, true, estimate.typical);
  CHECK(estimate.samples == 8);
  CHECK(estimate.typical < 60ms);
  const milliseconds before = estimate.typical;
  acme::learn_latency(estimate, estimate.typical, true, estimate.typical);
  CHECK(estimate.typical < before);
  CHECK(estimate.typical >= before * 9 / 10);  // 3% a time once the CA's speed is found
  for (int i = 0; i < 500; ++i) acme::learn_latency(estimate, estimate.typical, true, estimate.typical);
  CHECK(estimate.typical == 20ms);  // never below the shortest first poll
}

TEST_CASE("a first poll that comes too early moves the estimate past what was observed") {
  acme::LatencyEstimate estimate{20ms, 2};
  acme::learn_latency(estimate, 20ms, false, 100ms);
  CHECK(estimate.typical == 125ms);
  CHECK(estimate.samples == 3);
  acme::learn_latency(estimate, 125ms, false, 10min);
  CHECK(estimate.typical == 30s);  // never beyond the longest first poll
}

TEST_CASE("a first poll a Retry-After placed late teaches no more than the estimate already knew") {
  acme::LatencyEstimate estimate{40ms, 20};
  acme::learn_latency(estimate, 2s, true, 2s);
  CHECK(estimate.typical < 40ms);
}

TEST_CASE("after a pending poll the next one comes half the first delay later, doubling to 5 s") {
  acme::LatencyEstimate known{80ms, 9};
  milliseconds backoff = acme::next_poll_backoff(known, 80ms, 0ms);
  CHECK(backoff == 40ms);
  backoff = acme::next_poll_backoff(known, 80ms, backoff);
  CHECK(backoff == 80ms);
  CHECK(acme::next_poll_backoff(known, 20ms, 0ms) == 20ms);
  CHECK(acme::next_poll_backoff(known, 40ms, 4s) == 5s);
  acme::LatencyEstimate unknown;
  CHECK(acme::next_poll_backoff(unknown, 300ms, 0ms) == 250ms);
}

namespace {

// Time moves only when certcli sleeps; both readings move together, at millisecond resolution.
class SleepClock final : public Clock {
 public:
  TimePoint now() const override {
    return start_ + std::chrono::duration_cast<std::chrono::seconds>(elapsed_);
  }
  std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::time_point{} + elapsed_; }
  void sleep_for(milliseconds d) override { elapsed_ += d; }
  milliseconds elapsed() const { return elapsed_; }

 private:
  TimePoint start_ = parse_rfc3339("2026-03-01T00:00:00Z");
  milliseconds elapsed_{0};
};

// One authorization that turns valid `validation` after its challenge is answered; the answer
// carries Retry-After when `retry_after` is set. Counts the authorization polls.
class TimedCa final : public net::HttpTransport {
 public:
  TimedCa(const SleepClock& clock, milliseconds validation) : clock_(clock), validation_(validation) {}
  net::HttpResponse get(const std::string&) override {
    ++requests_;
    return {200, {}, R"({"newNonce": "https://ca.test/nonce", "newAccount": "https://ca.test/acct",
                         "newOrder": "https://ca.test/order"})"};
  }
  net::HttpResponse head(const std::string&) override {
    ++requests_;
    return {200, {{"replay-nonce", "n" + std::to_string(requests_)}}, ""};
  }
  net::HttpResponse post(const std::string& url, const std::string&, const std::string&) override {
    ++requests_;
    net::HttpResponse response{200, {{"replay-nonce", "n" + std::to_string(requests_)}}, ""};
    if (url == "https://ca.test/chall/1") {
      answered_at_ = clock_.elapsed();
      if (!retry_after.empty()) response.headers.emplace_back("retry-after", retry_after);
      response.body = R"({"type": "http-01", "url": "https://ca.test/chall/1", "token": "tok", "status": "processing"})";
      return response;
    }
    ++polls;
    poll_times.push_back(clock_.elapsed() - answered_at_);
    const bool done = clock_.elapsed() - answered_at_ >= validation_;
    response.body = nlohmann::json{{"status", done ? "valid" : "pending"},
                                   {"identifier", {{"type", "dns"}, {"value", "a.example"}}},
                                   {"challenges", nlohmann::json::array()}}
                        .dump();
    return response;
  }
  long request_count() const override { return requests_; }
  std::string retry_after;
  int polls = 0;
  std::vector<milliseconds> poll_times;

 private:
  const SleepClock& clock_;
  milliseconds validation_;
  milliseconds answered_at_{0};
  long requests_ = 0;
};

acme::Challenge pending_challenge() {
  acme::Challenge c;
  c.type = "http-01";
  c.url = "https://ca.test/chall/1";
  c.token = "tok";
  c.status = "pending";
  return c;
}

// A client of a TimedCa whose validation takes `validation`, knowing `timing` of it, with its
// challenge answered at the clock's start; wait() polls until the authorization is valid.
struct AnsweredChallenge {
  AnsweredChallenge(milliseconds validation, acme::CaTiming timing, std::string retry_after = {})
      : ca(clock, validation), client(ca, clock, "https://ca.test/dir") {
    ca.retry_after = std::move(retry_after);
    client.use_account(key, "https://ca.test/acct/1");
    client.set_timing(timing);
    retry = client.answer_challenge(pending_challenge());
  }
  acme::Authorization wait() {
    return client.wait_for_authorization("https://ca.test/authz/1", clock.steady_now(), retry);
  }
  SleepClock clock;
  TimedCa ca;
  acme::Client client;
  crypto::PrivateKey key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  std::optional<TimePoint> retry;
};

}  // namespace

TEST_CASE("a measured CA is polled once, at its typical validation time, and the estimate creeps down") {
  AnsweredChallenge run(30ms, {{40ms, 20}, {}});
  CHECK_FALSE(run.retry);
  CHECK(run.wait().status == "valid");
  CHECK(run.ca.polls == 1);
  REQUIRE(run.ca.poll_times.size() == 1);
  CHECK(run.ca.poll_times[0] == 40ms);
  CHECK(run.client.timing().validation.typical < 40ms);
  CHECK(run.client.timing().validation.samples == 21);
}

TEST_CASE("a CA slower than its estimate is polled in small steps, and the estimate moves past it") {
  AnsweredChallenge run(100ms, {{40ms, 4}, {}});  // a few samples only: the new one is taken whole
  run.wait();
  // 40, then +20, +40: seen valid at 100 ms.
  CHECK(run.ca.poll_times == std::vector<milliseconds>{40ms, 60ms, 100ms});
  CHECK(run.client.timing().validation.typical == 125ms);  // 100 ms with a quarter's margin
  CHECK(run.client.timing().validation.samples == 5);
  // The next wait at this CA finds it done at the first poll.
  AnsweredChallenge next(100ms, run.client.timing());
  next.wait();
  CHECK(next.ca.polls == 1);
}

TEST_CASE("an unmeasured CA is polled 50 ms after the answer, then 250 ms later doubling") {
  AnsweredChallenge run(1000ms, {});
  run.wait();
  CHECK(run.ca.poll_times == std::vector<milliseconds>{50ms, 300ms, 800ms, 1800ms});
  CHECK(run.client.timing().validation.samples == 1);
  CHECK(run.client.timing().validation.typical == 2250ms);  // the first sample is taken whole
}

TEST_CASE("once the CA's speed is known, one slow wait at most doubles the estimate") {
  acme::LatencyEstimate estimate{20ms, 50};
  acme::learn_latency(estimate, 20ms, false, 1300ms);  // a dropped connection, say
  CHECK(estimate.typical == 40ms);
  acme::learn_latency(estimate, 40ms, false, 1300ms);  // and again: the CA did slow down
  CHECK(estimate.typical == 80ms);
  acme::LatencyEstimate early{20ms, 3};
  acme::learn_latency(early, 20ms, false, 1300ms);  // while few samples are in, taken whole
  CHECK(early.typical == 1625ms);
}

TEST_CASE("a Retry-After on the challenge answer wins over the learned time") {
  AnsweredChallenge run(30ms, {{40ms, 20}, {}}, "3");
  REQUIRE(run.retry);
  run.wait();
  REQUIRE(run.ca.poll_times.size() == 1);
  CHECK(run.ca.poll_times[0] >= 2s);  // the header's 3 s, counted on the seconds clock
  CHECK(run.client.timing().validation.typical < 40ms);
}

TEST_CASE("the learned timing is kept beside the CA's accounts, 0600, and a damaged file is named") {
  certcli::testing::TempDir dir;
  auto store = store::open_file_store(dir.path / "home");
  CHECK_FALSE(store->load_ca_timing("pebble-test"));
  store::CaTimingRecord timing{42, 17, 8, 16};
  store->save_ca_timing("pebble-test", timing);
  auto loaded = store->load_ca_timing("pebble-test");
  REQUIRE(loaded);
  CHECK(*loaded == timing);
  const auto file = dir.path / "home" / "accounts" / "pebble-test" / "timing.toml";
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ofstream(file) << "[validation]\ntypical_ms = \"soon\"\n";
  try {
    store->load_ca_timing("pebble-test");
    FAIL("a damaged timing.toml was read");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK(std::string(e.what()).find("timing.toml") != std::string::npos);
  }
}
