// What certcli shows a person at a terminal, decided by pure functions: whether to colour,
// whether to show progress, and the lifetime bar of `status --timeline`. The streams' terminal
// checks and the environment are read by the caller (Context), so unit tests state each rule.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/renewal.hpp>
#include <certcli/store.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace certcli::cli {

// --color auto|always|never: auto colours only a terminal, and never when NO_COLOR is set to a
// non-empty value (https://no-color.org); always and never win over both.
bool color_enabled(const std::string& mode, bool is_terminal, const char* no_color);

// --progress auto|always|never: progress lines (phases, propagation) on stderr; auto shows them
// only when stderr is a terminal; --quiet hides them whatever the mode.
bool progress_enabled(const std::string& mode, bool is_terminal, bool quiet);

// How a line from the library's progress callback is treated.
enum class ProgressLine { progress, warning, instruction };
// "create this TXT record ..." (dns-01 by hand) is an instruction the operator must see; lines
// with "warning:" are warnings; the rest is progress.
ProgressLine classify_progress(const std::string& line);

// The one place progress reaches stderr: instructions always, warnings unless quiet, progress
// lines when shown, each with the time since the command started ("certcli: finalizing (4.2 s)").
class ProgressReporter {
 public:
  using Sink = std::function<void(const std::string&)>;
  ProgressReporter(bool show_progress, bool quiet, Sink sink);
  void operator()(const std::string& line) const;

 private:
  bool show_progress_;
  bool quiet_;
  Sink sink_;
  std::chrono::steady_clock::time_point started_;
};

// The health a timeline bar is coloured by.
enum class Health { ok, due, bad };  // green, yellow, red

// One certificate of `status --timeline` as one line of at most `width` columns (escape bytes
// not counted): the name, a bar from issued_at to expires_at with today (^), the renewal point
// (R) and expiry (|) marked, and what is left. Without a certificate the bar says so. Pure:
// the record, the time and the policy are all it reads.
std::string timeline_line(const store::DomainRecord& record, TimePoint now, const renewal::Policy& policy, int width,
                          bool color);
Health timeline_health(const store::DomainRecord& record, TimePoint now, const renewal::Policy& policy);
// The line under the bars that says what the marks mean.
std::string timeline_legend(bool color);

// `text` in the colour of `health` when `color`, else as it is.
std::string paint(const std::string& text, Health health, bool color);

}  // namespace certcli::cli
