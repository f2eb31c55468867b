// certcli entry point: global options, subcommand registration, and the single place where an
// Error becomes a message and an exit code.
#include "cli/cli.hpp"

#include <certcli/interrupt.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace certcli::cli {

store::Store& Context::store() {
  if (!store_) store_ = store::open_file_store(options_.home.empty() ? store::default_home() : store::fs::path(options_.home));
  return *store_;
}

net::HttpClient& Context::http() {
  if (!http_) {
    net::HttpClientOptions http_options;
    http_options.ca_bundle = options_.ca_bundle;
    if (options_.verbose) http_options.trace = [](const std::string& line) { fmt::print(stderr, "certcli: http: {}\n", line); };
    http_ = std::make_unique<net::HttpClient>(http_options);
  }
  return *http_;
}

std::optional<lifecycle::CaSelection> Context::ca() const {
  if (options_.ca_name.empty() && options_.directory_url.empty() && !options_.staging) return std::nullopt;
  return lifecycle::select_ca(options_.ca_name, options_.directory_url, options_.staging);
}

std::string describe_time(TimePoint t, TimePoint now) {
  auto days = std::chrono::duration_cast<std::chrono::hours>(t - now).count() / 24;
  std::string when = days >= 0 ? fmt::format("in {} days", days) : fmt::format("{} days ago", -days);
  return fmt::format("{:%Y-%m-%d %H:%M} UTC ({})", t, when);
}

int run(int argc, char** argv, GlobalOptions& options) {
  Context context(options);

  CLI::App app{"certcli — ACME certificates for this machine: add domains, issue certificates, see their status."};
  app.name("certcli");
  app.set_version_flag("--version", "certcli " CERTCLI_VERSION);
  app.require_subcommand(1);
  // Global options may come after the subcommand too ("certcli issue x --home DIR").
  app.fallthrough();

  app.add_option("--home", options.home, "State directory (default: $CERTCLI_HOME, /var/lib/certcli for root, "
                                         "else ${XDG_STATE_HOME:-~/.local/state}/certcli)")
      ->envname("CERTCLI_HOME");
  app.add_option("--directory", options.directory_url, "ACME directory URL of the CA (instead of --ca)");
  app.add_option("--ca", options.ca_name,
                 "CA preset: letsencrypt (default), letsencrypt-staging, zerossl, google, google-staging, buypass, "
                 "buypass-staging");
  app.add_flag("--staging", options.staging, "Use the preset's staging environment");
  app.add_option("--ca-bundle", options.ca_bundle, "PEM file of the trust anchors for the CA's HTTPS (replaces the system store; for a private CA)")
      ->envname("CERTCLI_CA_BUNDLE");
  app.add_flag("-v,--verbose", options.verbose, "Show every HTTP request made to the CA");

  register_domain_commands(app, context);
  register_issue_command(app, context);
  register_status_command(app, context);
  // Set after the subcommands exist, so that only the top-level help carries it.
  app.footer(exit_code_table() +
             "\nState lives in --home, else $CERTCLI_HOME, else /var/lib/certcli for root, else\n"
             "${XDG_STATE_HOME:-~/.local/state}/certcli.");

  if (argc <= 1) {
    fmt::print(stderr, "{}", app.help());
    return exit_code_for(ErrorKind::usage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Same two-line shape as every other certcli error.
    throw Error(ErrorKind::usage, e.what(), "see certcli --help, or certcli SUBCOMMAND --help");
  }
  return 0;
}

}  // namespace certcli::cli

namespace {

void on_stop_signal(int) { certcli::request_stop(); }

// The first SIGINT/SIGTERM asks for a polite stop (cleanup, state saved, exit 130); the
// handler then resets itself, so a second one ends certcli at once.
void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  install_stop_handlers();
  certcli::cli::GlobalOptions options;
  auto report = [&](certcli::ErrorKind kind, const std::string& message, const std::string& hint,
                    const std::string& subject) {
    int code = certcli::cli::exit_code_for(kind);
    std::fflush(stdout);
    if (options.json) {
      // A pipeline reading --json gets the failure in the same channel as the result.
      nlohmann::json error = {{"kind", certcli::cli::kind_name(kind)}, {"message", message}, {"hint", hint},
                              {"exit_code", code}};
      if (!subject.empty()) error["subject"] = subject;
      fmt::print("{}\n", nlohmann::json{{"error", error}}.dump(2));
    }
    fmt::print(stderr, "certcli: error: {}\n", message);
    if (!hint.empty()) fmt::print(stderr, "certcli: hint: {}\n", hint);
    return code;
  };
  try {
    return certcli::cli::run(argc, argv, options);
  } catch (const certcli::Error& e) {
    return report(e.kind(), e.what(), e.hint(), e.subject());
  } catch (const std::exception& e) {
    return report(certcli::ErrorKind::internal, std::string("internal error: ") + e.what(),
                  "this is a bug; please report it with the command you ran", "");
  }
}
