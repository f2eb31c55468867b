// The argv-only process runner behind certcli/process.hpp. posix_spawn rather than fork: nothing
// of ours runs in the child between fork and exec, and an exec failure (ENOENT, EACCES) comes
// back as a return value instead of an exit status 127 that a program could also return.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/process.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <set>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace certcli::process {
namespace {

using Clock = std::chrono::steady_clock;

// Closes on scope exit; -1 is "none".
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read_end;
  Fd write_end;
};

void open_pipe(Pipe& pipe) {
  int fds[2];
  // Close-on-exec: the child gets only the copies dup2'ed onto 1 and 2.
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error(ErrorKind::internal, fmt::format("could not create a pipe: {}", std::strerror(errno)));
  pipe.read_end.reset(fds[0]);
  pipe.write_end.reset(fds[1]);
}

// posix_spawn's C structures, released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<std::string> child_environment(const Command& command) {
  std::set<std::string, std::less<>> replaced(command.unset_environment.begin(), command.unset_environment.end());
  for (const auto& [key, value] : command.environment) replaced.insert(key);
  std::vector<std::string> entries;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (!replaced.contains(entry.substr(0, entry.find('=')))) entries.emplace_back(entry);
  }
  for (const auto& [key, value] : command.environment) entries.push_back(key + "=" + value);
  return entries;
}

// Keeps the last `limit` bytes; trims in batches so a chatty program costs linear time.
void append_capped(std::string& buffer, bool& truncated, const char* data, std::size_t size, std::size_t limit) {
  buffer.append(data, size);
  if (buffer.size() > 2 * limit + 4096) {
    buffer.erase(0, buffer.size() - limit);
    truncated = true;
  }
}

void finish_capped(std::string& buffer, bool& truncated, std::size_t limit) {
  if (buffer.size() > limit) {
    buffer.erase(0, buffer.size() - limit);
    truncated = true;
  }
}

// Reads what the program wrote, for at most `wait`. Returns false once both pipes are closed.
bool pump(Pipe& out, Pipe& err, Result& result, std::size_t limit, std::chrono::milliseconds wait) {
  pollfd fds[2];
  nfds_t count = 0;
  Pipe* pipes[2];
  for (Pipe* pipe : {&out, &err}) {
    if (pipe->read_end.get() < 0) continue;
    fds[count] = {pipe->read_end.get(), POLLIN, 0};
    pipes[count++] = pipe;
  }
  if (count == 0) {
    std::this_thread::sleep_for(wait);
    return false;
  }
  int ready = ::poll(fds, count, static_cast<int>(std::max<std::chrono::milliseconds::rep>(wait.count(), 0)));
  if (ready <= 0) return true;  // timeout or EINTR: the caller's loop comes back
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].revents == 0) continue;
    char chunk[8192];
    ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      pipes[i]->read_end.reset();
      continue;
    }
    if (pipes[i] == &out)
      append_capped(result.out, result.out_truncated, chunk, static_cast<std::size_t>(n), limit);
    else
      append_capped(result.err, result.err_truncated, chunk, static_cast<std::size_t>(n), limit);
  }
  return out.read_end.get() >= 0 || err.read_end.get() >= 0;
}

void record_status(Result& result, int status) {
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

// True once `pid` has been reaped (its status recorded).
bool try_reap(pid_t pid, Result& result) {
  int status = 0;
  pid_t done = ::waitpid(pid, &status, WNOHANG);
  if (done == pid) {
    record_status(result, status);
    return true;
  }
  // ECHILD: someone else reaped it (a SIGCHLD handler); nothing more will be known.
  return done < 0 && errno == ECHILD;
}

// SIGTERM to the whole group, SIGKILL to whatever is left a second later.
void stop_group(pid_t pid, Pipe& out, Pipe& err, Result& result, std::size_t limit) {
  ::kill(-pid, SIGTERM);
  const auto grace_end = Clock::now() + std::chrono::seconds{1};
  bool reaped = false;
  while (!(reaped = try_reap(pid, result)) && Clock::now() < grace_end)
    pump(out, err, result, limit, std::chrono::milliseconds{20});
  // Also after the leader is gone: a grandchild that ignored SIGTERM still holds the group (and
  // its id, which therefore cannot have been reused).
  ::kill(-pid, SIGKILL);
  if (!reaped) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    record_status(result, status);
  }
}

