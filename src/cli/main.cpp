// certcli entry point: global options, subcommand registration, and the single place where an
// Error becomes a message and an exit code.
#include "cli/cli.hpp"
#include "cli/suggest.hpp"
#include "cli/terminal.hpp"

#include <certcli/crypto.hpp>
#include <certcli/crypto.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/trace.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace certcli::cli {

std::vector<CLI::Option*> options_in_scope(CLI::App* app) {
  std::vector<CLI::Option*> options;
  for (CLI::App* a = app; a != nullptr; a = a->get_fallthrough() ? a->get_parent() : nullptr)
    for (CLI::Option* option : a->get_options([](CLI::Option* o) { return o->nonpositional(); }))
      options.push_back(option);
  return options;
}

// The last gate before the terminal: an error may carry text from outside (a CA, a hook, a
// state file) that its source did not escape; a control character other than a line break or
// tab is shown as \xNN, so no escape sequence in it reaches the operator's terminal as one.
std::string terminal_safe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

std::filesystem::path Context::home() const {
  // Absolute: a timer or a hook started in another working directory must find the same state.
  return options_.home.empty() ? store::default_home()
                               : std::filesystem::absolute(options_.home).lexically_normal();
}

store::Store& Context::store() {
  if (!store_) {
    store::KeyProtection keys = key_protection(*this);
    bool has_passphrase = !keys.passphrase.empty();
    store_ = store::open_file_store(home(), &clock(), std::move(keys));
    // A short passphrase is copied, not moved, out of the string it was in: wipe what is left.
    crypto::wipe(keys.passphrase);  // NOLINT(bugprone-use-after-move)
    store_->set_activity_command(options_.command);
    // A wrong passphrase is an error for any command; a missing one for those that read keys.
    // Either way before anything is written.
    // `renew` checks once something is due (its nothing-due run reads no key; issue #25).
    if ((has_passphrase || command_reads_keys(options_.command)) && options_.command != "renew")
      store_->check_key_passphrase();
  }
  return *store_;
}

net::HttpClient& Context::http() {
  if (!http_) {
    net::HttpClientOptions http_options;
    http_options.ca_bundle = options_.ca_bundle;
    http_options.https_only = !options_.insecure_http;
    http_options.plain_http_hint =
        "use the CA's https:// URL; for a test CA on a network of your own, --insecure-http allows plain http";
    if (options_.verbose) {
      // One "certcli: http: METHOD URL -> STATUS" line per request (scripts count them); what
      // was sent ("certcli: http> ") and received ("certcli: http< ") around it, redacted.
      http_options.trace = [](const std::string& line) { fmt::print(stderr, "certcli: http: {}\n", line); };
      http_options.trace_message = [](const net::TracedMessage& message) {
        for (const std::string& line : acme::trace_lines(message)) fmt::print(stderr, "certcli: http{}\n", line);
      };
    }
    http_ = std::make_unique<net::HttpClient>(http_options);
  }
  return *http_;
}

bool Context::color() const {
  return color_enabled(options_.color, ::isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"));
}

lifecycle::Progress Context::progress() const {
  ProgressReporter reporter(progress_enabled(options_.progress, ::isatty(STDERR_FILENO) == 1, options_.quiet),
                            options_.quiet, [](const std::string& line) { fmt::print(stderr, "certcli: {}\n", line); });
  return [reporter](const std::string& line) { reporter(line); };
}

void Context::report_partial_failure(ErrorKind kind, const std::string& message, const std::string& hint) {
  std::fflush(stdout);
  fmt::print(stderr, "certcli: error: {}\n", terminal_safe(message));
  if (!hint.empty()) fmt::print(stderr, "certcli: hint: {}\n", terminal_safe(hint));
  if (exit_status_ == 0) exit_status_ = exit_code_for(kind);
}

net::HttpClient& Context::webhook_http() {
  if (!webhook_http_) webhook_http_ = std::make_unique<net::HttpClient>(net::HttpClientOptions{});
  return *webhook_http_;
}

const config::Config& Context::config() {
  if (!config_) {
    auto getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      return value ? std::optional<std::string>(value) : std::nullopt;
    };
    config_ = config::load_config(config::config_file(home()), getenv);
  }
  return *config_;
}

