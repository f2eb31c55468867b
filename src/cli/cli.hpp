// The command-line layer: each subcommand parses, calls one library function, prints.
// Output formatting lives here only; exit codes come from one table (exit_codes.cpp).
#pragma once

#include <certcli/clock.hpp>
#include <certcli/challenge.hpp>
#include <certcli/config.hpp>
#include <certcli/dns.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/net.hpp>
#include <certcli/store.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
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
  bool insecure_http = false;  // --insecure-http: a plain-http directory URL (a test CA) is allowed
  std::string dns_resolver;  // --dns-resolver / $CERTCLI_DNS_RESOLVER
  std::string passphrase_file;  // --passphrase-file: the private keys' passphrase
  // Set by a subcommand's --json: results and errors go to stdout as JSON.
  bool json = false;
  // -q/--quiet: errors only (with --json, the JSON document still goes to stdout).
  bool quiet = false;
  std::string color = "auto";     // --color auto|always|never (NO_COLOR honoured by auto)
  std::string progress = "auto";  // --progress auto|always|never (auto: when stderr is a terminal)
  // The subcommand being run ("issue", "domain add"), stamped on every activity-log event.
  std::string command;
};

// What a subcommand needs from the outside world; built lazily so `--help` touches nothing.
class Context {
 public:
  explicit Context(GlobalOptions& options) : options_(options) {}
  store::Store& store();
  // The state directory: --home, else store::default_home(). Creates nothing.
  std::filesystem::path home() const;
  net::HttpClient& http();
  // For the alert webhook: the system's trust store, not --ca-bundle (which is the CA's).
  net::HttpClient& webhook_http();
  // config.toml in the state directory, read once; a bad file stops the command (exit 3).
  const config::Config& config();
  // The real clock; CERTCLI_TEST_NOW (tests only, README "Testing") shifts it.
  Clock& clock();
  // The resolver for every DNS lookup of certcli's own: --dns-resolver, else config.toml's
  // dns.resolver, else /etc/resolv.conf's servers.
  const dns::Resolver& resolver();
  // The challenge defaults of config.toml.
  challenge::Settings default_challenge();
  // What solvers and the checks before ordering need: resolver, environment, terminal, config.
  lifecycle::ChallengeEnvironment challenge_environment();
  // The CA the command line names, if it names one (--ca, --directory or --staging).
  std::optional<lifecycle::CaSelection> ca() const;
  GlobalOptions& options() { return options_; }
  // Whether what goes to stdout may be coloured (--color, NO_COLOR, a terminal).
  bool color() const;
  // The progress callback every lifecycle call gets: terminal.hpp's ProgressReporter on stderr.
  lifecycle::Progress progress() const;
  // A command that finished but must say something was wrong (some renewals failed, a hook
  // failed) reports on stderr itself and sets the exit status here, so that --json output
  // stays one document.
  void report_partial_failure(ErrorKind kind, const std::string& message, const std::string& hint);
  int exit_status() const { return exit_status_; }

 private:
  GlobalOptions& options_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<net::HttpClient> http_;
  std::unique_ptr<net::HttpClient> webhook_http_;
  std::optional<config::Config> config_;
  std::unique_ptr<dns::Resolver> resolver_;
  int exit_status_ = 0;
};

// Parses the command line into `options` and runs the chosen subcommand; throws Error.
int run(int argc, char** argv, GlobalOptions& options);

// The challenge options `domain add` and `issue` share, defined once.
struct ChallengeArgs {
  std::string http_listen;
  std::string webroot;
  bool http_serve = false;
  std::string dns_rfc2136;
  std::string tsig_key;
  std::string tsig_secret;
  std::string tsig_algorithm;
  std::string dns_zone;
  std::string dns_hook;
  bool dns_manual = false;
  std::string dns_alias;
  std::string dns_propagation;
  int dns_propagation_timeout = 0;
  int dns_propagation_interval = 0;
  int dns_ttl = 0;
  int dns_hook_timeout = 0;
  // The settings the options give, or nothing when no challenge option was given.
  std::optional<challenge::Settings> settings() const;
};
void add_challenge_options(CLI::App* command, ChallengeArgs& args);

// The options a command line may name at `app`: its own and, since the apps fall through,
// every parent's (global options may come after the subcommand).
std::vector<CLI::Option*> options_in_scope(CLI::App* app);

