// certcli/lifecycle.hpp — the verbs of the product: add a domain, issue its certificate, report
// its status. Owns status transitions (pending -> issuing -> ready | failed), resuming an order
// after a crash, and the activity log entries. Returns structs; never prints.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/crypto.hpp>
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

struct AddDomainRequest {
  std::string name;
  std::vector<std::string> extra_names;
  store::ChallengeConfig challenge;
  std::string key_type = "ec256";
};
struct AddDomainResult {
  store::DomainRecord record;
  bool created = false;  // false when the same entry existed already (adding is idempotent)
};
AddDomainResult add_domain(store::Store& store, const Clock& clock, const AddDomainRequest& request);

// Takes a domain out of certcli's care. Its files are moved under removed/, not deleted, and
// a certificate that is live stays valid at the CA (revoke is a separate, deliberate act).
// Returns where the files went.
std::string remove_domain(store::Store& store, const Clock& clock, const std::string& name);

struct IssueRequest {
  std::string name;
  // The CA to use; when absent, the one the domain was last ordered from, else letsencrypt.
  // Remembering it keeps a domain tried on staging from silently moving to production.
  std::optional<CaSelection> ca;
  std::vector<std::string> contacts;  // e-mail addresses for a new account
  bool agree_to_terms = false;
  crypto::KeyType account_key_type = crypto::KeyType::ec256;  // for a new account only
  // From --http-listen / --webroot; replaces the stored challenge settings for this run and
  // is saved with the domain, so that renewals use the same.
  std::optional<store::ChallengeConfig> challenge;
  // How long this run may wait on the CA in all (polls, Retry-After). A CA that asks for a
  // longer wait gets RetryLater: the order is kept for the next run.
  std::chrono::seconds time_budget{180};
};

struct IssueResult {
  store::DomainRecord record;
  crypto::CertificateInfo certificate;
  std::string live_location;
  std::string account_url;
  bool account_created = false;
  bool order_resumed = false;
  long acme_requests = 0;
};

// Progress lines for the user ("ordering", "validating www.example.com via http-01 on ...").
using Progress = std::function<void(const std::string&)>;

// Runs the whole ACME flow for a stored domain. Preconditions (domain exists, CA answers, an
// account exists or may be created) are checked before anything is written, so a refused run
// leaves the state as it was. Once issuing has begun, every failure is recorded as
// status = failed with the error, and the in-flight order is kept so the next run resumes it.
IssueResult issue_certificate(store::Store& store, Clock& clock, net::HttpClient& http,
                              const IssueRequest& request, const Progress& progress);

struct DomainStatus {
  store::DomainRecord record;
  std::optional<crypto::CertificateInfo> live;  // the installed certificate, if any
  std::string live_location;
  // Status says issuing but no certcli is running: the run was killed; `issue` resumes it.
  bool interrupted = false;
};
// One domain (normalized name) or all when `name` is empty. Throws Error{not_found}.
std::vector<DomainStatus> domain_status(const store::Store& store, const std::string& name);

// Normalizes a name the user typed and loads its record, or throws Error{not_found} with the
// `certcli domain add` command that fixes it.
store::DomainRecord require_domain(const store::Store& store, const std::string& name);

}  // namespace certcli::lifecycle
