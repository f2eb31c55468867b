// The real clock and RFC 3339 timestamps (ACME "expires", ARI windows, certificate dates).
// All conversions go through std::chrono's civil calendar, so neither TZ nor the C locale matters.
#include <certcli/clock.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/error.hpp>

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <thread>

namespace certcli {
namespace {

struct Fields {
  int year;
  unsigned month, day, hour, minute, second;
};

Fields split(TimePoint t) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(t);
  year_month_day date{days};
  hh_mm_ss<seconds> time{t - days};
  return {static_cast<int>(date.year()), static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
          static_cast<unsigned>(time.hours().count()), static_cast<unsigned>(time.minutes().count()),
          static_cast<unsigned>(time.seconds().count())};
}

[[noreturn]] void bad_time(const std::string& text, const std::string& why) {
  throw Error(ErrorKind::invalid_input, "'" + text + "' is not an RFC 3339 timestamp: " + why,
              "expected a form such as 2026-01-02T03:04:05Z or 2026-01-02T04:04:05+01:00", text);
}

// Reads exactly `width` ASCII digits at `pos`, advancing it.
int digits(const std::string& text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) bad_time(text, "it ends too early");
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') bad_time(text, "expected a digit at position " + std::to_string(pos + i));
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

void expect(const std::string& text, std::size_t& pos, std::string_view allowed) {
  if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) {
    bad_time(text, "expected '" + std::string(allowed.substr(0, 1)) + "' at position " + std::to_string(pos));
  }
  ++pos;
}

}  // namespace

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

void SystemClock::sleep_for(std::chrono::milliseconds duration) {
  // In slices, so that Ctrl-C during a long Retry-After wait takes effect at once.
  constexpr std::chrono::milliseconds kSlice{100};
  const auto end = std::chrono::steady_clock::now() + duration;
  for (auto now = std::chrono::steady_clock::now(); now < end; now = std::chrono::steady_clock::now()) {
    throw_if_stop_requested();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now, kSlice));
  }
  throw_if_stop_requested();
}

std::string format_rfc3339(TimePoint t) {
  Fields f = split(t);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02u:%02u:%02uZ", f.year, f.month, f.day, f.hour, f.minute,
                f.second);
  return buffer;
}

std::string format_compact_utc(TimePoint t) {
  Fields f = split(t);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02uT%02u%02u%02uZ", f.year, f.month, f.day, f.hour, f.minute,
                f.second);
  return buffer;
}

TimePoint parse_rfc3339(const std::string& text) {
  using namespace std::chrono;
  // RFC 3339 section 5.6: date-time = full-date "T" full-time; "T", "Z" may be lower case.
  std::size_t pos = 0;
  int y = digits(text, pos, 4);
  expect(text, pos, "-");
  int mo = digits(text, pos, 2);
  expect(text, pos, "-");
  int d = digits(text, pos, 2);
  expect(text, pos, "Tt");
  int h = digits(text, pos, 2);
  expect(text, pos, ":");
  int mi = digits(text, pos, 2);
  expect(text, pos, ":");
  int s = digits(text, pos, 2);
  // time-secfrac: any number of digits, dropped (TimePoint has whole seconds).
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) bad_time(text, "the fraction after '.' has no digits");
  }
  if (pos >= text.size()) bad_time(text, "the time zone offset is missing");
  minutes offset{0};
  char zone = text[pos++];
  if (zone == 'Z' || zone == 'z') {
    // UTC
  } else if (zone == '+' || zone == '-') {
    int oh = digits(text, pos, 2);
    expect(text, pos, ":");
    int om = digits(text, pos, 2);
    if (oh > 23 || om > 59) bad_time(text, "the offset is out of range");
    offset = hours{oh} + minutes{om};
    if (zone == '-') offset = -offset;
  } else {
    bad_time(text, "expected 'Z' or a +hh:mm offset at position " + std::to_string(pos - 1));
  }
  if (pos != text.size()) bad_time(text, "unexpected text after the time zone");

  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) bad_time(text, "no such date");
  // Second 60 is a leap second (RFC 3339 5.7); it folds into the next minute like timegm does.
  if (h > 23 || mi > 59 || s > 60) bad_time(text, "the time of day is out of range");
  // local time = UTC + offset, so UTC = local time - offset.
  return sys_days{date} + hours{h} + minutes{mi} + seconds{s} - offset;
}

}  // namespace certcli
