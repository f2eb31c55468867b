// The rate-limit budget: Let's Encrypt's sliding windows walked with a moved clock.
#include <certcli/lifecycle.hpp>
#include <certcli/limits.hpp>
#include <certcli/store.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace certcli;
using namespace std::chrono_literals;

namespace {

const TimePoint kStart = parse_rfc3339("2026-03-01T00:00:00Z");
const std::string kCa = "https://acme-v02.api.letsencrypt.org/directory";
const std::string kAccount = "https://acme-v02.api.letsencrypt.org/acme/acct/1";
const limits::CaLimits kLetsEncrypt = limits::published_limits("letsencrypt");

limits::Entry certificate(TimePoint at, std::vector<std::string> names, bool renewal = false) {
  return {at, limits::Event::certificate, kCa, kAccount, std::move(names), renewal, false};
}
limits::Entry order(TimePoint at, std::vector<std::string> names, std::string account = kAccount) {
  return {at, limits::Event::order, kCa, std::move(account), std::move(names), false, false};
}
limits::Planned planned(std::vector<std::string> names, bool renewal = false, bool ari = false) {
  return {kCa, kAccount, std::move(names), renewal, ari};
}

const limits::Budget* budget_of(const limits::Decision& decision, limits::Scope scope) {
  for (const auto& b : decision.budgets)
    if (b.limit.scope == scope) return &b;
  return nullptr;
}

}  // namespace

TEST_CASE("names under one registered domain share one budget of 50 certificates per 7 days") {
  CHECK(limits::registered_domains({"a.example.co.uk", "b.example.co.uk"}) == std::vector<std::string>{"example.co.uk"});
  // 49 certificates for a.example.co.uk and b.example.co.uk, one every hour (distinct names each
  // time so that the duplicate limit stays out of the way).
  std::vector<limits::Entry> ledger;
  for (int i = 0; i < 49; ++i)
    ledger.push_back(certificate(kStart + std::chrono::hours{i},
                                 {fmt::format("{}{}.example.co.uk", i % 2 ? "a" : "b", i)}));
  const TimePoint now = kStart + 60h;
  // The 50th: allowed, and close to the limit.
  auto fiftieth = limits::decide(ledger, kLetsEncrypt, planned({"a.example.co.uk"}), now);
  CHECK(fiftieth.verdict == limits::Verdict::close);
  REQUIRE(budget_of(fiftieth, limits::Scope::registered_domain));
  CHECK(budget_of(fiftieth, limits::Scope::registered_domain)->subject == "example.co.uk");
  CHECK(budget_of(fiftieth, limits::Scope::registered_domain)->left == 1);
  ledger.push_back(certificate(now, {"a.example.co.uk"}));
  // The 51st, for the other name: refused, free again 7 days after the first.
  auto fifty_first = limits::decide(ledger, kLetsEncrypt, planned({"b.example.co.uk"}), now + 1min);
  CHECK(fifty_first.verdict == limits::Verdict::refused);
  REQUIRE(fifty_first.retry_at);
  CHECK(*fifty_first.retry_at == kStart + std::chrono::days{7});
  CHECK(budget_of(fifty_first, limits::Scope::registered_domain)->used == 50);
  CHECK(budget_of(fifty_first, limits::Scope::registered_domain)->left == 0);
  // A second before the first leaves the window: still refused; at that moment: allowed.
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"b.example.co.uk"}), kStart + std::chrono::days{7} - 1s).verdict ==
        limits::Verdict::refused);
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"b.example.co.uk"}), kStart + std::chrono::days{7}).verdict !=
        limits::Verdict::refused);
  // Another registered domain is not touched.
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"www.example.com"}), now).verdict == limits::Verdict::ok);
}

TEST_CASE("a renewal is exempt from the registered domain limit but not from the duplicate limit") {
  std::vector<limits::Entry> ledger;
  for (int i = 0; i < 50; ++i) ledger.push_back(certificate(kStart + std::chrono::minutes{i}, {fmt::format("n{}.example.com", i)}));
  const TimePoint now = kStart + 1h;
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"new.example.com"}), now).verdict == limits::Verdict::refused);
  // Same exact names as a certificate issued before (the ledger knows n3): a renewal.
  auto renewal = limits::decide(ledger, kLetsEncrypt, planned({"n3.example.com"}), now);
  CHECK(renewal.verdict != limits::Verdict::refused);
  CHECK(budget_of(renewal, limits::Scope::registered_domain)->exempt);
  CHECK_FALSE(budget_of(renewal, limits::Scope::exact_names)->exempt);
  // The record may know it too (its live certificate's names).
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"old.example.com"}, /*renewal=*/true), now).verdict !=
        limits::Verdict::refused);
  // An ARI renewal (replaces) is exempt from every limit.
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"new.example.com"}, false, /*ari=*/true), now).verdict ==
        limits::Verdict::ok);
}

