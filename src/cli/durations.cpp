// Durations on the command line (renew --random-delay, wait --timeout/--interval, activity
// --since): one spelling for every option that takes one.
#include "cli/cli.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string_view>

namespace certcli::cli {

std::chrono::seconds parse_duration(const std::string& text, const char* option, std::chrono::seconds max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  std::string_view unit(rest, static_cast<size_t>(end - rest));
  long long factor = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (text.empty() || ec != std::errc() || factor == 0 || value < 0 || value > max.count() / factor)
    throw Error(ErrorKind::usage, fmt::format("{} '{}' is not a duration", option, text),
                fmt::format("write seconds, or a number with s, m, h or d (at most {} days): 90, 30m, 2h",
                            max.count() / 86400));
  return std::chrono::seconds{value * factor};
}

}  // namespace certcli::cli
