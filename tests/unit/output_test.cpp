// What certcli shows a person: colour decisions, progress lines, the status --timeline bar.
#include "cli/terminal.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace certcli;
using namespace certcli::cli;

namespace {

constexpr auto kDay = std::chrono::hours{24};
const TimePoint kIssued = parse_rfc3339("2026-01-01T00:00:00Z");

store::DomainRecord ninety_day_certificate() {
  store::DomainRecord record;
  record.name = "example.com";
  record.status = store::CertificateStatus::ready;
  record.not_before = kIssued;
  record.issued_at = kIssued;
  record.expires_at = kIssued + 90 * kDay;
  return record;
}

// The line without its colour escapes, and how many columns it takes.
std::string plain(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\033') {
      while (i < line.size() && line[i] != 'm') ++i;
      continue;
    }
    out.push_back(line[i]);
  }
  return out;
}

}  // namespace

TEST_CASE("colour is used on a terminal only, and never when NO_COLOR is set", "[output]") {
  CHECK(color_enabled("auto", /*is_terminal=*/true, nullptr));
  CHECK_FALSE(color_enabled("auto", /*is_terminal=*/false, nullptr));
  CHECK_FALSE(color_enabled("auto", true, "1"));
  CHECK(color_enabled("auto", true, ""));  // no-color.org: only a non-empty value disables it
  CHECK_FALSE(color_enabled("never", true, nullptr));
  CHECK(color_enabled("always", false, "1"));  // asked for on the command line
}

TEST_CASE("progress is shown on a terminal only, and never with --quiet", "[output]") {
  CHECK(progress_enabled("auto", /*is_terminal=*/true, /*quiet=*/false));
  CHECK_FALSE(progress_enabled("auto", false, false));
  CHECK(progress_enabled("always", false, false));
  CHECK_FALSE(progress_enabled("always", true, /*quiet=*/true));
  CHECK_FALSE(progress_enabled("never", true, false));
}

TEST_CASE("the progress reporter keeps warnings and dns-01 instructions when progress is hidden", "[output]") {
  std::vector<std::string> shown;
  ProgressReporter hidden(/*show_progress=*/false, /*quiet=*/false, [&](const std::string& l) { shown.push_back(l); });
  hidden("finalizing");
  hidden("warning: the ledger could not be written");
  hidden("create this TXT record: _acme-challenge.example.com. 60 IN TXT \"x\"");
  REQUIRE(shown.size() == 2);
  CHECK(shown[0].starts_with("warning:"));

  shown.clear();
  ProgressReporter quiet(false, /*quiet=*/true, [&](const std::string& l) { shown.push_back(l); });
  quiet("example.com: warning: something");
  quiet("create this TXT record: x");
  CHECK(shown == std::vector<std::string>{"create this TXT record: x"});

  shown.clear();
  ProgressReporter on(true, false, [&](const std::string& l) { shown.push_back(l); });
  on("validating example.com with http-01");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].starts_with("validating example.com with http-01 ("));  // then the elapsed time
  CHECK(shown[0].ends_with(" s)"));
}

TEST_CASE("a timeline line marks today, the renewal point and expiry in 80 columns", "[output]") {
  auto record = ninety_day_certificate();
  std::string line = timeline_line(record, kIssued + 30 * kDay, {}, 80, /*color=*/false);
  CHECK(line.size() <= 80);
  CHECK(line.starts_with("example.com "));
  const auto open = line.find('['), close = line.find(']');
  REQUIRE(open != std::string::npos);
  REQUIRE(close != std::string::npos);
  std::string bar = line.substr(open + 1, close - open - 1);
  // 30 of 90 days lived: today a third of the way; renewal at 60 days (a third left).
  auto today = bar.find('^'), renew = bar.find('R');
  REQUIRE(today != std::string::npos);
  REQUIRE(renew != std::string::npos);
  CHECK(today == bar.size() / 3);
  CHECK(renew == bar.size() * 2 / 3);
  CHECK(bar.back() == '|');
  CHECK(bar.substr(0, today) == std::string(today, '='));
  CHECK(line.find("ok, 60d left") != std::string::npos);
  CHECK(line.find('\033') == std::string::npos);
}

TEST_CASE("a timeline line is coloured by health only when colour is on", "[output]") {
  auto record = ninety_day_certificate();
  CHECK(timeline_health(record, kIssued + 10 * kDay, {}) == Health::ok);
  CHECK(timeline_health(record, kIssued + 70 * kDay, {}) == Health::due);
  CHECK(timeline_health(record, kIssued + 91 * kDay, {}) == Health::bad);
  record.status = store::CertificateStatus::failed;
  CHECK(timeline_health(record, kIssued + 10 * kDay, {}) == Health::bad);

  auto fine = ninety_day_certificate();
  std::string green = timeline_line(fine, kIssued + 10 * kDay, {}, 80, /*color=*/true);
  CHECK(green.find("\033[32m") != std::string::npos);
  CHECK(plain(green) == timeline_line(fine, kIssued + 10 * kDay, {}, 80, false));
  CHECK(timeline_line(fine, kIssued + 70 * kDay, {}, 80, true).find("\033[33m") != std::string::npos);
  std::string expired = timeline_line(fine, kIssued + 95 * kDay, {}, 80, true);
  CHECK(expired.find("\033[31m") != std::string::npos);
  CHECK(plain(expired).find("expired 5d ago") != std::string::npos);
}

TEST_CASE("a timeline line of a domain without a certificate says so, and a long name is cut", "[output]") {
  store::DomainRecord record;
  record.name = "a-very-long-name-that-does-not-fit.example.com";
  std::string line = timeline_line(record, kIssued, {}, 80, false);
  CHECK(line.size() <= 80);
  CHECK(line.find("no certificate") != std::string::npos);
  CHECK(line.find(record.name) == std::string::npos);
  CHECK(plain(timeline_legend(true)).size() <= 80);
  CHECK(timeline_legend(false).find('\033') == std::string::npos);
}