Clock& Context::clock() {
  if (!clock_) {
    // Test-only: integration tests move time forward (renewal, alerts) against a real CA.
    if (const char* now = std::getenv("CERTCLI_TEST_NOW"); now && *now)
      clock_ = std::make_unique<ShiftedClock>(parse_rfc3339(now) - SystemClock().now());
    else
      clock_ = std::make_unique<SystemClock>();
  }
  return *clock_;
}

const dns::Resolver& Context::resolver() {
  if (!resolver_) {
    std::optional<dns::ServerAddress> server;
    if (!options_.dns_resolver.empty())
      server = dns::parse_server_address(options_.dns_resolver, "--dns-resolver");
    else if (config().dns_resolver)
      server = dns::parse_server_address(*config().dns_resolver, "dns.resolver");
    resolver_ = std::make_unique<dns::Resolver>(server);
  }
  return *resolver_;
}

challenge::Settings Context::default_challenge() {
  const config::Config& c = config();
  challenge::Settings settings;
  settings.http.webroot = c.webroot.value_or("");
  settings.http.listen = c.http_listen.value_or("");
  settings.dns.rfc2136_server = c.dns_rfc2136.value_or("");
  settings.dns.hook = c.dns_hook.value_or("");
  if (!settings.dns.rfc2136_server.empty()) {
    settings.dns.tsig_key = c.tsig_key.value_or("");
    settings.dns.tsig_secret = c.tsig_secret.value_or("");
    settings.dns.tsig_algorithm = c.tsig_algorithm.value_or("");
  }
  return settings;
}

lifecycle::ChallengeEnvironment Context::challenge_environment() {
  lifecycle::ChallengeEnvironment environment;
  environment.resolver = &resolver();
  // Test-only, like CERTCLI_TEST_NOW: a test CA (Pebble) fetches http-01 from another port than
  // 80, and the preflight must knock where the CA will.
  if (const char* port = std::getenv("CERTCLI_TEST_HTTP01_PORT"); port && *port) environment.http01_port = std::atoi(port);
  environment.getenv = [](const char* name) -> const char* { return std::getenv(name); };
  environment.interactive = ::isatty(STDIN_FILENO) == 1;
  environment.http01_directory = home() / "http-01";
  if (config().caa_identity) environment.caa_identities.push_back(*config().caa_identity);
  return environment;
}

std::optional<lifecycle::CaSelection> Context::ca() const {
  if (options_.ca_name.empty() && options_.directory_url.empty() && !options_.staging) return std::nullopt;
  return lifecycle::select_ca(options_.ca_name, options_.directory_url, options_.staging);
}

std::string describe_time(TimePoint t, TimePoint now) {
  // Days from two days on; closer than that, "in 0 days" would hide hours that matter (a rate
  // limit's 3-hour window, a certificate about to expire).
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(t - now).count();
  auto magnitude = minutes < 0 ? -minutes : minutes;
  std::string span = magnitude >= 48 * 60 ? fmt::format("{} days", magnitude / (24 * 60))
                     : magnitude >= 60    ? fmt::format("{} h", magnitude / 60)
                                          : fmt::format("{} min", magnitude);
  std::string when = minutes >= 0 ? "in " + span : span + " ago";
  return fmt::format("{:%Y-%m-%d %H:%M} UTC ({})", t, when);
}

