// A signed request that gets no answer at all (reset, refused, timeout) is sent again with a fresh
// nonce, a bounded number of times, waiting on the injected clock; then a clear error.
#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace certcli;
using namespace std::chrono_literals;

namespace {

class MovingClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds d) override {
    now_ += std::chrono::duration_cast<std::chrono::seconds>(d);
    slept_ += d;
  }
  std::chrono::milliseconds slept() const { return slept_; }

 private:
  TimePoint now_ = parse_rfc3339("2026-03-01T00:00:00Z");
  std::chrono::milliseconds slept_{0};
};

// A CA whose newAccount POSTs fail at the transport `failures` times, then succeed.
class FlakyCa final : public net::HttpTransport {
 public:
  explicit FlakyCa(int failures) : failures_(failures) {}
  net::HttpResponse get(const std::string&) override {
    ++requests_;
    return {200, {}, R"({"newNonce": "https://ca.test/nonce", "newAccount": "https://ca.test/acct",
                         "newOrder": "https://ca.test/order"})"};
  }
  net::HttpResponse head(const std::string&) override {
    ++requests_;
    return {200, {{"replay-nonce", "nonce" + std::to_string(requests_)}}, ""};
  }
  net::HttpResponse post(const std::string& url, const std::string&, const std::string& body) override {
    ++requests_;
    const std::string protected_header = nlohmann::json::parse(body)["protected"].get<std::string>();
    nonces_.push_back(nlohmann::json::parse(crypto::base64url_decode(protected_header))["nonce"].get<std::string>());
    if (failures_-- > 0) throw Error(ErrorKind::network, "POST " + url + " failed: Connection reset by peer", "check the network", url);
    return {201, {{"location", "https://ca.test/acct/1"}}, R"({"status": "valid"})"};
  }
  long request_count() const override { return requests_; }
  std::vector<std::string> nonces_;

 private:
  int failures_;
  long requests_ = 0;
};

}  // namespace

TEST_CASE("a POST that gets no answer is sent again with a fresh nonce after a backoff") {
  MovingClock clock;
  FlakyCa ca(2);
  acme::Client client(ca, clock, "https://ca.test/dir");
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  client.use_account(key);
  auto account = client.register_account({}, true);
  CHECK(account.url == "https://ca.test/acct/1");
  REQUIRE(ca.nonces_.size() == 3);
  CHECK(ca.nonces_[0] != ca.nonces_[1]);
  CHECK(ca.nonces_[1] != ca.nonces_[2]);
  CHECK(clock.slept() == 3s);  // 1 s, then 2 s
}

TEST_CASE("a POST that never gets an answer ends after three tries with a network error saying so") {
  MovingClock clock;
  FlakyCa ca(100);
  acme::Client client(ca, clock, "https://ca.test/dir");
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  client.use_account(key);
  try {
    client.register_account({}, true);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find("tried 3 times") != std::string::npos);
    CHECK(std::string(e.what()).find("Connection reset") != std::string::npos);
  }
  CHECK(ca.nonces_.size() == 3);
}

TEST_CASE("transport retries stop at the run's budget") {
  MovingClock clock;
  FlakyCa ca(100);
  acme::Client client(ca, clock, "https://ca.test/dir");
  client.set_time_budget(1s);
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  client.use_account(key);
  CHECK_THROWS_AS(client.register_account({}, true), Error);
  CHECK(ca.nonces_.size() == 2);  // the second backoff (2 s) no longer fits
}

namespace {

// A CA whose directory GET and newNonce HEAD fail `failures` times each (no answer, or the given
// HTTP status), then answer.
class StartingCa final : public net::HttpTransport {
 public:
  StartingCa(int failures, long status) : get_failures_(failures), head_failures_(failures), status_(status) {}
  net::HttpResponse get(const std::string& url) override {
    ++gets_;
    if (get_failures_-- > 0) return fail(url);
    return {200, {}, R"({"newNonce": "https://ca.test/nonce", "newAccount": "https://ca.test/acct",
                         "newOrder": "https://ca.test/order"})"};
  }
  net::HttpResponse head(const std::string& url) override {
    ++heads_;
    if (head_failures_-- > 0) return fail(url);
    return {200, {{"replay-nonce", "nonce" + std::to_string(heads_)}}, ""};
  }
  net::HttpResponse post(const std::string&, const std::string&, const std::string&) override {
    return {500, {}, ""};
  }
  long request_count() const override { return gets_ + heads_; }
  int gets_ = 0;
  int heads_ = 0;

 private:
  net::HttpResponse fail(const std::string& url) {
    if (status_ == 0) throw Error(ErrorKind::network, "GET " + url + " failed: Connection refused", "check the network", url);
    return {status_, {}, "upstream is restarting"};
  }
  int get_failures_;
  int head_failures_;
  long status_;
};

}  // namespace

TEST_CASE("the directory GET and the nonce HEAD are tried again after a 5xx or no answer") {
  for (long status : {0L, 500L, 502L, 504L}) {
    CAPTURE(status);
    MovingClock clock;
    StartingCa ca(2, status);
    acme::Client client(ca, clock, "https://ca.test/dir");
    CHECK(client.directory().new_order == "https://ca.test/order");
    CHECK(ca.gets_ == 3);
    auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
    client.use_account(key);
    CHECK_THROWS_AS(client.register_account({}, true), Error);  // this CA answers every POST 500
    CHECK(ca.heads_ == 3);
    CHECK(clock.slept() == 6s);  // 1 s then 2 s, for each of the two
  }
}

TEST_CASE("a directory that keeps failing ends after three tries, naming what it answered") {
  MovingClock clock;
  StartingCa ca(100, 502);
  acme::Client client(ca, clock, "https://ca.test/dir");
  try {
    client.directory();
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find("HTTP 502") != std::string::npos);
  }
  CHECK(ca.gets_ == 3);

  MovingClock clock2;
  StartingCa silent(100, 0);
  acme::Client client2(silent, clock2, "https://ca.test/dir");
  try {
    client2.directory();
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find("tried 3 times") != std::string::npos);
  }
  CHECK(silent.gets_ == 3);
}

TEST_CASE("a 4xx directory answer is not tried again") {
  MovingClock clock;
  StartingCa ca(100, 404);
  acme::Client client(ca, clock, "https://ca.test/dir");
  CHECK_THROWS_AS(client.directory(), Error);
  CHECK(ca.gets_ == 1);
  CHECK(clock.slept() == 0s);
}
