#include <certcli/process.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

process::Command shell(const std::string& script, std::vector<std::string> args = {}) {
  process::Command command;
  command.argv = {"/bin/sh", "-c", script, "sh"};
  command.argv.insert(command.argv.end(), args.begin(), args.end());
  command.timeout = std::chrono::seconds{10};
  return command;
}

}  // namespace

TEST_CASE("a program's exit status is reported", "[process]") {
  process::Result ok = process::run(shell("exit 0"));
  CHECK(ok.succeeded());
  CHECK(ok.exit_status == 0);

  process::Result failed = process::run(shell("exit 3"));
  CHECK_FALSE(failed.succeeded());
  CHECK(failed.exit_status == 3);
  CHECK(failed.failure() == "exited with status 3");

  process::Result killed = process::run(shell("kill -9 $$"));
  CHECK_FALSE(killed.succeeded());
  CHECK(killed.signal == 9);
  CHECK_THAT(killed.failure(), Catch::StartsWith("was killed by signal 9"));
}

TEST_CASE("stdout and stderr are captured apart and stderr's last lines are kept for messages", "[process]") {
  process::Result result = process::run(shell("echo to-out; echo first >&2; echo; echo second >&2"));
  CHECK(result.succeeded());
  CHECK(result.out == "to-out\n\n");
  CHECK(result.err == "first\nsecond\n");
  CHECK(result.stderr_tail() == "first\nsecond");
  CHECK(result.stderr_tail(1) == "second");
}

TEST_CASE("captured output is capped to its last bytes", "[process]") {
  process::Command command = shell("i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; echo end");
  command.output_limit = 1024;
  process::Result result = process::run(command);
  CHECK(result.succeeded());
  CHECK(result.out.size() == 1024);
  CHECK(result.out_truncated);
  CHECK_THAT(result.out, Catch::EndsWith("line-1999\nend\n"));
}

TEST_CASE("a program past its timeout is stopped quickly with its whole process group", "[process]") {
  TempDir dir;
  // The grandchild would create the file if it outlived the timeout.
  process::Command command = shell("(sleep 1; touch \"$1\") & sleep 30", {(dir.path / "survivor").string()});
  command.timeout = std::chrono::milliseconds{300};
  auto start = std::chrono::steady_clock::now();
  process::Result result = process::run(command);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(result.timed_out);
  CHECK_FALSE(result.succeeded());
  CHECK(took < std::chrono::seconds{2});
  CHECK(result.failure() == "did not finish within 0.3 s and was stopped");
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  CHECK_FALSE(fs::exists(dir.path / "survivor"));
}

TEST_CASE("a program that ignores SIGTERM is killed after the grace period", "[process]") {
  process::Command command = shell("trap '' TERM; while :; do sleep 0.1; done");
  command.timeout = std::chrono::milliseconds{200};
  auto start = std::chrono::steady_clock::now();
  process::Result result = process::run(command);
  CHECK(result.timed_out);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{4});
}

TEST_CASE("arguments reach the program verbatim and are never interpreted by a shell", "[process]") {
  TempDir dir;
  std::string marker = (dir.path / "expanded").string();
  const std::vector<std::string> args = {"two words", "$(touch " + marker + ")", "`touch " + marker + "`", "*",
                                         "a;b|c&d", "", "$HOME"};
  process::Result result = process::run(shell("for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done", args));
  REQUIRE(result.succeeded());
  std::string expected;
  for (const auto& arg : args) expected += "[" + arg + "]\n";
  CHECK(result.out == expected);
  CHECK_FALSE(fs::exists(marker));

  // Also as the program's own argv, with no shell in between at all.
  process::Command printf_command;
  printf_command.argv = {"printf", "%s|", "$(touch " + marker + ")", "x y"};
  process::Result direct = process::run(printf_command);
  REQUIRE(direct.succeeded());
  CHECK(direct.out == "$(touch " + marker + ")|x y|");
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("the environment is certcli's own plus the variables added, minus those removed", "[process]") {
  ::setenv("CERTCLI_PROCESS_TEST_INHERITED", "inherited", 1);
  ::setenv("CERTCLI_PROCESS_TEST_STALE", "stale", 1);
  ::setenv("CERTCLI_PROCESS_TEST_REPLACED", "old", 1);
  process::Command command = shell(
      "echo \"$CERTCLI_PROCESS_TEST_INHERITED|${CERTCLI_PROCESS_TEST_STALE-unset}|$CERTCLI_PROCESS_TEST_REPLACED|"
      "$CERTCLI_PROCESS_TEST_ADDED\"");
  command.environment = {{"CERTCLI_PROCESS_TEST_ADDED", "a value with spaces"},
                         {"CERTCLI_PROCESS_TEST_REPLACED", "new"}};
  command.unset_environment = {"CERTCLI_PROCESS_TEST_STALE"};
  process::Result result = process::run(command);
  ::unsetenv("CERTCLI_PROCESS_TEST_INHERITED");
  ::unsetenv("CERTCLI_PROCESS_TEST_STALE");
  ::unsetenv("CERTCLI_PROCESS_TEST_REPLACED");
  REQUIRE(result.succeeded());
  CHECK(result.out == "inherited|unset|new|a value with spaces\n");
}

TEST_CASE("stdin is empty, so a program that reads it does not wait", "[process]") {
  process::Command command;
  command.argv = {"cat"};
  command.timeout = std::chrono::seconds{5};
  process::Result result = process::run(command);
  CHECK(result.succeeded());
  CHECK(result.out.empty());
}

TEST_CASE("a program that cannot be started says why", "[process]") {
  process::Command command;
  command.argv = {"/nonexistent/certcli-hook"};
  process::Result result = process::run(command);
  CHECK_FALSE(result.started);
  CHECK_FALSE(result.succeeded());
  CHECK_THAT(result.failure(), Catch::Contains("No such file or directory"));
}
