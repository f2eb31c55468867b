// certcli/dns.hpp — every DNS operation certcli makes of its own, through ldns: lookups through
// a resolver (the system's, or --dns-resolver), questions asked of one server directly (the
// zone's authoritative servers, for propagation), the zone that holds a name, CAA records
// (RFC 8659) and RFC 2136 dynamic updates signed with TSIG. Knows nothing of ACME.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certcli::dns {

// The ldns this process runs with ("ldns 1.8.3"), for --version.
std::string library_version();

// An IPv4 or IPv6 literal and a port.
struct ServerAddress {
  std::string host;
  int port = 53;
  std::string to_string() const;  // "192.0.2.1:53", "[2001:db8::1]:53"
};

// "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 literal. A host name is refused (DNS settings
// must not depend on DNS). Throws Error{invalid_input} naming `what` and the value.
ServerAddress parse_server_address(const std::string& text, const std::string& what, int default_port = 53);

enum class RecordType { A, AAAA, CNAME, TXT, NS, SOA, CAA };

struct CaaRecord {
  int flags = 0;
  std::string tag;    // "issue", "issuewild", "iodef", ... lowercased
  std::string value;  // the property value as written, e.g. "letsencrypt.org; validationmethods=dns-01"
};

// Names are written without the trailing dot, lowercased.
struct Answer {
  int rcode = 0;              // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
  bool authoritative = false;  // the AA bit
  // A CNAME at the queried name (the first hop only; empty when there is none).
  std::string cname;
  // Records of the type asked for, owned by the queried name or, when the server followed a
  // CNAME itself, by its target: A/AAAA addresses; NS/CNAME target names; TXT the strings of
  // one record joined; SOA the primary server's name (MNAME).
  std::vector<std::string> values;
  std::vector<CaaRecord> caa;  // for RecordType::CAA
};

// A signing key for dynamic updates (RFC 8945). The secret is base64, as in named.conf/knot.conf.
struct TsigKey {
  std::string name;
  std::string algorithm = "hmac-sha256";  // hmac-sha256, hmac-sha384 or hmac-sha512
  std::string secret;
};

// Throws Error{invalid_input} unless `algorithm` is one certcli signs with.
void check_tsig_algorithm(const std::string& algorithm);

class Resolver {
 public:
  // `server` set: every recursive lookup goes there (--dns-resolver, tests, split horizon);
  // else the servers of /etc/resolv.conf. `timeout` bounds each question.
  explicit Resolver(std::optional<ServerAddress> server = std::nullopt,
                    std::chrono::milliseconds timeout = std::chrono::seconds{5});

  // A recursive lookup through the resolver. Throws Error{network} when no server answers;
  // NXDOMAIN and empty answers are answers (rcode, empty values).
  Answer lookup(const std::string& name, RecordType type) const;
  // The same question asked of one server directly, without recursion (an authoritative server).
  Answer ask(const ServerAddress& server, const std::string& name, RecordType type) const;

  // A and AAAA addresses of `host` (empty when it has none).
  std::vector<std::string> addresses(const std::string& host) const;
  // The zone `name` lies in: the closest enclosing name that has an SOA record (walking up
  // label by label). Throws Error{challenge} when none is found.
  std::string find_zone(const std::string& name) const;
  // The zone's authoritative servers: its NS names resolved to addresses (port 53, or the
  // resolver's port when --dns-resolver names a port other than 53: a test server serves both).
  // Throws Error{challenge} when the zone has no NS records or none resolves.
  std::vector<std::pair<std::string, ServerAddress>> authoritative_servers(const std::string& zone) const;
  // Follows CNAMEs from `name` (at most 8 hops) and returns where they end; `name` itself when it
  // has none. Throws Error{challenge} for a loop or a longer chain.
  std::string follow_cnames(const std::string& name) const;
  // RFC 8659 3: the CAA record set that applies to `name`, climbing from `name` (without "*.")
  // towards the root and stopping at the first name that has one; empty when none has.
  // `found_at` is set to the name that held it.
  std::vector<CaaRecord> relevant_caa(const std::string& name, std::string* found_at = nullptr) const;

  const std::optional<ServerAddress>& server() const { return server_; }

 private:
  std::optional<ServerAddress> server_;
  std::chrono::milliseconds timeout_;
};

// RFC 2136 dynamic update of one TXT value at `fqdn` in `zone`, sent to `server` and signed with
// `key` when given: adds the value (other values at the name stay: an apex and its wildcard are
// validated through the same name) or deletes exactly that value. Throws Error{challenge} with
// the server's RCODE in words (NOTAUTH: "the server does not accept this key for zone X",
// REFUSED ...) and a hint; Error{network} when the server does not answer within `timeout`.
// The secret never appears in an error message.
void update_txt(const ServerAddress& server, const std::string& zone, const std::string& fqdn, const std::string& value,
                bool add, int ttl, const std::optional<TsigKey>& key, std::chrono::milliseconds timeout);

// Whether `server` would accept updates of `zone` signed with `key`, without changing the zone:
// sends an update whose only content is a false prerequisite (RFC 2136 2.4.4, a random name
// under the zone "in use") and no update records. The server checks the key and its policy
// first; NXDOMAIN (the prerequisite failed) means accepted, and the call returns. Throws
// Error{challenge} with the RCODE in words as update_txt does (BADKEY, BADSIG, REFUSED, NOTAUTH
// ...) and a hint; Error{network} when no answer comes within `timeout`. Rules that depend on
// the records changed (Knot's update-owner/update-type, BIND's update-policy names) are not
// exercised: a key limited to other names passes here and fails at the real update.
void check_update_access(const ServerAddress& server, const std::string& zone, const std::optional<TsigKey>& key,
                         std::chrono::milliseconds timeout);

}  // namespace certcli::dns
