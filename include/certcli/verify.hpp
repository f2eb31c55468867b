// certcli/verify.hpp — everything that must hold before a certificate is ordered, name by name:
// the name resolves and http-01 reaches certcli, or the dns-01 record is where the CA will look
// (CNAME delegation included), CAA (RFC 8659) lets the CA issue, and the ownership TXT record.
// Every lookup goes through the caller's dns::Resolver; the decisions are pure functions below.
// Returns reports; never prints, never asks the CA anything.
#pragma once

#include <certcli/challenge.hpp>
#include <certcli/clock.hpp>
#include <certcli/dns.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/store.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace certcli::lifecycle {

struct CheckResult {
  std::string check;  // "address", "http-01", "dns-01", "dns-update", "caa", "ownership"
  bool ok = true;
  bool warning = false;  // holds, with something worth knowing
  // dns-01: valid | missing | wrong | duplicate; http-01: valid or the preflight cause.
  std::string status;
  std::string message;
  std::string fix;  // when not ok (or a warning): what to change, records written out in full
};

struct NameReport {
  std::string name;
  std::string challenge_type;  // "http-01" or "dns-01"
  std::vector<CheckResult> checks;
  bool ok() const;
};

struct VerifyReport {
  std::string domain;
  std::vector<NameReport> names;
  bool ownership_token_renewed = false;  // the old one had expired: its TXT value is now wrong
  bool ok() const;
  int failures() const;
};

// The http-01 solver the preflight presents its probe through (issue: its shared pool).
using HttpSolverFor = std::function<challenge::Solver&(const challenge::HttpSettings&)>;

// Runs every check for `record`'s names with the effective challenge settings, every lookup
// through environment.resolver; CAA is judged against environment.caa_identities. Without
// `http_solver`, http-01 names get the address check only. Pure of the store.
VerifyReport run_checks(const store::DomainRecord& record, const challenge::Settings& effective,
                        const ChallengeEnvironment& environment, const HttpSolverFor& http_solver = {});

// Throws Error{preflight} naming the first failing name and check with its fix, and how many
// other checks failed; returns when the report holds.
void require_passed(const VerifyReport& report);

struct VerifyRequest {
  std::string name;
  // The CA whose CAA identity counts: this one, else the domain's last, else default_ca, else
  // letsencrypt. A preset's identities join environment.caa_identities (config.toml's).
  std::optional<CaSelection> ca;
  std::optional<CaSelection> default_ca;
  challenge::Settings default_challenge;  // config.toml's
  ChallengeEnvironment environment;       // require_ownership: config.toml's or this run's
};

// `certcli verify`: under the domain's lock, renews an expired (or missing) ownership token when
// ownership is required, runs the checks (http-01 through a solver made from the settings),
// stores the findings in record.verification, and logs domain.verified or domain.verify_failed.
VerifyReport verify_domain(store::Store& store, const Clock& clock, const VerifyRequest& request);

// A new random ownership token (32 bytes, base64url) valid for 30 days from `now`.
void new_ownership_token(store::DomainRecord& record, TimePoint now);
// Missing, or expired at `now`.
bool ownership_token_expired(const store::VerificationState& state, TimePoint now);
// "_certcli-verify.example.com" for "example.com" and "*.example.com".
std::string ownership_record_name(const std::string& name);

// The CAA identities of a preset CA by its directory URL (letsencrypt.org, sectigo.com, ...);
// empty for a CA certcli does not know.
std::vector<std::string> known_caa_identities(const std::string& directory_url);

// ---------------------------------------------------------------------------------------------
// The decisions, as pure functions.
// ---------------------------------------------------------------------------------------------

struct CaaVerdict {
  bool allowed = true;
  std::string allows;  // "allows letsencrypt.org, sectigo.com", "forbids every CA", ...
  std::string reason;  // why not allowed
};
// RFC 8659 4: whether a CA with `identities` may issue for a name given the relevant CAA set
// `records` (`wildcard`: the name is "*.X", so issuewild rules when the set has any).
CaaVerdict evaluate_caa(const std::vector<dns::CaaRecord>& records, const std::vector<std::string>& identities,
                        bool wildcard);

// What the lookups at `_acme-challenge.NAME` returned.
struct ChallengeRecordFound {
  std::string record_name;       // "_acme-challenge.example.com"
  std::string cname;             // its CNAME target, empty when none
  std::vector<std::string> txt;  // TXT values held at the name itself
};
// The dns-01 status of a name: with `alias` set, valid | missing | wrong | duplicate with the
// exact records to change; without, valid (noting a CNAME that certcli follows) with stale TXT
// values as a warning.
CheckResult classify_challenge_record(const ChallengeRecordFound& found, const std::string& alias);

}  // namespace certcli::lifecycle