void register_domain_commands(CLI::App& app, Context& context);
void register_issue_command(CLI::App& app, Context& context);
void register_status_command(CLI::App& app, Context& context);
void register_renew_commands(CLI::App& app, Context& context);
void register_config_command(CLI::App& app, Context& context);
void register_verify_command(CLI::App& app, Context& context);
void register_wait_command(CLI::App& app, Context& context);
void register_activity_command(CLI::App& app, Context& context);
void register_keys_command(CLI::App& app, Context& context);
// Accounts and revocation (cmd_account.cpp, cmd_revoke.cpp).
void register_account_commands(CLI::App& app, Context& context);
void register_revoke_command(CLI::App& app, Context& context);
// --account NAME, and with `with_eab` --eab-kid, --eab-hmac-key, --eab-alg (where an account may
// be created: account register, issue, renew).
struct AccountArgs {
  std::string account_name;
  lifecycle::EabOptions eab;
};
void add_account_options(CLI::App* command, AccountArgs& args, bool with_eab);
void register_limits_command(CLI::App& app, Context& context);
void register_ca_commands(CLI::App& app, Context& context);
// The rate-limit settings of issue and renew (cmd_limits.cpp): --ignore-limits, and the
// test-only CERTCLI_TEST_LIMITS.
limits::Settings limit_settings(bool ignore_limits);
void register_download_command(CLI::App& app, Context& context);
void register_covers_command(CLI::App& app, Context& context);
// certcli serve (cmd_serve.cpp): /allowed, /status, /healthz and http-01 answers over HTTP.
void register_serve_command(CLI::App& app, Context& context);
void register_upload_command(CLI::App& app, Context& context);
// certcli pin (cmd_pin.cpp): pins, the pin table, live checks, trust, backup keys.
void register_pin_commands(CLI::App& app, Context& context);

// How the store keeps keys (cmd_keys.cpp): the passphrase from --passphrase-file, else
// $CERTCLI_PASSPHRASE, else config.toml's keys.passphrase reference; keys.live_key.
store::KeyProtection key_protection(Context& context);
// Whether `command` ("issue", "keys encrypt") reads private keys: it checks the passphrase
// before it changes anything.
bool command_reads_keys(const std::string& command);

// "90", "90s", "30m", "2h", "1d" -> seconds (durations.cpp); throws Error{usage} naming the option.
std::chrono::seconds parse_duration(const std::string& text, const char* option,
                                    std::chrono::seconds max = std::chrono::days{7});

// Shell completion (completion.cpp). What an option or positional offers is said where it is
// defined, with a validator that checks nothing: offers({...}) its values (CLI::IsMember's are
// offered too), offers_domains() the managed domains, offers_nothing() nothing at all. An option
// without one offers file names; a positional called name or names, managed domains.
CLI::Validator offers(std::vector<std::string> values);
CLI::Validator offers_domains();
CLI::Validator offers_nothing();
// The values offered for key types and CA presets, from their definitions.
std::vector<std::string> key_type_names();
std::vector<std::string> ca_preset_names();
// `certcli completions bash|zsh|fish`: prints the script that asks `certcli __complete`.
void register_completions_command(CLI::App& app);
// `certcli __complete WORD...` (hidden; what the scripts run): prints the candidates for the
// last word and returns 0; nothing for any other command line.
std::optional<int> complete_command_line(CLI::App& app, int argc, char** argv);

int exit_code_for(ErrorKind kind);
// The short name of a kind in JSON error output ("not_found").
std::string kind_name(ErrorKind kind);
// The table printed by `certcli --help` and written in the README.
std::string exit_code_table();

// "2027-02-23 16:40 UTC (in 89 days)" — for people; JSON gets RFC 3339.
std::string describe_time(TimePoint t, TimePoint now);

// A domain as JSON (`status --json`, and `domain show --json`, which adds to it).
nlohmann::json domain_json(const lifecycle::DomainStatus& status, TimePoint now);

// docs/json.md: the version of every JSON document certcli prints; raised when a field changes
// meaning or goes away (new fields do not raise it).
constexpr int kJsonSchemaVersion = 1;
// Prints one JSON document on stdout with "schema_version" at its top (json_output.cpp).
void print_json(nlohmann::json document);
// What print_json({{key, [item(0), ... item(count - 1)]}}) prints, byte for byte, with one item
// in memory at a time (status --json over a fleet). `key` must sort before "schema_version".
void print_json_list(const std::string& key, std::size_t count, const std::function<nlohmann::json(std::size_t)>& item);
// The text print_json prints (for `certcli serve`, which answers /status/NAME with it).
std::string json_text(nlohmann::json document);
// The one JSON shape of an error: {kind, message, hint, exit_code, subject} (subject null when
// the error names nothing).
nlohmann::json error_json(ErrorKind kind, const std::string& message, const std::string& hint, const std::string& subject);
nlohmann::json error_json(const Error& error);
// A domain's stored error (domain.toml's type/detail/hint) in that shape: kind from the recorded
// type, the CA's problem type as acme_type (null for certcli's own), subject the domain.
nlohmann::json recorded_error_json(const store::RecordedError& error, const std::string& subject);

// After a listing (status, domain list, check) has printed the domains it could read: names
// each domain.toml it could not on stderr, with its line, and makes the command exit 5 (state).
void report_unreadable_domains(Context& context, const std::vector<store::UnreadableDomain>& unreadable);

}  // namespace certcli::cli
