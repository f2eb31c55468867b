// The shared steps of the verbs that obtain certificates (issue, renew, and later upload's
// install): an ACME session with its account, the order flow for one domain, the install step,
// failure bookkeeping and activity events. Internal to lifecycle/: each verb is a short
// composition of these, so that crash safety and request economy hold for all of them alike.
#pragma once

#include <certcli/acme.hpp>
#include <certcli/challenge.hpp>
#include <certcli/crypto.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/store.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certcli::lifecycle::steps {

// Appends {time, event, domain, ...details} to the activity log.
void log_event(store::Store& store, const Clock& clock, const std::string& event, const std::string& domain,
               nlohmann::json details = nlohmann::json::object());

// The error type recorded in domain.toml: the ACME problem type, or "certcli:<kind>".
std::string recorded_error_type(const Error& error);

struct AccountOptions {
  std::vector<std::string> contacts;  // e-mail addresses for a new account
  bool agree_to_terms = false;
  crypto::KeyType key_type = crypto::KeyType::ec256;
  std::string account_name{};  // empty: the CA's default account
  EabOptions eab{};            // for a new account (account.cpp resolves and checks it)
};

// Where the account of `options` lives in the store: the CA's id, or "<ca-id>/<name>"
// (account.cpp). Throws Error{usage} for a name that is not [a-z0-9][a-z0-9_-]{0,31}.
std::string account_store_id(const CaSelection& ca, const std::string& account_name);
// Refuses a deactivated account with the way to a new one (account.cpp).
void refuse_deactivated(const store::AccountRecord& account, const CaSelection& ca, const std::string& account_name);
// The binding to send for a new account: nullopt when none was given (and the CA needs none);
// Error{usage} naming where the preset's users get credentials when the CA requires one.
std::optional<acme::ExternalAccountBinding> external_account_binding(const EabOptions& eab, const CaSelection& ca,
                                                                      const acme::Directory& directory);

// Throws Error{invalid_input} for a contact that is not one plausible e-mail address.
void check_contacts(const std::vector<std::string>& contacts);

// One CA, one ACME client (one connection, one nonce pool, one directory fetch) and the account
// there. Every domain a run handles at that CA goes through the same session.
class Session {
 public:
  Session(store::Store& store, Clock& clock, net::HttpTransport& http, CaSelection ca, std::chrono::seconds budget);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const CaSelection& ca() const { return ca_; }
  acme::Client& client() { return client_; }
  Clock& clock() { return clock_; }

  // Before the lock is taken, so that a run refused for this writes nothing: no stored account
  // and none may be created without agreeing to the CA's terms. Fetches the directory.
  void refuse_unagreed_registration(const AccountOptions& options);
  // Under the lock: uses the stored account, or registers one (saved with its key).
  // Also loads what certcli learned of this CA's speed (acme::CaTiming).
  void load_or_register(const AccountOptions& options, const Progress& progress);
  bool account_created() const { return account_created_; }
  // After the orders: keeps what this run learned of the CA's speed, under the state lock. A
  // failure is only said: the estimate is worth a few hundred milliseconds, never a run.
  void save_timing(const Progress& progress) noexcept;

 private:
  // The client's account recovery: registers the stored account's key again at a CA that
  // forgot it, and saves the new URL. `progress` must outlive the session.
  std::string register_again(const std::string& id, store::AccountRecord record, const Progress& progress);

  store::Store& store_;
  Clock& clock_;
  CaSelection ca_;
  acme::Client client_;
  std::optional<crypto::PrivateKey> account_key_;
  bool account_created_ = false;
  bool timing_loaded_ = false;
  acme::CaTiming stored_timing_;
};

// What the order flow hands to the install step.
struct ObtainedCertificate {
  // The certificate's key; absent when the domain orders with an operator's own CSR
  // (record.order.csr), whose key certcli never holds: `csr_public_key_der` is then its key.
  std::optional<crypto::PrivateKey> key;
  std::string chain_pem;
  bool order_resumed = false;
  std::string csr_public_key_der;
};

// What is wrong with a certificate's names (its dNSName and iPAddress SANs) for an order of
// `ordered`: "" when they are the same set, else which names it lacks and which it adds. Compared
// as certcli stores names (lowercase A-labels, IP addresses in canonical form). Pure.
std::string certificate_names_mismatch(const std::vector<std::string>& ordered, const std::vector<std::string>& sans);

// Saves `record` with last_updated_at set; the order flow calls it at every phase change.
using SaveRecord = std::function<void()>;

