// certcli/lifecycle.hpp — the verbs of the product: add a domain, issue its certificate, report
// its status. Owns status transitions (pending -> issuing -> ready | failed), resuming an order
// after a crash, and the activity log entries. Returns structs; never prints.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/challenge.hpp>
#include <certcli/crypto.hpp>
#include <certcli/dns.hpp>
#include <certcli/error.hpp>
#include <certcli/limits.hpp>
#include <certcli/net.hpp>
#include <certcli/store.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace certcli::lifecycle {

struct CaPreset {
  std::string name;
  std::string directory_url;
  std::string staging;  // the preset's staging twin, empty when it has none
};
const std::vector<CaPreset>& ca_presets();

struct CaSelection {
  std::string name;           // preset name, or "custom"
  std::string directory_url;
  std::string id;             // directory name under accounts/
};
// From --ca NAME, --directory URL and --staging (at most one of ca/directory). Defaults to
// letsencrypt. Throws Error{usage} for an unknown preset or a preset without staging.
CaSelection select_ca(const std::string& ca_name, const std::string& directory_url, bool staging);
// A stable, path-safe id for a directory URL ("127.0.0.1_14000-1a2b3c4d").
std::string ca_id_for_url(const std::string& directory_url);

// What challenge solvers and the checks before ordering need from the caller, besides the
// settings: the world outside the state directory.
struct ChallengeEnvironment {
  // Every lookup of certcli's own (propagation, preflight, CAA); --dns-resolver or the system's.
  const dns::Resolver* resolver = nullptr;
  int http01_port = 80;  // where the CA fetches http-01 (another port only for test CAs)
  std::function<const char*(const char*)> getenv;  // resolves TSIG secret references
  bool interactive = false;                        // stdin is a terminal (manual dns-01: Enter)
  std::vector<std::string> caa_identities;         // config.toml's; the CA's directory adds its own
  bool require_ownership = false;                  // config.toml asks every domain for the TXT token
  bool skip_preflight = false;                     // --skip-preflight
  // Where http-01 answers are published for `certcli serve` (<home>/http-01), for the serve mode.
  std::filesystem::path http01_directory;
};

struct AddDomainRequest {
  std::string name;
  std::vector<std::string> extra_names;
  bool wildcard = false;           // --wildcard: add "*.NAME" too (dns-01 validates it)
  bool require_ownership = false;  // make an ownership token; verify and issue check its TXT record
  challenge::Settings challenge;
  challenge::Settings default_challenge;  // config.toml's, to tell whether dns-01 is available
  std::string key_type = "ec256";
  std::optional<int> buffer_days;  // renew when fewer days are left (else config.toml, else a third)
  std::string deploy_hook;         // run through /bin/sh -c after this domain's certificate changes
  // --profile, --preferred-profile, --preferred-chain, --reuse-key (csr is issue's alone).
  store::OrderOptions order;
};
struct AddDomainResult {
  store::DomainRecord record;
  bool created = false;  // false when the domain existed already (adding is idempotent)
  // An existing domain gained these names; they are not covered until the next certificate.
  std::vector<std::string> added_names;
  // The name was removed while its certificate was still valid for the same names: the removed
  // copy came back as ready from here, and no order is needed.
  std::string restored_from;
};
// On an existing domain, adds the names it lacks (removing names is a separate act) and
// changes nothing else; challenge options that differ from the stored ones are refused in
// favour of set_domain. Logs domain.added, domain.changed or domain.restored.
AddDomainResult add_domain(store::Store& store, const Clock& clock, const AddDomainRequest& request);

// Takes a domain out of certcli's care. Its files are moved under removed/, not deleted, and
// a certificate that is live stays valid at the CA (revoke is a separate, deliberate act).
// Returns where the files went.
std::string remove_domain(store::Store& store, const Clock& clock, const std::string& name);

