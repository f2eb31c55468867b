// certcli/challenge.hpp — challenge solvers: the extension point for proving control of a name.
// Owns the challenge settings (one part per solver kind, parsed and validated here), putting a
// key authorization where the CA will look, waiting until it is visible there, and taking it
// away again. A solver knows nothing of orders, accounts or the store.
#pragma once

#include <certcli/dns.hpp>
#include <certcli/net.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace certcli::challenge {

// ---------------------------------------------------------------------------------------------
// Settings: what a domain (or config.toml) says about answering challenges.
// ---------------------------------------------------------------------------------------------

struct HttpSettings {
  std::string listen;   // "ADDR:PORT" for certcli's own listener
  std::string webroot;  // when set, http-01 files are written under it instead
  // When set, http-01 key authorizations are published into the state directory
  // (<home>/http-01/<token>) for a running `certcli serve` to answer.
  bool serve = false;
  bool given() const { return !listen.empty() || !webroot.empty() || serve; }
};

struct DnsSettings {
  // Exactly one way to publish the TXT record:
  std::string rfc2136_server;  // RFC 2136 dynamic update to SERVER[:PORT]
  std::string hook;            // PROGRAM called as `PROGRAM present|cleanup FQDN VALUE`
  bool manual = false;         // print the record, wait until it is visible (or Enter)
  // RFC 2136 details.
  std::string tsig_key;                    // key name
  std::string tsig_secret;                 // a reference, "$ENV:VAR" or "$FILE:/path": never the secret
  std::string tsig_algorithm;              // empty: hmac-sha256
  std::string zone;                        // the zone to update; empty: found from the SOA
  // CNAME delegation: when set, `_acme-challenge.NAME` is expected to be a CNAME to this name
  // (verify reports Missing / Wrong / Duplicate otherwise). Without it a CNAME found there is
  // still followed: the record is written where it points.
  std::string alias;
  // Where the value must be seen before the CA is asked: "authoritative" (every authoritative
  // server of the zone, asked directly; the default), "resolver" (the resolver certcli uses) or "off".
  std::string propagation;
  std::optional<int> propagation_timeout_seconds;   // default 120
  std::optional<int> propagation_interval_seconds;  // default 2
  std::optional<int> ttl;                           // of the TXT record; default 60
  // The hook's time limit per call; default 120 s.
  std::optional<int> hook_timeout_seconds;

  bool configured() const { return !rfc2136_server.empty() || !hook.empty() || manual; }
  // "rfc2136", "hook", "manual", or "" when none is configured.
  std::string provider() const;
};

struct Settings {
  HttpSettings http;
  DnsSettings dns;
  // The challenge type that answers `name`: dns-01 for a wildcard, and for any name when dns-01
  // is configured and http-01 was not asked for; else http-01.
  std::string type_for(const std::string& name) const;
};

// For people: "http-01 via webroot /var/www", "http-01 on :80; dns-01 via RFC 2136 at
// 192.0.2.53:53 (key certcli)"; the default listener when nothing is set. No secret appears.
std::string describe(const Settings& settings);

// Checks the settings before they are saved or used, and throws Error{invalid_input} naming the
// option and the fix: at most one dns-01 provider; TSIG key name, secret reference and algorithm
// together and only with --dns-rfc2136; a secret given in clear is refused (store a reference);
// addresses parse; timeouts and TTL in range; a webroot that does not exist (see
// check_http01_settings for the port).
void check_settings(const Settings& settings);

// The effective settings: the domain's own part where it has one, else config.toml's.
Settings merge_settings(const Settings& own, const Settings& fallback);

// A TSIG secret from its reference: "$ENV:VAR" reads the environment (through `getenv`),
// "$FILE:/path" reads the file (trailing newline dropped). Throws Error{invalid_input} naming
// the reference (never the value) when it is not set, unreadable or not base64.
std::string resolve_secret(const std::string& reference, const std::function<const char*(const char*)>& getenv);
// The same for any secret ("the EAB HMAC key", "--eab-hmac-key"), without the base64 check.
std::string read_secret_reference(const std::string& reference, const std::function<const char*(const char*)>& getenv,
                                  const std::string& what, const std::string& option);
// Whether `text` is a "$ENV:" or "$FILE:" reference.
bool is_secret_reference(const std::string& text);

// ---------------------------------------------------------------------------------------------
// Solvers
// ---------------------------------------------------------------------------------------------

struct ChallengeTask {
  std::string identifier;         // the name as ordered: "www.example.com", "*.example.com"
  std::string type;               // "http-01" or "dns-01"
  std::string token;              // the challenge token (checked to be base64url before use)
  std::string key_authorization;  // token.thumbprint
};

using Progress = std::function<void(const std::string&)>;

class Solver {
 public:
  virtual ~Solver() = default;
  // The ACME challenge type this solver answers ("http-01", "dns-01").
  virtual std::string challenge_type() const = 0;
  // Makes the key authorization visible to the CA; throws Error{challenge} with a hint.
  virtual void present(const ChallengeTask& task) = 0;
  // Returns once everything present() put in place for `tasks` can be seen where the CA will
  // look (dns-01: every authoritative server serves every value), reporting what is still
  // missing through `progress`; throws Error{challenge} naming what is missing when
  // propagation_timeout() passes. http-01 is visible at once.
  virtual void wait_until_visible(const std::vector<ChallengeTask>& tasks, const Progress& progress) {
    (void)tasks;
    (void)progress;
  }
  virtual std::chrono::seconds propagation_timeout() const { return std::chrono::seconds{0}; }
  // Removes what present() put in place, and nothing else (a task never presented is left
  // alone). Never throws: returns "" on success, else what could not be removed, for the caller
  // to log as a warning.
  virtual std::string cleanup(const ChallengeTask& task) noexcept = 0;
  // For progress messages: "http-01 on 127.0.0.1:80", "dns-01 via RFC 2136 at 192.0.2.53:53".
  virtual std::string describe() const = 0;
};

