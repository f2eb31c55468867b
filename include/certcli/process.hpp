// certcli/process.hpp — runs one program with an argument vector, never through a shell: what the
// program receives is exactly the strings given. Owns starting, time-limiting (the whole process
// group is stopped) and capturing output; it does not decide what a failure means to its caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace certcli::process {

struct Command {
  // argv[0] is the program: a path, or a bare name looked up in $PATH. Never split or expanded.
  std::vector<std::string> argv;
  // Added to (or replacing in) certcli's own environment.
  std::vector<std::pair<std::string, std::string>> environment;
  // Removed from the inherited environment first (so a stale value cannot leak through).
  std::vector<std::string> unset_environment;
  // Then the process group gets SIGTERM, and SIGKILL shortly after.
  std::chrono::milliseconds timeout{std::chrono::seconds{120}};
  // Each of stdout and stderr keeps at most this many bytes: the last ones (where errors are).
  std::size_t output_limit = 64 * 1024;
  // A stop request (Ctrl-C) ends the program early. Clean-up calls turn this off: they run after
  // an interrupt, and must still get to remove what was put in place (their timeout bounds them).
  bool stop_on_interrupt = true;
};

struct Result {
  bool started = false;     // false: it could not be started (start_error says why)
  std::string start_error;  // e.g. "No such file or directory"
  int exit_status = -1;     // when it exited
  int signal = 0;           // when a signal ended it
  bool timed_out = false;   // stopped at the timeout
  bool interrupted = false; // stopped by a stop request
  std::string out;          // stdout (the last output_limit bytes)
  std::string err;          // stderr (the last output_limit bytes)
  bool out_truncated = false;
  bool err_truncated = false;
  std::chrono::milliseconds timeout{0};  // the limit it ran under, for messages

  bool succeeded() const { return started && !timed_out && !interrupted && signal == 0 && exit_status == 0; }
  // "exited with status 3", "was killed by signal 9 (Killed)", "did not finish within 120 s and
  // was stopped", "could not be started: No such file or directory".
  std::string failure() const;
  // The last `max_lines` non-empty lines of stderr, joined by newlines ("" when it wrote none).
  std::string stderr_tail(std::size_t max_lines = 10) const;
};

// Runs `command` with stdin from /dev/null, stdout and stderr captured, in a process group of its
// own. Never throws for what the program does (a failure is in the Result); throws
// Error{internal} only when the pipes or the process cannot be set up at all.
Result run(const Command& command);

}  // namespace certcli::process