struct RestoreResult {
  store::DomainRecord record;
  std::string restored_from;  // the removed/ directory
};
// Brings the newest removed copy of `name` back as it was. Throws Error{invalid_input} when
// the name is managed again, Error{not_found} when nothing of that name was removed.
RestoreResult restore_domain(store::Store& store, const Clock& clock, const std::string& name);

// Deletes the domain's files and every removed copy of it for good; the caller has asked the
// user first. Throws Error{not_found} when there is neither. Returns what was deleted.
std::vector<std::string> purge_domain(store::Store& store, const Clock& clock, const std::string& name);

struct SetDomainRequest {
  std::string name;
  std::optional<std::string> key_type;           // used from the next certificate on
  // keys.live_key for this domain: "plain", "encrypted" or "default" (config.toml's); the live
  // key is rewritten to match at once.
  std::optional<std::string> live_key;
  // The parts given (http-01, dns-01) replace the domain's; the other part stays.
  std::optional<challenge::Settings> challenge;
  challenge::Settings default_challenge;          // config.toml's, to check wildcard names
  std::optional<int> buffer_days;                 // 0: back to config.toml's or the lifetime rule
  std::optional<std::string> deploy_hook;         // "": none of its own
  // "": none. `drop_csr`: certcli makes the key and CSR again from the next certificate on.
  std::optional<std::string> profile;
  std::optional<std::string> preferred_profile;
  std::optional<std::string> preferred_chain;
  std::optional<bool> reuse_key;
  bool drop_csr = false;
};
struct DomainChange {
  std::string setting;  // "key_type", "challenge", "buffer_days", "deploy_hook"
  std::string before;   // for people; never a secret (a deploy hook is not repeated)
  std::string after;
};
struct SetDomainResult {
  store::DomainRecord record;
  std::vector<DomainChange> changes;  // empty: everything was as asked already, nothing written
};
// Checks the new settings as add_domain does, then changes them under the domain's lock and
// logs domain.changed with what changed.
SetDomainResult set_domain(store::Store& store, const Clock& clock, const SetDomainRequest& request);

// External Account Binding as the user gave it (RFC 8555 7.3.4), used only when an account is
// created: `hmac_key` is base64url, or a $ENV:VAR / $FILE:/path reference read at that moment.
// Never stored (the account record keeps the kid alone).
struct EabOptions {
  std::string kid;
  std::string hmac_key;
  std::string algorithm;  // HS256 (empty), HS384, HS512
  bool given() const { return !kid.empty() || !hmac_key.empty(); }
};

struct IssueRequest {
  std::string name;
  std::string account_name;  // --account: a named account at the CA; empty: its default one
  EabOptions eab;            // for a new account
  // The CA to use; when absent, the one the domain was last ordered from, else letsencrypt.
  // Remembering it keeps a domain tried on staging from silently moving to production.
  std::optional<CaSelection> ca;
  std::vector<std::string> contacts;  // e-mail addresses for a new account
  bool agree_to_terms = false;
  crypto::KeyType account_key_type = crypto::KeyType::ec256;  // for a new account only
  // From the challenge options; replaces the stored challenge settings for this run and is
  // saved with the domain, so that renewals use the same.
  std::optional<challenge::Settings> challenge;
  // config.toml's defaults, used where neither the command line nor the domain says:
  std::optional<CaSelection> default_ca;
  challenge::Settings default_challenge;
  ChallengeEnvironment environment;
  // How long this run may wait on the CA in all (polls, Retry-After). A CA that asks for a
  // longer wait gets RetryLater: the order is kept for the next run.
  std::chrono::seconds time_budget{180};
  // --deploy-hook: run after the certificate is installed, and saved with the domain for
  // renewals. Without it, the domain's own, else `default_deploy_hook` (config.toml).
  std::optional<std::string> deploy_hook;
  std::string default_deploy_hook;
  std::chrono::seconds deploy_hook_timeout{300};
  // --profile, --preferred-profile, --preferred-chain: saved with the domain ("" clears one).
  std::optional<std::string> profile;
  std::optional<std::string> preferred_profile;
  std::optional<std::string> preferred_chain;
  bool reuse_key = false;  // --reuse-key: this run keeps the live key (the domain's setting aside)
  // --force: go ahead even when the new certificate's key would match no pin (certcli/pin.hpp).
  bool break_pins = false;
  // --csr: an operator's PKCS#10 request (PEM or DER bytes), checked against the domain's names
  // and saved with it, so that renewals send it again; the key stays the operator's.
  std::string csr;
  // The rate-limit budget (certcli/limits.hpp): checked before an order, --ignore-limits.
  limits::Settings limits;
};

