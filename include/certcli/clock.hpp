// certcli/clock.hpp — time comes from a Clock that is passed in; only main() reads the real one,
// so rules about time are tested by moving a clock, never by sleeping.
#pragma once

#include <chrono>
#include <string>

namespace certcli {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Waits for `duration`; a test clock advances itself instead.
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
  // For measuring short waits (how long a CA took), which now()'s seconds cannot: monotonic,
  // finer than a millisecond. A test clock whose sleeps are not real should advance it with them.
  virtual std::chrono::steady_clock::time_point steady_now() const { return std::chrono::steady_clock::now(); }
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  void sleep_for(std::chrono::milliseconds duration) override;
};

// The system clock moved by a fixed offset; sleeps are real. For tests that must see a
// certificate's future (renewal, alerts) while talking to a real CA (CERTCLI_TEST_NOW).
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(std::chrono::seconds offset) : offset_(offset) {}
  TimePoint now() const override { return system_.now() + offset_; }
  void sleep_for(std::chrono::milliseconds duration) override { system_.sleep_for(duration); }

 private:
  SystemClock system_;
  std::chrono::seconds offset_;
};

// RFC 3339 in UTC with a trailing Z ("2026-11-25T16:38:16Z").
std::string format_rfc3339(TimePoint t);
// Parses RFC 3339 (fractional seconds dropped, offsets honoured); throws Error{invalid_input}.
TimePoint parse_rfc3339(const std::string& text);
// A compact UTC stamp usable as a directory name ("20261125T163816Z").
std::string format_compact_utc(TimePoint t);

}  // namespace certcli