TEST_CASE("the duplicate certificate limit allows 5 certificates for the same names per 7 days") {
  std::vector<limits::Entry> ledger;
  const std::vector<std::string> names = {"example.org", "www.example.org"};
  for (int day = 0; day < 4; ++day) ledger.push_back(certificate(kStart + std::chrono::days{day}, names));
  const TimePoint now = kStart + std::chrono::days{4};
  // The order of the names does not matter; the 5th is allowed, close to the limit.
  auto fifth = limits::decide(ledger, kLetsEncrypt, planned({"www.example.org", "example.org"}), now);
  CHECK(fifth.verdict == limits::Verdict::close);
  CHECK(budget_of(fifth, limits::Scope::exact_names)->subject == "example.org,www.example.org");
  ledger.push_back(certificate(now, names));
  auto sixth = limits::decide(ledger, kLetsEncrypt, planned(names), now + 1h);
  CHECK(sixth.verdict == limits::Verdict::refused);
  CHECK(*sixth.retry_at == kStart + std::chrono::days{7});
  // A subset is another set of names.
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"example.org"}), now + 1h).verdict == limits::Verdict::ok);
  // An ARI renewal is exempt even from this one.
  CHECK(limits::decide(ledger, kLetsEncrypt, planned(names, true, true), now + 1h).verdict == limits::Verdict::ok);
}

TEST_CASE("an account may place 300 new orders per 3 hours") {
  std::vector<limits::Entry> ledger;
  for (int i = 0; i < 300; ++i) ledger.push_back(order(kStart + std::chrono::seconds{i * 30}, {fmt::format("o{}.example.net", i)}));
  const TimePoint now = kStart + 2h + 40min;  // the 300th was at 2 h 29 min 30 s
  auto refused = limits::decide(ledger, kLetsEncrypt, planned({"fresh.example.net"}), now);
  CHECK(refused.verdict == limits::Verdict::refused);
  CHECK(budget_of(refused, limits::Scope::account)->used == 300);
  CHECK(*refused.retry_at == kStart + 3h);  // the first order leaves the window
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"fresh.example.net"}), kStart + 3h).verdict ==
        limits::Verdict::close);
  // Another account, and a new account (none stored yet), have their own budget.
  limits::Planned other = planned({"fresh.example.net"});
  other.account = "https://acme-v02.api.letsencrypt.org/acme/acct/2";
  CHECK(limits::decide(ledger, kLetsEncrypt, other, now).verdict == limits::Verdict::ok);
  other.account.clear();
  CHECK(limits::decide(ledger, kLetsEncrypt, other, now).verdict == limits::Verdict::ok);
  // Orders are not certificates: no registered-domain budget was spent.
  auto budgets = limits::budgets(ledger, kLetsEncrypt, kCa, now);
  REQUIRE(budgets.size() == 1);
  CHECK(budgets[0].limit.scope == limits::Scope::account);
  CHECK(budgets[0].left == 0);
  CHECK(*budgets[0].frees_at == kStart + 3h);
}

TEST_CASE("a CA without published limits is counted but never refused") {
  CHECK(limits::published_limits("custom").limits.empty());
  CHECK(limits::published_limits("zerossl").limits.empty());
  CHECK(limits::published_limits("letsencrypt-staging").limits.size() == 3);
  std::vector<limits::Entry> ledger;
  for (int i = 0; i < 100; ++i) ledger.push_back(certificate(kStart, {"same.example.com"}));
  CHECK(limits::decide(ledger, limits::published_limits("custom"), planned({"same.example.com"}), kStart + 1h).verdict ==
        limits::Verdict::ok);
}

TEST_CASE("entries of another CA do not count against this one") {
  std::vector<limits::Entry> ledger;
  for (int i = 0; i < 5; ++i) {
    auto e = certificate(kStart, {"x.example.com"});
    e.ca = "https://acme-staging-v02.api.letsencrypt.org/directory";
    ledger.push_back(e);
  }
  CHECK(limits::decide(ledger, kLetsEncrypt, planned({"x.example.com"}), kStart + 1h).verdict == limits::Verdict::ok);
}

