// Challenge settings: which solver answers which name, and the checks a setting must pass
// before it is saved with a domain or used for an order.
#include <certcli/challenge.hpp>
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace certcli::challenge {
namespace {

constexpr std::string_view kEnvPrefix = "$ENV:";
constexpr std::string_view kFilePrefix = "$FILE:";

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

Error invalid(const std::string& message, const std::string& hint, const std::string& subject = {}) {
  return Error(ErrorKind::invalid_input, message, hint, subject);
}

void check_range(const std::optional<int>& value, int low, int high, const std::string& option) {
  if (value && (*value < low || *value > high))
    throw invalid(fmt::format("{} {} is not between {} and {}", option, *value, low, high),
                  fmt::format("give {} a value from {} to {}", option, low, high));
}

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string DnsSettings::provider() const {
  if (!rfc2136_server.empty()) return "rfc2136";
  if (!hook.empty()) return "hook";
  if (manual) return "manual";
  return "";
}

std::string Settings::type_for(const std::string& name) const {
  if (is_wildcard(name)) return "dns-01";
  if (dns.configured() && !http.given()) return "dns-01";
  return "http-01";
}

std::string describe(const Settings& settings) {
  std::vector<std::string> parts;
  if (!settings.http.webroot.empty())
    parts.push_back("http-01 via webroot " + settings.http.webroot);
  else if (settings.http.serve)
    parts.push_back("http-01 via certcli serve");
  else if (!settings.http.listen.empty() || !settings.dns.configured())
    parts.push_back("http-01 on " + (settings.http.listen.empty() ? std::string(":80") : settings.http.listen));
  const DnsSettings& dns = settings.dns;
  std::string via = dns.provider() == "rfc2136" ? fmt::format("dns-01 via RFC 2136 at {}{}", dns.rfc2136_server,
                                                               dns.tsig_key.empty() ? "" : " (key " + dns.tsig_key + ")")
                    : dns.provider() == "hook" ? "dns-01 via hook " + dns.hook
                    : dns.manual              ? std::string("dns-01 by hand")
                                              : std::string();
  if (!via.empty()) parts.push_back(via + (dns.alias.empty() ? "" : ", delegated to " + dns.alias));
  return fmt::format("{}", fmt::join(parts, "; "));
}

void check_settings(const Settings& settings) {
  const DnsSettings& dns = settings.dns;
  int providers = !dns.rfc2136_server.empty() + !dns.hook.empty() + dns.manual;
  if (providers > 1)
    throw invalid("more than one dns-01 method is given (--dns-rfc2136, --dns-hook, --dns-manual)",
                  "choose one way to publish the TXT record");
  if (!settings.http.listen.empty() && !settings.http.webroot.empty())
    throw invalid("both --http-listen and --webroot are given", "choose certcli's own listener or the webroot");
  if (settings.http.serve && (!settings.http.listen.empty() || !settings.http.webroot.empty()))
    throw invalid("--http-serve is given with --http-listen or --webroot",
                  "choose one way to answer http-01: certcli serve, certcli's own listener or the webroot");
  if (!settings.http.listen.empty()) parse_listen_address(settings.http.listen);
  if (!dns.rfc2136_server.empty()) dns::parse_server_address(dns.rfc2136_server, "--dns-rfc2136");
  bool tsig_given = !dns.tsig_key.empty() || !dns.tsig_secret.empty() || !dns.tsig_algorithm.empty();
  if (tsig_given && dns.rfc2136_server.empty())
    throw invalid("--tsig-key, --tsig-secret and --tsig-algorithm belong to --dns-rfc2136",
                  "give --dns-rfc2136 SERVER[:PORT] with them, or leave them out");
  if (tsig_given && (dns.tsig_key.empty() || dns.tsig_secret.empty()))
    throw invalid("a TSIG key needs both --tsig-key NAME and --tsig-secret",
                  "give the key's name and --tsig-secret '$ENV:VARIABLE' or '$FILE:/path/to/secret'");
  if (!dns.tsig_key.empty()) normalize_domain_name(dns.tsig_key.find('.') == std::string::npos
                                                       ? dns.tsig_key + ".key"  // a one-label key name is fine
                                                       : dns.tsig_key);
  if (!dns.tsig_secret.empty() && !starts_with(dns.tsig_secret, kEnvPrefix) && !starts_with(dns.tsig_secret, kFilePrefix))
    // The secret would end up in domain.toml, readable by anyone who can read a backup of the
    // state directory: only a reference to where it lives is stored.
    throw invalid("--tsig-secret must say where the secret is, not be the secret",
                  "put the secret in an environment variable or a file readable only by certcli's user, and give "
                  "--tsig-secret '$ENV:VARIABLE' or --tsig-secret '$FILE:/path/to/secret' (quoted, so the shell "
                  "leaves the $ alone)");
  if (starts_with(dns.tsig_secret, kEnvPrefix) && dns.tsig_secret.size() == kEnvPrefix.size())
    throw invalid("--tsig-secret '$ENV:' names no variable", "write it as '$ENV:VARIABLE'");
  if (starts_with(dns.tsig_secret, kFilePrefix) && dns.tsig_secret.substr(kFilePrefix.size()).front() != '/')
    throw invalid(fmt::format("--tsig-secret '{}' is not an absolute path", dns.tsig_secret),
                  "write it as '$FILE:/absolute/path', so a timer in another directory finds the same file");
  if (!dns.tsig_algorithm.empty()) dns::check_tsig_algorithm(dns.tsig_algorithm);
  if (!dns.zone.empty()) normalize_domain_name(dns.zone);
  if (!dns.alias.empty()) normalize_domain_name(dns.alias);
  if (!dns.propagation.empty() && dns.propagation != "authoritative" && dns.propagation != "resolver" &&
      dns.propagation != "off")
    throw invalid(fmt::format("--dns-propagation '{}' is not known", dns.propagation),
                  "use authoritative (every authoritative server, the default), resolver or off");
  check_range(dns.propagation_timeout_seconds, 1, 3600, "--dns-propagation-timeout");
  check_range(dns.propagation_interval_seconds, 1, 300, "--dns-propagation-interval");
  check_range(dns.ttl, 1, 86400, "--dns-ttl");
  check_range(dns.hook_timeout_seconds, 1, 3600, "--dns-hook-timeout");
  if (!dns.hook.empty() && dns.hook.front() != '/')
    throw invalid(fmt::format("--dns-hook '{}' is not an absolute path", dns.hook),
                  "give the program's absolute path: it is run without a shell, from timers in any directory");
}

Settings merge_settings(const Settings& own, const Settings& fallback) {
  Settings merged;
  merged.http = own.http.given() ? own.http : fallback.http;
  merged.dns = own.dns.configured() ? own.dns : fallback.dns;
  // Propagation tuning without a provider of the domain's own still tunes the fallback's.
  if (!own.dns.configured()) {
    if (!own.dns.propagation.empty()) merged.dns.propagation = own.dns.propagation;
    if (own.dns.propagation_timeout_seconds) merged.dns.propagation_timeout_seconds = own.dns.propagation_timeout_seconds;
    if (own.dns.propagation_interval_seconds)
      merged.dns.propagation_interval_seconds = own.dns.propagation_interval_seconds;
    if (!own.dns.alias.empty()) merged.dns.alias = own.dns.alias;
  }
  return merged;
}

bool is_secret_reference(const std::string& text) {
  return starts_with(text, kEnvPrefix) || starts_with(text, kFilePrefix);
}

std::string read_secret_reference(const std::string& reference, const std::function<const char*(const char*)>& getenv,
                                  const std::string& what, const std::string& option) {
  std::string secret;
  if (starts_with(reference, kEnvPrefix)) {
    std::string variable = reference.substr(kEnvPrefix.size());
    const char* value = getenv ? getenv(variable.c_str()) : nullptr;
    if (!value || !*value)
      throw invalid(fmt::format("{} comes from ${} ({} '{}'), which is not set", what, variable, option, reference),
                    fmt::format("export {} in the environment certcli runs in (for a systemd timer: "
                                "Environment= or EnvironmentFile= in the service)",
                                variable));
    secret = value;
  } else if (starts_with(reference, kFilePrefix)) {
    std::string path = reference.substr(kFilePrefix.size());
    try {
      secret = trim_trailing_newlines(files::read_file(path));
    } catch (const Error& e) {
      throw invalid(fmt::format("{} file {} cannot be read: {}", what, path, e.what()),
                    "make the file readable by certcli's user (and by no one else)", path);
    }
  } else {
    throw invalid(fmt::format("{} reference is neither '$ENV:VARIABLE' nor '$FILE:/path'", what),
                  fmt::format("set {} to '$ENV:VARIABLE' or '$FILE:/path/to/secret'", option));
  }
  return secret;
}

std::string resolve_secret(const std::string& reference, const std::function<const char*(const char*)>& getenv) {
  std::string secret = read_secret_reference(reference, getenv, "the TSIG secret", "--tsig-secret");
  bool base64 = !secret.empty() && secret.size() % 4 == 0 && std::all_of(secret.begin(), secret.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
  if (!base64) {
    throw invalid(fmt::format("the TSIG secret from {} is not base64", reference),
                  "give the secret as the DNS server shows it (base64, e.g. from `tsig-keygen` or `keymgr -t`)");
  }
  return secret;
}

std::string dns01_record_name(const std::string& identifier) {
  std::string_view base = identifier;
  if (is_wildcard(base)) base.remove_prefix(2);
  return "_acme-challenge." + std::string(base);
}

std::string dns01_txt_value(const std::string& key_authorization) {
  return crypto::base64url_encode(crypto::sha256(key_authorization));
}

}  // namespace certcli::challenge