// "/.well-known/acme-challenge/<token>" (RFC 8555 8.3). Throws Error{ca_rejected} for a token
// outside the base64url alphabet, since it becomes part of a path.
std::string http01_path(const std::string& token);
// "_acme-challenge.example.com" for "example.com" and for "*.example.com" (RFC 8555 8.4).
std::string dns01_record_name(const std::string& identifier);
// base64url(SHA-256(key authorization)), the TXT value (RFC 8555 8.4).
std::string dns01_txt_value(const std::string& key_authorization);

// The http-01 answers of one listener: key authorizations by token, as a request handler's
// part, so that the standalone solver and a longer-running server (`certcli serve`) answer
// them the same way. Thread-safe: present() and cleanup() run beside the server's thread.
class Http01Answers {
 public:
  void add(const std::string& token, const std::string& key_authorization);
  void remove(const std::string& token);
  // For a GET or HEAD of /.well-known/acme-challenge/TOKEN: 200 with the key authorization of
  // a token added, else 404. nullopt for any other path, which another handler may answer.
  std::optional<net::HttpResponse> answer(const net::HttpRequest& request) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> by_token_;
};

// http-01 with certcli's own listener on `address`:`port`.
std::unique_ptr<Solver> make_http_standalone_solver(const std::string& address, int port);
// http-01 through an existing web server's document root.
std::unique_ptr<Solver> make_http_webroot_solver(const std::filesystem::path& webroot);
// http-01 through `certcli serve`: each key authorization is written to <directory>/<token>
// (atomically, 0600, never through a link), where a running `certcli serve` over the same state
// directory reads it per request; cleanup() removes exactly the files present() wrote.
std::unique_ptr<Solver> make_http_serve_solver(const std::filesystem::path& directory);
// http-01 from settings: the webroot when given, the serve directory (`serve_directory`, the
// state directory's http-01/) in serve mode, else the listener (default ":80").
std::unique_ptr<Solver> make_http_solver(const HttpSettings& settings,
                                         const std::filesystem::path& serve_directory = {});
// The key authorization published for `token` in `directory` (by the serve solver), or nullopt
// when the token is not base64url, nothing is published for it, or the entry is not a plain
// file (a link is refused, never followed). Never throws for what it finds.
std::optional<std::string> read_published_key_authorization(const std::filesystem::path& directory,
                                                            const std::string& token) noexcept;

// What a dns-01 solver needs from its caller.
struct DnsContext {
  const dns::Resolver* resolver = nullptr;                // for every lookup of certcli's own
  std::function<const char*(const char*)> getenv;          // to resolve the TSIG secret reference
  Progress progress;                                       // manual instructions, propagation
  bool interactive = false;                                // stdin is a terminal (manual: Enter)
};

// dns-01 through the configured provider. Each present() follows a CNAME at
// `_acme-challenge.NAME` (the record goes where it points), finds the zone (settings.zone, else
// the SOA) and adds the value; cleanup() deletes exactly the values it added, where it added them.
// Throws Error{invalid_input} when no provider is configured or the secret cannot be resolved.
std::unique_ptr<Solver> make_dns_solver(const DnsSettings& settings, const DnsContext& context);

// Checks http-01 settings before anything is asked of a CA: the webroot (when given) is a
// directory this user can write under; else the listen address ("" means ":80") parses and,
// with `try_listening`, its port can be bound right now. Throws Error{invalid_input} for a bad
// value, Error{challenge} for a port that is busy or forbidden, each with the fix.
void check_http01_settings(const std::filesystem::path& webroot, const std::string& http_listen, bool try_listening);

// Splits "ADDR:PORT", "[v6]:PORT" or ":PORT" (all addresses) into its parts; throws
// Error{invalid_input} naming the bad value.
std::pair<std::string, int> parse_listen_address(const std::string& text);

// ---------------------------------------------------------------------------------------------
// HTTP-01 preflight: does http://NAME/.well-known/acme-challenge/ reach this solver?
// ---------------------------------------------------------------------------------------------

enum class PreflightCause {
  ok,
  no_address,          // the name has no A/AAAA record
  refused,             // connection refused
  timed_out,           // no connection or no answer in time
  not_found,           // 404: file missing, wrong document root, routed to another server
  wrong_content,       // 200 with other content
  http_error,          // another status
  redirect_loop,       // more than 10 redirects, or back to where it was
  https_failed,        // redirected to https, which failed (certificate, connection)
};
std::string to_string(PreflightCause cause);  // "not-found", "wrong-content", ...

struct PreflightResult {
  std::string name;
  PreflightCause cause = PreflightCause::ok;
  std::string url;                    // the first URL fetched
  std::string message;                // what was seen, for people
  std::string hint;                   // the fix
  std::vector<std::string> warnings;  // e.g. "resolves to 203.0.113.7, which is not an address of this host"
  bool ok() const { return cause == PreflightCause::ok; }
};

// Presents a probe of certcli's own through `solver` (a random token and content), fetches
// http://NAME:PORT/.well-known/acme-challenge/<probe> from the addresses `resolver` gives for NAME
// (following redirects as a CA does, at most 10), compares the content, and removes the probe.
// `port` is 80 but for test CAs that validate elsewhere. Never throws for what it finds; throws
// Error{challenge} only when the probe cannot be presented.
PreflightResult http01_preflight(Solver& solver, const std::string& name, const dns::Resolver& resolver, int port,
                                 std::chrono::milliseconds timeout = std::chrono::seconds{10});

}  // namespace certcli::challenge