namespace {

// When CLI11 refuses a command line, the words it did not know: walks argv through the App tree
// the way CLI11 does (option values skipped by each option's arity, positionals filled in order)
// and names the first word that is neither a known option nor a command where one is expected.

// "certcli domain": how a user types the command `app` stands for.
std::string command_path(const CLI::App* app) {
  std::string path = app->get_name();
  for (const CLI::App* parent = app->get_parent(); parent != nullptr; parent = parent->get_parent())
    path = parent->get_name() + " " + path;
  return path;
}

// " for 'certcli issue'", or nothing at the top level.
std::string for_command(const CLI::App* app) {
  return app->get_parent() == nullptr ? "" : fmt::format(" for '{}'", command_path(app));
}

CLI::Option* find_option(CLI::App* app, const std::string& name, bool long_name) {
  for (CLI::Option* option : options_in_scope(app))
    if (long_name ? option->check_lname(name) : option->check_sname(name)) return option;
  return nullptr;
}

CLI::App* find_subcommand(CLI::App* app, const std::string& word) {
  for (CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_disabled() && sub->check_name(word)) return sub;
  return nullptr;
}

// How many positional values `app` takes (all, or only its required ones).
long long positional_slots(CLI::App* app, bool required_only) {
  long long slots = 0;
  for (CLI::Option* option : app->get_options([](CLI::Option* o) { return o->get_positional(); })) {
    if (required_only && !option->get_required()) continue;
    slots += required_only ? option->get_items_expected_min() : option->get_items_expected_max();
  }
  return slots;
}

// Whether an optional value of an option ends before `arg` (another option, or "--").
bool looks_like_option(const std::string& arg) {
  if (arg == "--") return true;
  if (arg.size() < 2 || arg[0] != '-') return false;
  if (arg[1] == '-') return arg.size() > 2 && arg[2] != '-';  // --name
  return arg[1] < '0' || arg[1] > '9';                         // -n; "-5" is a value
}

// How many of the args from `next` on are the values of `option`, given as `--name` or `-n`
// (no `=value`, no value glued to a short name): what CLI11's _parse_arg collects.
std::size_t values_of(CLI::Option* option, const std::vector<std::string>& args, std::size_t next) {
  int min_count = std::min(option->get_type_size_min(), option->get_items_expected_min());
  int max_count = option->get_items_expected_max();
  if (max_count >= CLI::detail::expected_max_vector_size / 16 && !option->get_allow_extra_args())
    max_count = option->get_type_size_max() * std::max(option->get_expected_min(), 1);
  if (max_count == 0) return 0;  // a flag
  std::size_t count = 0;
  while (count < static_cast<std::size_t>(std::max(min_count, 0)) && next + count < args.size()) ++count;
  while ((count < static_cast<std::size_t>(max_count) || option->get_allow_extra_args()) && next + count < args.size() &&
         !looks_like_option(args[next + count]))
    ++count;
  return count;
}

Error unknown_option(CLI::App* app, const std::string& typed, const std::string& name) {
  // Compared without their dashes, so that "-timeout" finds "--timeout" too.
  std::vector<std::string> names;
  std::vector<std::string> spelled;
  for (CLI::Option* option : options_in_scope(app)) {
    for (const auto& l : option->get_lnames()) names.push_back(l), spelled.push_back("--" + l);
    for (const auto& s : option->get_snames()) names.push_back(s), spelled.push_back("-" + s);
  }
  std::string path = command_path(app);
  std::string hint = fmt::format("{} --help lists the options", path);
  if (auto near = nearest(name, names)) {
    auto at = std::find(names.begin(), names.end(), *near) - names.begin();
    hint = fmt::format("did you mean '{}'? ({})", spelled[static_cast<std::size_t>(at)], hint);
  }
  return Error(ErrorKind::usage, fmt::format("unknown option '{}'{}", typed, for_command(app)), hint);
}

Error unknown_command(CLI::App* app, const std::string& word) {
  std::vector<std::string> names;
  for (CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_disabled() && !sub->get_name().empty()) names.push_back(sub->get_name());
  std::string path = command_path(app);
  std::string hint = fmt::format("{} --help lists the commands", path);
  if (auto near = nearest(word, names)) hint = fmt::format("did you mean '{} {}'? ({})", path, *near, hint);
  return Error(ErrorKind::usage, fmt::format("unknown command '{}'{}", word, for_command(app)), hint);
}

// The first unknown option, or unknown word where a command is expected; nothing when every
// word is known (the command line is wrong some other way, and CLI11's message says how).
std::optional<Error> explain_unknown_word(CLI::App& root, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CLI::App* app = &root;
  long long positionals_taken = 0;  // by `app`
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return std::nullopt;  // everything after it is a positional value
    if (arg.size() > 2 && arg.starts_with("--") && arg[2] != '-') {
      std::size_t equals = arg.find('=');
      std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      CLI::Option* option = find_option(app, name, true);
      if (option == nullptr) return unknown_option(app, "--" + name, name);
      if (equals == std::string::npos) i += values_of(option, args, i + 1);
      continue;
    }
    bool negative_number = arg.size() > 1 && arg[1] >= '0' && arg[1] <= '9' &&
                           find_option(app, arg.substr(1, 1), false) == nullptr;
    if (arg.size() > 1 && arg[0] == '-' && arg[1] != '-' && !negative_number) {
      // -v, a cluster of flags (-vh), or a short option with its value glued on (-xVALUE).
      for (std::size_t at = 1; at < arg.size(); ++at) {
        std::string name(1, arg[at]);
        CLI::Option* option = find_option(app, name, false);
        if (option == nullptr) {
          if (at > 1 || arg.size() == 2) return unknown_option(app, "-" + name, name);
          // "-timeout 5": a long option with one dash, most likely.
          std::string word = arg.substr(1, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 1);
          return unknown_option(app, "-" + word, word);
        }
        if (option->get_items_expected_max() == 0) continue;  // a flag; the next letter is another
        if (at + 1 == arg.size()) i += values_of(option, args, i + 1);
        break;  // the rest of the word is the value
      }
      continue;
    }
    // A word: a value for a positional, a command, or a mistyped command.
    if (positionals_taken >= positional_slots(app, true)) {
      if (CLI::App* sub = find_subcommand(app, arg)) {
        app = sub;
        positionals_taken = 0;
        continue;
      }
      if (app->get_require_subcommand_min() > 0 && positionals_taken >= positional_slots(app, false))
        return unknown_command(app, arg);
    }
    ++positionals_taken;
  }
  return std::nullopt;
}

