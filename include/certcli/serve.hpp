// certcli/serve.hpp — `certcli serve`: a small HTTP service over the state directory for reverse
// proxies and fleets (Caddy's on-demand TLS `ask`, status for scripts, http-01 answers
// forwarded from other web servers). Owns the routing and the rules of each answer; the
// decisions (which names are allowed, what a listen address may be) are pure functions. It
// prints nothing and writes nothing: the CLI adds the status JSON and the access log.
#pragma once

#include <certcli/net.hpp>
#include <certcli/store.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::lifecycle {

// Percent-decodes a query value ('+' is a space, as in a form); nullopt for a malformed escape
// ("%zz", a '%' at the end) or a decoded NUL.
std::optional<std::string> percent_decode(std::string_view text);
// The raw (still encoded) value of `key` in a query string "a=1&domain=x"; nullopt when absent.
std::optional<std::string> query_parameter(std::string_view query, std::string_view key);

struct AllowDecision {
  bool allowed = false;
  std::string reason;  // for people: "managed by example.com", "not managed by certcli", ...
};

// Whether a certificate for `host` (normalized) may be obtained on demand: a name of a managed
// domain, or one a wildcard of it covers (never a wildcard's apex); when ownership is required
// (`require_ownership`, or the domain's own [verification]), the last `certcli verify` must have
// found the ownership record. `removed` says whether `host` is a removed domain's name, for the
// reason only. Pure.
AllowDecision decide_allowed(const std::vector<store::DomainRecord>& domains, const std::string& host,
                             bool require_ownership, bool removed);

// Whether `address` (an IP literal, as parse_listen_address returns it) is a loopback address.
// "::" and "0.0.0.0" (every address) are not.
bool is_loopback_address(const std::string& address);

struct ServeSettings {
  std::filesystem::path http01_directory;  // <home>/http-01, where issue --http-serve publishes
  bool require_ownership = false;          // --require-ownership: every name needs it
  // The body of GET /status/NAME for a normalized name (the JSON of `status NAME --json`), or
  // nullopt when no such domain is managed; from the CLI, which owns that JSON shape.
  std::function<std::optional<std::string>(const std::string& name)> status_json;
};

// The handler of `certcli serve`: GET /healthz, /allowed?domain=NAME, /status/NAME and
// /.well-known/acme-challenge/TOKEN; 404 for anything else. Reads the store per request (no
// cache: a domain added or removed counts from the next request); takes no lock.
net::HttpHandler make_serve_handler(const store::Store& store, ServeSettings settings);

}  // namespace certcli::lifecycle