TEST_CASE("the ledger keeps 7 days and reads back what it wrote") {
  std::vector<limits::Entry> ledger = {certificate(kStart, {"b.example.com", "a.example.com"}, true),
                                       order(kStart + std::chrono::days{6}, {"a.example.com"})};
  auto kept = limits::prune(ledger, kStart + std::chrono::days{7});
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].event == limits::Event::order);
  auto back = limits::parse(limits::serialize(ledger), "rate-limits.json");
  REQUIRE(back.size() == 2);
  CHECK(back[0].time == kStart);
  CHECK(back[0].names == std::vector<std::string>{"a.example.com", "b.example.com"});
  CHECK(back[0].renewal);
  CHECK(back[1].account == kAccount);
  CHECK_THROWS_AS(limits::parse("{\"entries\": 3}", "rate-limits.jsonl"), Error);
  CHECK_THROWS_AS(limits::parse("not json", "rate-limits.jsonl"), Error);
}

TEST_CASE("the ledger is one entry per line; a last line a crash cut short is skipped, a bad one before it is named") {
  const std::string first = limits::serialize_entry(certificate(kStart, {"a.example.com"}));
  const std::string second = limits::serialize_entry(order(kStart + 1h, {"b.example.com"}));
  CHECK(first.back() == '\n');
  CHECK(std::count(first.begin(), first.end(), '\n') == 1);
  CHECK(limits::parse(first + second, "rate-limits.jsonl").size() == 2);
  CHECK(limits::parse(first + second.substr(0, second.size() / 2), "rate-limits.jsonl").size() == 1);
  try {
    limits::parse(first + "{\"time\": \n" + second, "rate-limits.jsonl");
    FAIL("a damaged line was read");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK(std::string(e.what()).find("line 2") != std::string::npos);
  }
  // The first format, one document, is still read.
  const std::string old_format = R"({"version": 1, "entries": [{"time": "2026-03-01T00:00:00Z", "event": "certificate",
      "ca": "https://acme-v02.api.letsencrypt.org/directory", "names": ["a.example.com"]}]})";
  auto old = limits::parse(old_format, "rate-limits.json");
  REQUIRE(old.size() == 1);
  CHECK(old[0].time == kStart);
}

TEST_CASE("events after a process's first are appended as lines, and an earlier certcli's ledger is carried over") {
  testing::TempDir home;
  auto store = store::open_file_store(home.path);
  const auto ca = lifecycle::select_ca("letsencrypt", "", false);
  store::DomainRecord record;
  record.name = "a.example.com";
  record.names = {"a.example.com"};
  // What certcli wrote before the ledger was kept in lines: a week-old entry and a fresh one.
  const std::string old_format = fmt::format(
      R"({{"version": 1, "entries": [{{"time": "{}", "event": "certificate", "ca": "{}", "names": ["old.example.com"]}},
      {{"time": "{}", "event": "order", "ca": "{}", "names": ["kept.example.com"]}}]}})",
      format_rfc3339(kStart - std::chrono::days{8}), ca.directory_url, format_rfc3339(kStart - 1h), ca.directory_url);
  {
    std::ofstream out(home.path / "rate-limits.json");
    out << old_format;
  }
  for (int i = 0; i < 5; ++i)
    CHECK(limits::record_event(*store, kStart + std::chrono::minutes{i}, limits::Event::order, ca.directory_url, "",
                               record, false).empty());
  CHECK_FALSE(std::filesystem::exists(home.path / "rate-limits.json"));
  std::ifstream in(home.path / "rate-limits.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  // The week-old entry is gone; the fresh one and the five events are there, one per line.
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].find("kept.example.com") != std::string::npos);
  const auto entries = limits::parse(*store->load_ledger(), store->ledger_location());
  CHECK(entries.size() == 6);
  CHECK(entries.back().time == kStart + std::chrono::minutes{4});
  // An append a crash cut short: the next one cuts it off and stands on a line of its own.
  {
    std::ofstream out(home.path / "rate-limits.jsonl", std::ios::app);
    out << R"({"time": "2026-03-01T00:0)";
  }
  CHECK(limits::record_event(*store, kStart + 1h, limits::Event::certificate, ca.directory_url, "", record, false).empty());
  const auto after = limits::parse(*store->load_ledger(), store->ledger_location());
  REQUIRE(after.size() == 7);
  CHECK(after.back().event == limits::Event::certificate);
}

