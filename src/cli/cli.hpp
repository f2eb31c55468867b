// The command-line layer: each subcommand parses, calls one library function, prints.
// Output formatting lives here only; exit codes come from one table (exit_codes.cpp).
#pragma once

#include <certcli/clock.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/net.hpp>
#include <certcli/store.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace certcli::cli {

// Options every subcommand shares; filled by CLI11 before any callback runs.
struct GlobalOptions {
  std::string home;
  std::string directory_url;
  std::string ca_name;
  bool staging = false;
  std::string ca_bundle;
  bool verbose = false;
  // Set by a subcommand's --json: results and errors go to stdout as JSON.
  bool json = false;
};

// What a subcommand needs from the outside world; built lazily so `--help` touches nothing.
class Context {
 public:
  explicit Context(GlobalOptions& options) : options_(options) {}
  store::Store& store();
  net::HttpClient& http();
  Clock& clock() { return clock_; }
  // The CA the command line names, if it names one (--ca, --directory or --staging).
  std::optional<lifecycle::CaSelection> ca() const;
  GlobalOptions& options() { return options_; }

 private:
  GlobalOptions& options_;
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<net::HttpClient> http_;
};

// Parses the command line into `options` and runs the chosen subcommand; throws Error.
int run(int argc, char** argv, GlobalOptions& options);

void register_domain_commands(CLI::App& app, Context& context);
void register_issue_command(CLI::App& app, Context& context);
void register_status_command(CLI::App& app, Context& context);

int exit_code_for(ErrorKind kind);
// The short name of a kind in JSON error output ("not_found").
std::string kind_name(ErrorKind kind);
// The table printed by `certcli --help` and written in the README.
std::string exit_code_table();

// "2027-02-23 16:40 UTC (in 89 days)" — for people; JSON gets RFC 3339.
std::string describe_time(TimePoint t, TimePoint now);

}  // namespace certcli::cli
