// Deploy hooks: the operator's own command, run after a certificate changes. It goes through
// /bin/sh -c because it is the operator's shell text (like `systemctl reload nginx && ...`);
// certcli's own values reach it only through the environment, never pasted into the command.
#include "lifecycle/steps.hpp"

#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>

#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace certcli::lifecycle::steps {
namespace {

std::vector<std::pair<std::string, std::string>> hook_environment(const store::DomainRecord& record,
                                                                   const std::string& live_dir) {
  std::string names;
  for (const auto& name : record.names) names += (names.empty() ? "" : " ") + name;
  return {{"CERTCLI_DOMAIN", record.name},
          {"CERTCLI_NAMES", names},
          {"CERTCLI_LIVE_DIR", live_dir},
          {"CERTCLI_CERT", live_dir + "/cert.pem"},
          // Empty for a certificate ordered with the operator's own CSR: its key is not certcli's.
          {"CERTCLI_KEY", record.order.csr.empty() ? live_dir + "/key.pem" : std::string()},
          {"CERTCLI_CHAIN", live_dir + "/chain.pem"},
          {"CERTCLI_FULLCHAIN", live_dir + "/fullchain.pem"}};
}

}  // namespace

HookOutcome run_deploy_hook(const std::string& command, const store::DomainRecord& record, const std::string& live_dir,
                            std::chrono::seconds timeout) {
  HookOutcome outcome;
  outcome.command = command;
  // The environment is built before fork: only async-signal-safe calls may follow it.
  std::vector<std::string> entries;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("CERTCLI_")) entries.emplace_back(entry);  // none inherited by mistake
  }
  for (const auto& [key, value] : hook_environment(record, live_dir)) entries.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};

  pid_t pid = ::fork();
  if (pid < 0) {
    outcome.detail = fmt::format("could not start /bin/sh: {}", std::strerror(errno));
    return outcome;
  }
  if (pid == 0) {
    ::setpgid(0, 0);      // its own process group, so a timeout ends everything it started
    ::dup2(2, 1);         // its output goes to stderr: stdout may be certcli's --json
    ::execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      outcome.detail = fmt::format("lost track of the hook: {}", std::strerror(errno));
      return outcome;
    }
    if (std::chrono::steady_clock::now() >= deadline || stop_requested()) {
      ::kill(-pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      outcome.detail = stop_requested() ? "stopped by an interrupt"
                                        : fmt::format("did not finish within {} s and was stopped", timeout.count());
      return outcome;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    outcome.succeeded = true;
    return outcome;
  }
  outcome.detail = WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                     : fmt::format("was killed by signal {}", WTERMSIG(status));
  return outcome;
}

}  // namespace certcli::lifecycle::steps