// What became of a deploy hook run after a certificate changed.
struct HookOutcome {
  std::string command;
  bool succeeded = false;
  std::string detail;  // "exited with status 3", "did not finish within 300 s and was stopped"
};

struct IssueResult {
  store::DomainRecord record;
  crypto::CertificateInfo certificate;
  std::string live_location;
  std::string account_url;
  bool account_created = false;
  bool order_resumed = false;
  long acme_requests = 0;
  std::optional<HookOutcome> hook;  // when a deploy hook ran
};

// Progress lines for the user ("ordering", "validating www.example.com via http-01 on ...").
using Progress = std::function<void(const std::string&)>;

// Runs the whole ACME flow for a stored domain. Preconditions (domain exists, CA answers, an
// account exists or may be created) are checked before anything is written, so a refused run
// leaves the state as it was. Once issuing has begun, every failure is recorded as
// status = failed with the error, and the in-flight order is kept so the next run resumes it.
IssueResult issue_certificate(store::Store& store, Clock& clock, net::HttpTransport& http,
                              const IssueRequest& request, const Progress& progress);

// Expiry alerts: a JSON POST to `webhook_url` when a certificate crosses each threshold (days
// left), once per threshold per certificate, and when a renewal fails.
struct AlertSettings {
  std::string webhook_url;  // empty: alerts are worked out and reported, not posted
  std::vector<int> days{30, 14, 7};
};

struct RenewSettings {  // config.toml's renewal and alert settings, resolved by the caller
  challenge::Settings default_challenge;
  ChallengeEnvironment environment;
  std::optional<int> buffer_days;
  std::string deploy_hook;
  std::chrono::seconds deploy_hook_timeout{300};
  AlertSettings alerts;
};

struct RenewRequest {
  std::vector<std::string> names;  // empty: every managed domain
  std::string account_name;        // --account, as issue's
  EabOptions eab;                  // for a new account, as issue's
  bool force = false;              // renew even when not due, and despite backoff
  // Run the whole flow against the staging twin of the domain's CA (or `ca` when given), keep
  // nothing: no record, key, archive or live file changes, no hook, no alert.
  bool dry_run = false;
  std::optional<CaSelection> ca;   // with dry_run: where to try
  std::string deploy_hook;         // --deploy-hook: this run only, over the domain's and config's
  std::chrono::seconds time_budget{180};  // per domain, as issue's --timeout
  std::chrono::seconds random_delay{0};   // wait a random part of this before the first request
  int parallel = 1;                       // renewals at once, sharing sessions and solvers
  bool reuse_key = false;                 // --reuse-key: each renewal keeps its live key
  limits::Settings limits;                // the rate-limit budget, as issue's
  RenewSettings settings;
};

enum class RenewAction { skipped, renewed, failed, backed_off };
std::string to_string(RenewAction action);

struct RenewOutcome {
  std::string domain;
  RenewAction action = RenewAction::skipped;
  std::string reason;                        // why skipped / due / failed
  std::optional<TimePoint> next_attempt_at;  // backed off or failed: when it is tried again
  std::optional<TimePoint> due_at;           // skipped: when it becomes due
  std::optional<TimePoint> new_expiry;       // renewed
  std::optional<HookOutcome> hook;
  std::optional<Error> error;                // failed
  bool locked = false;                       // skipped: another certcli holds the domain's lock
  bool unreadable = false;                   // failed: its domain.toml cannot be read (`error` names it)
};