std::string seconds_text(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return fmt::format("{} s", duration.count() / 1000);
  return fmt::format("{:.1f} s", static_cast<double>(duration.count()) / 1000.0);
}

}  // namespace

std::string Result::failure() const {
  if (!started) return fmt::format("could not be started: {}", start_error);
  if (interrupted) return "was stopped by an interrupt";
  if (timed_out) return fmt::format("did not finish within {} and was stopped", seconds_text(timeout));
  if (signal != 0) return fmt::format("was killed by signal {} ({})", signal, ::strsignal(signal));
  if (exit_status != 0) return fmt::format("exited with status {}", exit_status);
  return "succeeded";
}

std::string Result::stderr_tail(std::size_t max_lines) const {
  std::vector<std::string_view> lines;
  std::string_view rest(err);
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back(line);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  std::size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string tail;
  for (std::size_t i = first; i < lines.size(); ++i) {
    if (!tail.empty()) tail += '\n';
    tail += lines[i];
  }
  constexpr std::size_t kMaxChars = 4000;  // ten very long lines would drown the message
  if (tail.size() > kMaxChars) tail = "..." + tail.substr(tail.size() - kMaxChars);
  return tail;
}

Result run(const Command& command) {
  Result result;
  result.timeout = command.timeout;
  if (command.argv.empty() || command.argv[0].empty()) {
    result.start_error = "no program given";
    return result;
  }

  Pipe out, err;
  open_pipe(out);
  open_pipe(err);

  // Everything the child gets is built before it starts.
  std::vector<std::string> env_entries = child_environment(command);
  std::vector<char*> envp;
  for (auto& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command.argv;
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  SpawnSetup setup;
  ::posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions, out.write_end.get(), 1);
  ::posix_spawn_file_actions_adddup2(&setup.actions, err.write_end.get(), 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Sockets and files some library opened without O_CLOEXEC stay ours.
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
#endif
  // Its own process group, so a timeout stops everything it started; default signal handling
  // and an empty mask, whatever certcli itself ignores or blocks.
  sigset_t empty_mask, defaults;
  sigemptyset(&empty_mask);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, sig);
  ::posix_spawnattr_setpgroup(&setup.attributes, 0);
  ::posix_spawnattr_setsigmask(&setup.attributes, &empty_mask);
  ::posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  ::posix_spawnattr_setflags(&setup.attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attributes, argv.data(), envp.data());
  out.write_end.reset();
  err.write_end.reset();
  if (rc != 0) {
    result.start_error = std::strerror(rc);
    return result;
  }
  result.started = true;

  const auto deadline = Clock::now() + command.timeout;
  for (;;) {
    if (try_reap(pid, result)) break;
    bool interrupted = command.stop_on_interrupt && stop_requested();
    if (interrupted || Clock::now() >= deadline) {
      (interrupted ? result.interrupted : result.timed_out) = true;
      stop_group(pid, out, err, result, command.output_limit);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Short slices: the exit is noticed through waitpid, and a stop request within 50 ms.
    if (!pump(out, err, result, command.output_limit, std::clamp(left, std::chrono::milliseconds{1},
                                                                 std::chrono::milliseconds{50})))
      std::this_thread::sleep_for(std::chrono::milliseconds{5});  // both closed: only the exit is left
  }
  // What it wrote just before exiting; a background child still holding the pipes is not waited for.
  const auto drain_end = Clock::now() + std::chrono::milliseconds{200};
  while (Clock::now() < drain_end &&
         pump(out, err, result, command.output_limit, std::chrono::milliseconds{20})) {
  }
  finish_capped(result.out, result.out_truncated, command.output_limit);
  finish_capped(result.err, result.err_truncated, command.output_limit);
  return result;
}

}  // namespace certcli::process
