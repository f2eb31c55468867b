// certcli/activity.hpp — reading what other certcli runs wrote: waiting on a domain's record
// (`certcli wait`) and reading the activity log (`certcli activity`).
// Owns nothing on disk: it only reads domain.toml (through the Store) and activity.jsonl and its
// rotated files. Never talks to a CA, never writes, never prints.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/store.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::lifecycle {

enum class WaitOutcome { ready, failed, timed_out };
std::string to_string(WaitOutcome outcome);

struct WaitResult {
  WaitOutcome outcome = WaitOutcome::timed_out;
  store::DomainRecord record;  // as last read
  std::chrono::seconds waited{0};
};

// Re-reads NAME's record every `interval` until it is ready or failed, or `timeout` has passed
// (none: no limit). A failed record whose domain lock is held is a new run starting, not the
// answer. `progress` is told once that a pending domain has no run in progress, and once that
// an issuing one was interrupted (its certcli is gone; the next issue/renew resumes it).
// Throws Error{not_found} when the domain does not exist or is removed meanwhile, and
// Error{interrupted} on a stop request (Ctrl-C), through the clock's sleep.
WaitResult wait_for_domain(const store::Store& store, Clock& clock, const std::string& name,
                           std::optional<std::chrono::seconds> timeout, std::chrono::seconds interval,
                           const Progress& progress);

// The kind of error a recorded error type stands for: "certcli:<kind>" (as
// steps::recorded_error_type writes it) or an ACME problem type; nothing when it says too
// little (then a failure is a general one).
std::optional<ErrorKind> kind_of_recorded_error(const std::string& type);

// Which events `read_activity` keeps.
struct ActivityFilter {
  std::string domain;               // normalized; empty: every domain (and events of none)
  std::optional<TimePoint> since;   // events at or after this time
};

struct ActivityLog {
  std::vector<nlohmann::json> events;  // oldest first, each one object as it was written
  std::vector<std::string> damaged;    // "activity.jsonl line 7: not a JSON object", one per damaged line
};

// activity.jsonl's rotated files (activity.jsonl.<UTC stamp>, oldest first), then activity.jsonl.
// Missing files are no error: a new state directory has no log.
std::vector<std::filesystem::path> activity_files(const std::filesystem::path& home);

// Parses the lines of one file's `text` into `log`, keeping those `filter` selects; a line that
// is not a JSON object with a string "event" and an RFC 3339 "time" is named in log.damaged
// and skipped, never fatal. `file` names the file in those notes.
void parse_activity(std::string_view text, const std::string& file, const ActivityFilter& filter, ActivityLog& log);

// Every event of `home`'s activity log that `filter` selects, oldest first.
ActivityLog read_activity(const std::filesystem::path& home, const ActivityFilter& filter);

}  // namespace certcli::lifecycle
