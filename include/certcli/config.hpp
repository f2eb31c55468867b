// certcli/config.hpp — <state dir>/config.toml: defaults for `certcli issue`, renewal and alerts.
// Owns reading, validating and editing that file, and resolving its $ENV:/$FILE: references.
// Never prints, and decides no precedence: command line > domain record > config.toml > built-in
// is applied by the callers. Editing rewrites the whole file: comments are lost (toml++ drops them).
#pragma once

#include <certcli/crypto.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certcli::config {

// An environment lookup: the value of a variable, nothing when it is unset. Callers pass a wrapper
// of std::getenv; unit tests pass their own.
using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// Where a key that config.toml sets came from.
struct Origin {
  int line = 0;  // in config.toml
  // The value as written when it holds a reference ("$ENV:CERTCLI_WEBHOOK", "$FILE:/run/hook");
  // empty for a plain value.
  std::string reference;
  // A value read through $FILE: is treated as a secret wherever it is used.
  bool from_file_reference = false;
  // "config.toml:7"
  std::string where() const;
};

// What config.toml says. A key the file does not set keeps the value below; `origins` tells
// which keys the file sets. References are resolved: these are the values to use.
struct Config {
  // [account] — for new accounts only
  std::vector<std::string> account_emails;  // one address each, without "mailto:"
  std::optional<crypto::KeyType> account_key_type;
  // [ca] — at most one of the two
  std::optional<std::string> ca_name;       // a preset of lifecycle::ca_presets()
  std::optional<std::string> ca_directory;  // an http or https ACME directory URL
  std::optional<std::string> caa_identity;  // the CA's CAA issuer domain, when its directory names none
  // [certificate]
  std::optional<crypto::KeyType> certificate_key_type;
  // [challenge] — at most one of the two
  std::optional<std::string> webroot;      // an absolute path
  std::optional<std::string> http_listen;  // "ADDR:PORT", "[v6]:PORT" or ":PORT"
  // dns-01 defaults — at most one of dns_rfc2136 and dns_hook
  std::optional<std::string> dns_rfc2136;     // SERVER[:PORT] for RFC 2136 updates
  std::optional<std::string> dns_hook;        // absolute path of a lego-style exec hook
  std::optional<std::string> tsig_key;        // the key's name
  std::optional<std::string> tsig_secret;     // the reference as written ($ENV:/$FILE:), never resolved here
  std::optional<std::string> tsig_algorithm;  // hmac-sha256 (default), hmac-sha384, hmac-sha512
  // [dns]
  std::optional<std::string> dns_resolver;  // ADDR[:PORT] for every lookup of certcli's own
  // [renewal]
  std::optional<int> renewal_buffer_days;         // 1..365: renew when fewer days are left
  std::optional<std::string> deploy_hook;         // for /bin/sh -c, after a certificate changes
  std::chrono::seconds deploy_hook_timeout{300};  // 1..86400
  // [alerts]
  std::optional<std::string> alert_webhook;  // http(s) URL; a secret: never log or print it
  std::vector<int> alert_days{30, 14, 7};    // each 1..365, no repeats
  // [keys]
  std::optional<std::string> key_passphrase;  // the reference as written ($ENV:/$FILE:), never resolved here
  bool plain_live_key = false;                // live_key = "plain": the current live key stays in clear

  // By key ("renewal.buffer_days"): where each key the file sets came from.
  std::map<std::string, Origin> origins;
  bool is_set(const std::string& key) const { return origins.contains(key); }
};

// Every key config.toml knows, in the file's order: "account.email", "account.key_type",
// "ca.name", "ca.directory", "ca.caa_identity", "certificate.key_type", "challenge.webroot",
// "challenge.http_listen", "challenge.dns_rfc2136", "challenge.dns_hook", "challenge.tsig_key",
// "challenge.tsig_secret", "challenge.tsig_algorithm", "dns.resolver",
// "renewal.buffer_days", "renewal.deploy_hook", "renewal.deploy_hook_timeout", "alerts.webhook",
// "alerts.days", "keys.passphrase", "keys.live_key".
const std::vector<std::string>& known_keys();

// <home>/config.toml
std::filesystem::path config_file(const std::filesystem::path& home);

// Reads and checks `file`; a file that does not exist is an empty Config (all built-ins).
// A syntax error, an unknown section or key (with the nearest known one suggested), a value of
// the wrong type or out of range, two keys that exclude each other, or a reference that does not
// resolve throws Error{invalid_input} whose message names the file, the line and the key
// ("/var/lib/certcli/config.toml:7: renewal.buffer_days: 0 is not between 1 and 365") and whose
// hint says how to fix it. A file that cannot be read throws Error{state}.
// Any text value may be "$ENV:VAR" (the variable's value; unset or empty is an error) or
// "$FILE:/absolute/path" (the file's content, one trailing newline stripped).
Config load_config(const std::filesystem::path& file, const Getenv& getenv);

// One row of `certcli config show`.
struct Setting {
  std::string key;  // "renewal.buffer_days"
  // The value as it would be used: lists joined with ", ". A secret (alerts.webhook, and any value
  // read through $FILE:) is shown as its reference ("$ENV:CERTCLI_WEBHOOK") or as "(secret)",
  // never resolved. Empty when unset.
  std::string value;
  // "config.toml:7" (followed by " ($ENV:VAR)" for a plain value read from the environment),
  // "built-in", or "unset" when nothing applies.
  std::string source;
  bool secret = false;
};
// One row per known key, in known_keys() order.
std::vector<Setting> effective_settings(const Config& config);

// Throws Error{invalid_input} for a key config.toml does not know, naming the nearest known one.
void check_key(const std::string& key);

// Checks a key and a value as `certcli config set` takes them, without touching any file:
// integers in decimal; account.email and alerts.days as comma-separated lists; "$ENV:"/"$FILE:"
// references are resolved to be checked. Throws Error{invalid_input} naming the key.
void check_value(const std::string& key, const std::string& value, const Getenv& getenv);

// Sets `key` to `value` (checked as by check_value) and rewrites `file` atomically (mode 0600),
// sections in the order above; references are stored as written. Refuses (Error{invalid_input})
// to set one of ca.name/ca.directory or challenge.webroot/challenge.http_listen while the other is
// set, and to write over a file that does not load, naming its problem, so a broken file is never
// replaced. Two exceptions, since rewriting loses nothing there: a bad value of `key` itself (this
// call replaces it), and references of other keys that do not resolve in this environment (they
// are kept as written). Callers hold the state lock, so that two edits do not race. Returns the
// key's new effective setting.
Setting set_value(const std::filesystem::path& file, const std::string& key, const std::string& value,
                  const Getenv& getenv);

// Removes `key` from `file` (same refusals as set_value; writes nothing when the key is not set).
// Returns the key's effective setting afterwards (its built-in, or unset).
Setting unset_value(const std::filesystem::path& file, const std::string& key);

}  // namespace certcli::config