// The ACME order flow for one stored domain on `session`: resumes the recorded order when the
// CA still can, else orders anew; presents and answers every challenge before polling any;
// finalizes with the kept key; downloads the chain. The order URL is saved before any challenge
// is answered and the key before finalize, so a crash at any point is resumed.
// Solvers shared by the domains of one run, one per distinct setting: a standalone listener is
// bound once however many domains use it. Making one checks the setting (a busy port, a missing
// webroot, an unset TSIG secret throw as the make_*_solver functions do). Thread-safe.
class SolverPool {
 public:
  explicit SolverPool(const ChallengeEnvironment& environment, const Progress& progress = {})
      : environment_(environment), progress_(progress) {}
  // The solver for challenges of `type` ("http-01", "dns-01") under `settings`.
  challenge::Solver& get(const challenge::Settings& settings, const std::string& type);
  // Makes every solver the names of `record` need under `settings` now, so that a setting that
  // cannot work stops the run before the CA is asked for anything.
  void prepare(const store::DomainRecord& record, const challenge::Settings& settings);

 private:
  const ChallengeEnvironment& environment_;
  Progress progress_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<challenge::Solver>> solvers_;
};

// Unless environment.skip_preflight: the checks of `certcli verify` for `record` under its
// effective `settings` (CAA against the session's CA), through the solvers the order will use.
// Throws Error{preflight} with the first failure's fix; asks the CA nothing.
void run_preflight(const store::DomainRecord& record, const challenge::Settings& settings,
                   const ChallengeEnvironment& environment, Session& session, SolverPool& solvers,
                   const Progress& progress);

// `challenge` is the effective setting (the record's, else config.toml's), not saved by this.
// `replaces` is the ARI CertID of the certificate this one replaces (RFC 9773 5), or empty.
// `reuse_key` (or the record's order.reuse_key): a new order is finalized with the live key;
// `chosen_key_pem` (pin-safe renewal's backup key): with that key instead.
// Each authorization gets the solver its name needs from `solvers` (a wildcard dns-01, its
// apex perhaps http-01); every challenge is presented, then waited on until it is visible
// (dns-01 propagation), then answered; all are cleaned up at the end, failures as warnings.
ObtainedCertificate run_order(Session& session, store::Store& store, store::DomainRecord& record,
                              const challenge::Settings& challenge, SolverPool& solvers, const SaveRecord& save,
                              const Progress& progress, const std::string& replaces = {}, bool reuse_key = false,
                              const std::string& chosen_key_pem = {});

// The record of a domain whose certificate `info`, archived as `version`, just went live: names,
// serial and dates from the certificate; status ready; renewal state afresh (buffer days and
// deploy hook kept); no order, error or revocation left over. Does not save.
void mark_live(store::DomainRecord& record, const std::string& version, const crypto::CertificateInfo& info,
               TimePoint now);
// Checks that the certificate matches the key, archives the four files, switches live/, marks
// the record ready with serial, fingerprint and dates, and logs certificate.issued.
// `ca_offers_ari`: the CA's directory has renewalInfo, so the record keeps the certificate's
// ARI CertID for `renew` to ask about (else renew never asks that CA).
crypto::CertificateInfo install(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                const crypto::PrivateKey& key, const std::string& chain_pem, bool ca_offers_ari);
// The same for what run_order obtained: with an operator's CSR, the certificate is checked
// against the CSR's public key and live/ gets no key.pem.
crypto::CertificateInfo install(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                const ObtainedCertificate& obtained, bool ca_offers_ari);

// Runs the operator's deploy hook through /bin/sh -c with CERTCLI_DOMAIN, CERTCLI_NAMES,
// CERTCLI_CERT, CERTCLI_KEY, CERTCLI_CHAIN, CERTCLI_FULLCHAIN and CERTCLI_LIVE_DIR in its
// environment; its output goes to stderr; past `timeout` its process group is stopped. Never
// throws: a failing hook is an outcome to report, and the new certificate stays in place.
HookOutcome run_deploy_hook(const std::string& command, const store::DomainRecord& record, const std::string& live_dir,
                            std::chrono::seconds timeout);

// After a failed run: an interruption leaves the record issuing at its phase (resumed next
// time); anything else marks it failed with the error. An order the CA poisoned is dropped
// with its key. Never throws: the original error is the one the user must see.
void record_failure(store::Store& store, const Clock& clock, store::DomainRecord& record, const Error& error,
                    const std::string& verb) noexcept;

}  // namespace certcli::lifecycle::steps