TEST_CASE("custom limits for tests parse and reject what they do not know") {
  auto custom = limits::parse_custom_limits("certificates_per_domain=2,duplicates=1,orders=3");
  REQUIRE(custom.limits.size() == 3);
  CHECK(custom.limits[0].count == 2);
  CHECK(custom.limits[2].window == std::chrono::hours{3});
  CHECK_THROWS_AS(limits::parse_custom_limits("certs=2"), Error);
  CHECK_THROWS_AS(limits::parse_custom_limits("orders=x"), Error);
}

TEST_CASE("the budget check refuses before an order and the ledger counts through the file store") {
  testing::TempDir home;
  auto store = store::open_file_store(home.path);
  const auto ca = lifecycle::select_ca("letsencrypt", "", false);
  store::DomainRecord record;
  record.name = "a.example.co.uk";
  record.names = {"a.example.co.uk"};
  limits::Settings settings;
  settings.custom = limits::parse_custom_limits("certificates_per_domain=2");
  // With 2 allowed, the first already leaves the last one: a warning, not a refusal.
  CHECK_FALSE(limits::check_budget(*store, kStart, ca, ca.id, record, false, settings).empty());
  CHECK(limits::record_event(*store, kStart, limits::Event::certificate, ca.directory_url, "", record, false).empty());
  // The same names again are a renewal (the ledger knows them): exempt from this limit.
  CHECK(limits::check_budget(*store, kStart + 1h, ca, ca.id, record, false, settings).empty());
  // Another name under the same registered domain: the second, allowed; the third, refused.
  record.name = "b.example.co.uk";
  record.names = {"b.example.co.uk"};
  CHECK_FALSE(limits::check_budget(*store, kStart + 1h, ca, ca.id, record, false, settings).empty());
  CHECK(limits::record_event(*store, kStart + 1h, limits::Event::certificate, ca.directory_url, "", record, false).empty());
  record.name = "c.example.co.uk";
  record.names = {"c.example.co.uk"};
  try {
    limits::check_budget(*store, kStart + 2h, ca, ca.id, record, false, settings);
    FAIL("the third certificate was not refused");
  } catch (const limits::LimitReached& e) {
    CHECK(e.kind() == ErrorKind::retry_later);
    CHECK(e.retry_at() == kStart + std::chrono::days{7});
    CHECK(std::string(e.what()).find("example.co.uk") != std::string::npos);
  }
  settings.ignore = true;
  CHECK_FALSE(limits::check_budget(*store, kStart + 2h, ca, ca.id, record, false, settings).empty());
  auto report = limits::report(*store, kStart + 2h, nullptr, settings);
  REQUIRE(report.size() == 1);
  CHECK(report[0].name == "letsencrypt");
  REQUIRE_FALSE(report[0].budgets.empty());
  CHECK(report[0].budgets[0].used == 2);
}

TEST_CASE("renewals running at once cannot all take a budget's last place") {
  testing::TempDir home;
  auto store = store::open_file_store(home.path);
  const auto ca = lifecycle::select_ca("letsencrypt", "", false);
  limits::Settings settings;
  settings.custom = limits::parse_custom_limits("certificates_per_domain=3");
  limits::RunLedger ledger(*store);
  std::atomic<int> allowed{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      store::DomainRecord record;
      record.name = fmt::format("n{}.example.org", i);
      record.names = {record.name};
      try {
        (void)ledger.check_and_hold(kStart, ca, ca.id, record, false, settings);
        ++allowed;
      } catch (const limits::LimitReached&) {
        ++refused;
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(allowed == 3);
  CHECK(refused == 5);
}

TEST_CASE("a failed renewal frees its certificate's place in the run's ledger") {
  testing::TempDir home;
  auto store = store::open_file_store(home.path);
  const auto ca = lifecycle::select_ca("letsencrypt", "", false);
  limits::Settings settings;
  settings.custom = limits::parse_custom_limits("certificates_per_domain=1");
  limits::RunLedger ledger(*store);
  store::DomainRecord a;
  a.name = "a.example.org";
  a.names = {a.name};
  store::DomainRecord b = a;
  b.name = "b.example.org";
  b.names = {b.name};
  (void)ledger.check_and_hold(kStart, ca, ca.id, a, false, settings);
  CHECK_THROWS_AS(ledger.check_and_hold(kStart, ca, ca.id, b, false, settings), limits::LimitReached);
  ledger.release_certificate(a.name);
  CHECK_NOTHROW(ledger.check_and_hold(kStart, ca, ca.id, b, false, settings));
}