struct RenewReport {
  std::vector<RenewOutcome> outcomes;
  long acme_requests = 0;
  std::vector<std::string> alert_errors;     // webhook POSTs that failed (tried again next run)
  bool any_failed() const;
  bool any_hook_failed() const;
};

// The challenge settings a run uses: the domain's own, else the default (config.toml), else
// certcli's listener on :80 (challenge::merge_settings).
challenge::Settings effective_challenge(const store::DomainRecord& record, const challenge::Settings& fallback);

// Renews every managed domain (or those named) that is due, after renewal::renewal_due, skips
// those backing off, and then posts the expiry alerts owed. A domain neither due nor backing
// off costs no request to the CA and no certificate parse. Failures are recorded with their
// next attempt; an interruption stops the run (the domain resumes next time).
RenewReport renew_certificates(store::Store& store, Clock& clock, net::HttpTransport& ca_http, net::HttpTransport& webhook_http,
                               const RenewRequest& request, const Progress& progress);

struct ExpiryReport {
  std::string domain;
  std::string status;
  std::optional<TimePoint> expires_at;
  int days_left = 0;
  std::vector<int> alerts_posted;  // thresholds posted by this run
  std::string alert_error;         // the POST failed: tried again on the next run
};
// `certcli check`: the expiry alerts alone, with no request to the CA. With `unreadable`, a
// domain.toml that cannot be read is put there and the others are checked; without, it throws.
std::vector<ExpiryReport> check_expiry(store::Store& store, const Clock& clock, net::HttpTransport& webhook_http,
                                       const AlertSettings& settings,
                                       std::vector<store::UnreadableDomain>* unreadable = nullptr);
// The same for records the caller has just read (renew), so that no record is read twice.
std::vector<ExpiryReport> check_expiry(store::Store& store, const Clock& clock, net::HttpTransport& webhook_http,
                                       const AlertSettings& settings, const std::vector<store::DomainRecord>& records);

struct DomainStatus {
  store::DomainRecord record;
  std::optional<crypto::CertificateInfo> live;  // the installed certificate, if any
  std::string live_location;
  // Status says issuing but no certcli is running: the run was killed; `issue` resumes it.
  bool interrupted = false;
  // Names of the record the live certificate does not cover (added since it was issued).
  std::vector<std::string> uncovered_names;
};
// One domain (normalized name) or all when `name` is empty. Throws Error{not_found}. With
// `unreadable` (all domains only), a domain.toml that cannot be read is put there and the others
// are listed; without, it throws.
std::vector<DomainStatus> domain_status(const store::Store& store, const std::string& name,
                                        std::vector<store::UnreadableDomain>* unreadable = nullptr);

struct NameDetail {
  std::string name;
  std::optional<bool> covered;           // by the live certificate; absent when there is none
  std::optional<store::NameCheck> check;  // what the last verify found for it
};
struct ArchiveVersion {
  std::string version;  // archive/<version>
  bool live = false;
  std::optional<crypto::CertificateInfo> certificate;
  std::string error;  // why the certificate could not be read
};
// `domain show`: the status, each name with its coverage and DNS status, and the archive.
struct DomainDetails {
  DomainStatus status;
  std::vector<NameDetail> names;
  std::vector<ArchiveVersion> archive;  // oldest first
};
DomainDetails domain_details(const store::Store& store, const std::string& name);

// Normalizes a name the user typed and loads its record, or throws Error{not_found} with the
// `certcli domain add` command that fixes it.
store::DomainRecord require_domain(const store::Store& store, const std::string& name);

}  // namespace certcli::lifecycle
