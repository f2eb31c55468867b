// RFC 3339 and compact timestamps, checked against std::chrono's civil calendar.
#include <certcli/clock.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>

using namespace std::chrono;
using certcli::TimePoint;

namespace {

TimePoint at(year_month_day date, hours h, minutes m, seconds s) {
  return TimePoint{sys_days{date} + h + m + s};
}

}  // namespace

TEST_CASE("format_rfc3339 writes UTC with a trailing Z", "[clock]") {
  CHECK(certcli::format_rfc3339(at(2026y / 11 / 25, 16h, 38min, 16s)) == "2026-11-25T16:38:16Z");
  CHECK(certcli::format_rfc3339(TimePoint{}) == "1970-01-01T00:00:00Z");
  CHECK(certcli::format_rfc3339(TimePoint{seconds{-1}}) == "1969-12-31T23:59:59Z");
  CHECK(certcli::format_rfc3339(at(2024y / 2 / 29, 0h, 0min, 0s)) == "2024-02-29T00:00:00Z");
}

TEST_CASE("format_compact_utc writes a directory-safe stamp", "[clock]") {
  CHECK(certcli::format_compact_utc(at(2026y / 11 / 25, 16h, 38min, 16s)) == "20261125T163816Z");
  CHECK(certcli::format_compact_utc(at(2001y / 1 / 2, 3h, 4min, 5s)) == "20010102T030405Z");
}

TEST_CASE("parse_rfc3339 reads UTC timestamps", "[clock]") {
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05Z") == at(2026y / 1 / 2, 3h, 4min, 5s));
  CHECK(certcli::parse_rfc3339("2026-01-02t03:04:05z") == at(2026y / 1 / 2, 3h, 4min, 5s));
  CHECK(certcli::parse_rfc3339("1970-01-01T00:00:00Z") == TimePoint{});
}

TEST_CASE("parse_rfc3339 drops fractional seconds", "[clock]") {
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05.123456Z") == at(2026y / 1 / 2, 3h, 4min, 5s));
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05.999999999Z") == at(2026y / 1 / 2, 3h, 4min, 5s));
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05.1+00:00") == at(2026y / 1 / 2, 3h, 4min, 5s));
}

TEST_CASE("parse_rfc3339 honours numeric offsets", "[clock]") {
  auto utc = at(2026y / 1 / 2, 3h, 4min, 5s);
  CHECK(certcli::parse_rfc3339("2026-01-02T04:04:05+01:00") == utc);
  CHECK(certcli::parse_rfc3339("2026-01-01T21:34:05-05:30") == utc);
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05+00:00") == utc);
  CHECK(certcli::parse_rfc3339("2026-01-02T03:04:05-00:00") == utc);
}

TEST_CASE("parse_rfc3339 rejects malformed timestamps with invalid_input", "[clock]") {
  const char* bad[] = {
      "",
      "2026-01-02",
      "2026-01-02T03:04:05",
      "2026-01-02 03:04:05Z",
      "2026-1-02T03:04:05Z",
      "2026-13-01T00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-01-02T24:00:00Z",
      "2026-01-02T03:60:00Z",
      "2026-01-02T03:04:05.Z",
      "2026-01-02T03:04:05Z junk",
      "2026-01-02T03:04:05+0100",
      "2026-01-02T03:04:05+24:00",
      "tomorrow",
  };
  for (const char* text : bad) {
    INFO(text);
    try {
      certcli::parse_rfc3339(text);
      FAIL("accepted");
    } catch (const certcli::Error& e) {
      CHECK(e.kind() == certcli::ErrorKind::invalid_input);
      CHECK_FALSE(e.hint().empty());
    }
  }
}

TEST_CASE("format_rfc3339 and parse_rfc3339 round-trip", "[clock]") {
  for (TimePoint t : {TimePoint{}, at(2024y / 2 / 29, 23h, 59min, 59s), at(2026y / 11 / 25, 16h, 38min, 16s),
                      at(2099y / 12 / 31, 0h, 0min, 1s), TimePoint{seconds{1'700'000'000}}}) {
    INFO(certcli::format_rfc3339(t));
    CHECK(certcli::parse_rfc3339(certcli::format_rfc3339(t)) == t);
  }
}

TEST_CASE("SystemClock reports the current whole second", "[clock]") {
  certcli::SystemClock clock;
  auto before = time_point_cast<seconds>(system_clock::now());
  auto now = clock.now();
  auto after = time_point_cast<seconds>(system_clock::now());
  CHECK(now >= before);
  CHECK(now <= after);
}