// certcli's version (and commit, when built from git), then the libraries as loaded at run time:
// what a bug report needs, and what a security advisory asks about.
std::string version_text() {
#ifndef CERTCLI_GIT_COMMIT
#define CERTCLI_GIT_COMMIT ""
#endif
  std::string commit = CERTCLI_GIT_COMMIT;
  return fmt::format("certcli {}{}\n{}\n{}\n{}", CERTCLI_VERSION, commit.empty() ? "" : " (git " + commit + ")",
                     crypto::library_version(), net::library_version(), dns::library_version());
}

}  // namespace

int run(int argc, char** argv, GlobalOptions& options) {
  Context context(options);

  CLI::App app{"certcli — ACME certificates for this machine: add domains, issue certificates, see their status."};
  app.name("certcli");
  app.set_version_flag("--version", version_text, "Print certcli's version and those of the libraries it runs with");
  app.require_subcommand(1);
  // Global options may come after the subcommand too ("certcli issue x --home DIR").
  app.fallthrough();

  app.add_option("--home", options.home, "State directory (default: $CERTCLI_HOME, /var/lib/certcli for root, "
                                         "else ${XDG_STATE_HOME:-~/.local/state}/certcli)")
      ->envname("CERTCLI_HOME");
  app.add_option("--directory", options.directory_url, "ACME directory URL of the CA (instead of --ca)");
  app.add_option("--ca", options.ca_name,
                 "CA preset: letsencrypt (default), letsencrypt-staging, zerossl, google, google-staging, buypass, "
                 "buypass-staging")
      ->check(offers(ca_preset_names()));
  app.add_flag("--staging", options.staging, "Use the preset's staging environment");
  app.add_option("--ca-bundle", options.ca_bundle, "PEM file of the trust anchors for the CA's HTTPS (replaces the system store; for a private CA)")
      ->envname("CERTCLI_CA_BUNDLE");
  app.add_flag("-v,--verbose", options.verbose, "Show every HTTP request made to the CA");
  app.add_flag("--insecure-http", options.insecure_http,
               "Allow a plain-http ACME directory URL (a test CA only: anyone on the path can read and change "
               "what the CA sends)");
  app.add_option("--dns-resolver", options.dns_resolver,
                 "ADDR[:PORT] of the DNS resolver for every lookup of certcli's own (propagation, preflight, CAA); "
                 "default: config.toml's dns.resolver, else /etc/resolv.conf")
      ->envname("CERTCLI_DNS_RESOLVER");
  app.add_option("--passphrase-file", options.passphrase_file,
                 "File holding the passphrase of the private keys (else $CERTCLI_PASSPHRASE, else config.toml's "
                 "keys.passphrase); with one, every key is stored encrypted");
  app.add_flag("-q,--quiet", options.quiet,
               "Print errors only: no results, progress or warnings (a --json document is still printed)");
  app.add_option("--color", options.color, "Colour on stdout: auto (a terminal, and NO_COLOR unset), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->envname("CERTCLI_COLOR");
  app.add_option("--progress", options.progress,
                 "Progress lines on stderr (phases with elapsed time, DNS propagation): auto (when stderr is a "
                 "terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->envname("CERTCLI_PROGRESS");

  register_domain_commands(app, context);
  register_issue_command(app, context);
  register_status_command(app, context);
  register_renew_commands(app, context);
  register_config_command(app, context);
  register_verify_command(app, context);
  register_wait_command(app, context);
  register_activity_command(app, context);
  register_keys_command(app, context);
  register_limits_command(app, context);
  register_ca_commands(app, context);
  register_download_command(app, context);
  register_covers_command(app, context);
  register_serve_command(app, context);
  register_upload_command(app, context);
  register_account_commands(app, context);
  register_revoke_command(app, context);
  register_pin_commands(app, context);
  register_completions_command(app);
  // Before any subcommand runs: the command ("domain add") every activity event is stamped with.
  app.parse_complete_callback([&app, &options] {
    for (CLI::App* at = &app; !at->get_subcommands().empty();) {
      at = at->get_subcommands().front();
      options.command += (options.command.empty() ? "" : " ") + at->get_name();
    }
    // --quiet: a result for people is not printed at all; errors still reach stderr, and a
    // --json document (asked for by a script) still reaches stdout.
    if (options.quiet && !options.json) {
      std::fflush(stdout);
      if (std::FILE* null = std::fopen("/dev/null", "w")) {
        ::dup2(::fileno(null), STDOUT_FILENO);
        std::fclose(null);
      }
    }
  });
  // Set after the subcommands exist, so that only the top-level help carries it.
  app.footer(exit_code_table() +
             "\nState lives in --home, else $CERTCLI_HOME, else /var/lib/certcli for root, else\n"
             "${XDG_STATE_HOME:-~/.local/state}/certcli.");

  // Before parsing: the words of a half-typed command line are not a command line CLI11 accepts.
  if (auto completed = complete_command_line(app, argc, argv)) return *completed;
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
    // A mistyped command or option is named, with the nearest one that exists.
    if (auto unknown = explain_unknown_word(app, argc, argv)) throw *unknown;
    // Same two-line shape as every other certcli error.
    throw Error(ErrorKind::usage, e.what(), "see certcli --help, or certcli SUBCOMMAND --help");
  }
  return context.exit_status();
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

// A crash must not write the keys and passphrases in this process's memory to a core file, and
// another process of the same user must not read them through ptrace or /proc/PID/mem: the
// process is made non-dumpable (which also makes /proc/PID/ files root-owned) and its core size
// limit zero, first thing, before any secret is read.
void refuse_core_dumps() noexcept {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit none {};
  ::setrlimit(RLIMIT_CORE, &none);
}

}  // namespace

int main(int argc, char** argv) {
  refuse_core_dumps();
  install_stop_handlers();
  certcli::cli::GlobalOptions options;
  auto report = [&](certcli::ErrorKind kind, const std::string& message, const std::string& hint,
                    const std::string& subject) {
    int code = certcli::cli::exit_code_for(kind);
    std::fflush(stdout);
    if (options.json) {
      // A pipeline reading --json gets the failure in the same channel as the result.
      certcli::cli::print_json({{"error", certcli::cli::error_json(kind, message, hint, subject)}});
    }
    fmt::print(stderr, "certcli: error: {}\n", certcli::cli::terminal_safe(message));
    if (!hint.empty()) fmt::print(stderr, "certcli: hint: {}\n", certcli::cli::terminal_safe(hint));
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
