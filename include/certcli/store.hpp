// certcli/store.hpp — the state directory: TOML records, PEM files, the lock, the activity log.
// Owns every byte certcli writes to disk (atomically: temp file, fsync, rename, fsync dir;
// directories 0700, keys 0600). Knows nothing of ACME: it stores records and PEM text.
// The Store interface lets a shared store (a fleet) replace the file system later.
#pragma once

#include <certcli/challenge.hpp>
#include <certcli/clock.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certcli::store {

namespace fs = std::filesystem;

// The file primitives (atomic writes, reads, private directories) live in certcli/files.hpp.
using files::ensure_private_directory;
using files::read_file;
using files::write_file_atomic;

enum class CertificateStatus { pending, issuing, ready, failed };
enum class IssuePhase { none, starting, dns_check, ordering, validating, finalizing, completed };
std::string to_string(CertificateStatus status);
std::string to_string(IssuePhase phase);

// verify's finding for one name (domain.toml [[verification.names]]).
struct NameCheck {
  std::string name;
  std::string challenge_type;  // "http-01" or "dns-01"
  // dns-01: "valid", "missing", "wrong" or "duplicate" (RFC-free words the status table shows);
  // http-01: "valid" or the preflight cause ("not-found", "refused", ...).
  std::string dns_status;
  bool ok = false;
  std::string detail;  // what was found and, when not ok, the fix
};

// What `verify` found last, and the ownership token (domain.toml [verification]).
struct VerificationState {
  bool verified = false;  // every check held at the last verify
  std::optional<TimePoint> checked_at;
  std::vector<NameCheck> names;
  bool require_ownership = false;  // this domain asks for the _certcli-verify TXT record
  std::string ownership_token;
  std::optional<TimePoint> ownership_token_expires_at;
  std::optional<TimePoint> ownership_verified_at;
};

struct RecordedError {
  std::string type;    // ACME problem type or certcli error kind
  std::string detail;  // what went wrong
  std::string hint;    // what fixes it
};

// What renewal remembers between runs (domain.toml [renewal]).
struct RenewalState {
  std::optional<int> buffer_days;  // this domain's own; else config.toml's; else the lifetime rule
  std::string deploy_hook;         // this domain's own; run through /bin/sh -c after a change
  int failures = 0;                // consecutive failed renewals; 0 after a success
  std::optional<TimePoint> next_attempt_at;  // backoff: `renew` skips the domain until then
  // RFC 9773: the live certificate's CertID, the CA's suggested window, the point chosen once
  // inside it, and when renewalInfo may be fetched again.
  std::string ari_cert_id;
  std::optional<TimePoint> ari_window_start;
  std::optional<TimePoint> ari_window_end;
  std::optional<TimePoint> ari_renew_at;
  std::optional<TimePoint> ari_fetch_after;
  std::vector<int> alerts_sent;    // expiry thresholds (days) already posted for the live certificate
};

// How this domain's certificates are ordered, remembered between runs (domain.toml [order]).
struct OrderOptions {
  std::string profile;            // sent as the order's profile; refused when the CA lacks it
  std::string preferred_profile;  // sent when the CA offers it, else the CA's default
  std::string preferred_chain;    // issuer CN of the chain to keep among the CA's alternates
  bool reuse_key = false;         // the next certificate keeps the live key
  // An operator's own CSR (base64 of its DER): finalize sends it as it is, and the private key is
  // not certcli's (live/ has no key.pem). Empty: certcli makes the key and the CSR.
  std::string csr;
};

struct DomainRecord {
  std::string name;                // primary name, normalized
  std::vector<std::string> names;  // every SAN, primary first
  std::string management = "managed";
  std::string key_type = "ec256";
  // keys.live_key for this domain: "plain" (its current live key in clear for a web server),
  // "encrypted", or "" for config.toml's. Matters only when a passphrase is configured.
  std::string live_key;
  challenge::Settings challenge;

  CertificateStatus status = CertificateStatus::pending;
  IssuePhase phase = IssuePhase::none;
  std::optional<RecordedError> error;

  std::string directory_url;  // the CA the last issuance used
  // The named account (--account) the last issuance used at that CA; empty: the CA's default
  // account. renew and a later issue use it again unless told otherwise.
  std::string account_name;
  std::string order_url;      // the in-flight order, kept so a crashed run resumes it
  std::string live_version;   // archive/<version> the live certificate is
  // The names the live certificate holds (its SANs), kept at install so that renewal can tell
  // names added since then without parsing the certificate. Empty in records from before it.
  std::vector<std::string> covered_names;
  std::string serial;
  std::string fingerprint;

  std::optional<TimePoint> created_at;
  std::optional<TimePoint> not_before;  // of the live certificate: its lifetime without parsing it
  std::optional<TimePoint> issued_at;
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> last_updated_at;
  // `certcli revoke` revoked the live certificate: when, and the reason given ("" for none).
  // Renewal treats it as due now; installing a new certificate clears both.
  std::optional<TimePoint> revoked_at;
  std::string revocation_reason;

  RenewalState renewal;
  VerificationState verification;
  OrderOptions order;
};

struct AccountRecord {
  std::string url;
  std::string directory_url;
  std::vector<std::string> contacts;
  std::string key_type;
  std::optional<TimePoint> created_at;
  std::string status = "valid";              // "deactivated": refused for any later use
  std::optional<TimePoint> deactivated_at{};
  std::optional<TimePoint> key_changed_at{};   // the last key rollover
  std::string eab_kid{};                       // External Account Binding key id; never the key
};

// What certcli learned of a CA's speed from its own runs (acme::CaTiming), kept beside the
// CA's accounts in accounts/<ca-id>/timing.toml: an estimate, so a lost or stale one only
// costs a poll or a few hundred milliseconds.
struct CaTimingRecord {
  int validation_ms = 0;
  int validation_samples = 0;
  int issuance_ms = 0;
  int issuance_samples = 0;
  bool operator==(const CaTimingRecord&) const = default;
};

// The four files of one issued certificate.
struct CertificateFiles {
  std::string certificate;  // leaf
  std::string chain;        // issuers
  std::string fullchain;    // leaf + issuers
  std::string private_key;
};

// One entry of a domain's archive/ (the PEM text; the store does not parse certificates).
struct ArchivedCertificate {
  std::string version;      // archive/<version>
  std::string certificate;  // the leaf, PEM
  bool live = false;        // live/ points at it
};

// A domain's files as `remove` left them under removed/<name>.<stamp>/.
struct RemovedDomain {
  std::string location;                 // the directory
  std::string stamp;                    // when it was removed (compact UTC, maybe "-2")
  std::optional<DomainRecord> record;   // absent when the copy holds no readable domain.toml
  std::optional<std::string> live_certificate;  // its live leaf certificate, PEM
};

// How the store keeps private keys (README "Encrypted keys").
struct KeyProtection {
  std::string passphrase;       // empty: keys are written in clear
  bool plain_live_key = false;  // keys.live_key = "plain": the current live key stays in clear
};

// A domain whose domain.toml cannot be read (damaged, hand-edited into something certcli
// refuses, or not readable by this user): what list_domains_and_damage() reports beside the
// records it could read.
struct UnreadableDomain {
  std::string name;  // the directory's name under domains/
  std::string file;  // the domain.toml
  Error error;       // Error{state} naming the file and, when known, the line
};

struct DomainListing {
  std::vector<DomainRecord> records;         // every readable record, sorted by name
  std::vector<UnreadableDomain> unreadable;  // sorted by name
};

// Held while a command changes state; a second certcli waits for it or gives up with the
// holder named. Released on destruction (and by the kernel if the process dies).
class Lock {
 public:
  virtual ~Lock() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Waits up to `timeout` for the state lock, which guards what is shared: accounts, config,
  // adding and removing domains. Throws Error{state} naming the holder; a stop request
  // (Ctrl-C) ends the wait with Error{interrupted}.
  virtual std::unique_ptr<Lock> lock(std::chrono::seconds timeout) = 0;
  // Whether another process holds the lock right now. Read-only: creates nothing.
  virtual bool is_locked() const = 0;
  // One domain's lock: held while its certificate is issued or renewed (or its record otherwise
  // changed), so runs for other domains never wait. When both are needed, the domain's is
  // taken first. Same errors as lock().
  virtual std::unique_ptr<Lock> lock_domain(const std::string& name, std::chrono::seconds timeout) = 0;
  virtual bool is_domain_locked(const std::string& name) const = 0;

  virtual std::optional<DomainRecord> load_domain(const std::string& name) const = 0;
  // Refuses (Error{state}) to replace a domain.toml that exists but cannot be read: a damaged
  // or hand-edited file stays as it is until the user fixes it.
  virtual void save_domain(const DomainRecord& record) = 0;
  // Every record; throws on the first domain.toml that cannot be read.
  virtual std::vector<DomainRecord> list_domains() const = 0;
  // Every record that can be read, and each one that cannot beside them, so that one damaged
  // file never hides the other domains. Throws only when domains/ itself cannot be read.
  virtual DomainListing list_domains_and_damage() const { return {list_domains(), {}}; }
  // Moves the domain's record, keys and certificates aside (removed/<name>.<stamp>/), never
  // deleting them; returns where they went.
  virtual std::string remove_domain(const std::string& name, const std::string& stamp) = 0;
  // The newest copy `remove_domain` left of `name`, if any.
  virtual std::optional<RemovedDomain> newest_removed(const std::string& name) const = 0;
  // Moves the newest removed copy back, its record last, so that an interrupted restore can be
  // run again. Throws Error{not_found} when nothing was removed and Error{invalid_input} when
  // the name has a record again. Returns where the files came from. Hold the domain's lock.
  virtual std::string restore_domain(const std::string& name) = 0;
  // Deletes for good the domain's files and every removed copy of it; returns what was deleted
  // (empty when there was nothing). The domain is first moved aside, so that a crash midway
  // never leaves a half-deleted domain in place.
  virtual std::vector<std::string> purge_domain(const std::string& name, const std::string& stamp) = 0;
  // The versions under archive/, oldest first.
  virtual std::vector<ArchivedCertificate> list_archive(const std::string& name) const = 0;

  // `ca_id` names the CA's default account (accounts/<ca-id>/), or "<ca-id>/<name>" a named one
  // (accounts/<ca-id>/<name>/; `name` checked by the caller: lowercase letters, digits, - and _).
  virtual std::optional<AccountRecord> load_account(const std::string& ca_id) const = 0;
  virtual std::optional<std::string> load_account_key(const std::string& ca_id) const = 0;
  // Key first, record second: a record never points at a key that is not on disk.
  virtual void save_account(const std::string& ca_id, const AccountRecord& record,
                            const std::string& key_pem) = 0;
  // Keeps an account key a rollover replaced: <account dir>/old-keys/<stamp>/account.key,
  // encrypted as account keys are, never overwritten ("-2"... appended). Returns the path.
  virtual std::string archive_account_key(const std::string& ca_id, const std::string& stamp,
                                          const std::string& key_pem) {
    (void)ca_id, (void)stamp, (void)key_pem;
    throw Error(ErrorKind::internal, "this store cannot archive account keys");
  }

  // The CA's learned timing (`ca_id` as for accounts, the CA's own id); nullopt when none was
  // stored. Throws Error{state} for a file that cannot be read. A store without it learns
  // nothing across runs.
  virtual std::optional<CaTimingRecord> load_ca_timing(const std::string& ca_id) const {
    (void)ca_id;
    return std::nullopt;
  }
  // Written atomically, 0600; hold the state lock.
  virtual void save_ca_timing(const std::string& ca_id, const CaTimingRecord& timing) { (void)ca_id, (void)timing; }

  // The key of an in-flight order, kept until its certificate is installed.
  virtual void save_pending_key(const std::string& name, const std::string& key_pem) = 0;
  virtual std::optional<std::string> load_pending_key(const std::string& name) const = 0;
  virtual void remove_pending_key(const std::string& name) = 0;

  // Writes archive/<version>/ and switches live/ to it in one atomic step. An archive entry is
  // never overwritten: when `version` is taken, "-2", "-3"... is appended. Returns the version.
  virtual std::string install_certificate(const std::string& name, const std::string& version,
                                          const CertificateFiles& files) = 0;
  // The key comes in clear, but as stored (maybe encrypted) when the store has no passphrase,
  // so that reading the certificate never needs one.
  virtual std::optional<CertificateFiles> load_live_certificate(const std::string& name) const = 0;
  // The live certificate's public files (cert, chain, fullchain), `private_key` left empty: what
  // the pin table needs, without decrypting the key.
  virtual std::optional<CertificateFiles> load_live_public(const std::string& name) const {
    auto live = load_live_certificate(name);
    if (live) live->private_key.clear();
    return live;
  }
  // The live leaf certificate alone (cert.pem): what status, covers and the like need, without
  // reading the chain or decrypting the key (scrypt, tens of milliseconds a key with a passphrase).
  virtual std::optional<std::string> load_live_leaf(const std::string& name) const {
    auto live = load_live_certificate(name);
    return live ? std::optional(std::move(live->certificate)) : std::nullopt;
  }
  // archive/<version>'s four files, the key in clear (it needs the passphrase when it is
  // encrypted); nothing when there is no such version. `version` is checked before it reaches a path.
  virtual std::optional<CertificateFiles> load_archived_certificate(const std::string& name,
                                                                    const std::string& version) const {
    (void)name, (void)version;
    throw Error(ErrorKind::internal, "this store cannot read archived certificates");
  }

  // Appends one JSON object to the activity log, stamped with the acting uid and command.
  // Never pass secrets.
  virtual void append_activity(const nlohmann::json& event) = 0;
  // The certcli subcommand ("issue", "domain add") every activity event is stamped with; set
  // once by the CLI.
  void set_activity_command(std::string command) { activity_command_ = std::move(command); }

  // Every private key the store writes (account, pending, archive, live) is encrypted when it
  // was opened with a passphrase, and every key it reads is handed out in clear: callers only
  // ever see plain PEM. A key that cannot be opened throws Error{state} naming the file.

  // Reads only: throws Error{state} naming the file when a key on disk is encrypted and the
  // store has no passphrase, or the passphrase does not open it. Run before a command that
  // reads keys changes anything.
  virtual void check_key_passphrase() const {}
  // Rewrites every key under the state directory encrypted with the store's passphrase (but the
  // current live key under live_key = "plain"), or in clear; each file atomically. Every key is
  // opened first, so a wrong or missing passphrase changes nothing. Returns the files rewritten.
  // Hold the state lock.
  virtual std::vector<std::string> convert_keys(bool encrypt) {
    (void)encrypt;
    throw Error(ErrorKind::internal, "this store cannot convert its keys");
  }

  // Brings the live key of `name` in line with its live_key setting (the record's, else the
  // store's): in clear under "plain", encrypted otherwise. Nothing without a passphrase. Hold the
  // domain's lock.
  virtual void apply_live_key_setting(const std::string& name) { (void)name; }

  // Where the live files of `name` are, for the user to point a web server at.
  virtual std::string live_location(const std::string& name) const = 0;

  // The rate-limit ledger (rate-limits.jsonl; certcli/limits.hpp owns its shape): nothing when
  // there is none yet (an earlier certcli's rate-limits.json is read until the first rewrite
  // replaces it). save_ledger writes it atomically; hold the state lock. A store that keeps no
  // ledger (a dry run's) counts nothing.
  virtual std::optional<std::string> load_ledger() const { return std::nullopt; }
  virtual void save_ledger(const std::string& text) { (void)text; }
  // Adds `line` (one entry, ending in a newline) at the end, flushed to disk; hold the state lock.
  virtual void append_ledger(const std::string& line) { save_ledger(load_ledger().value_or("") + line); }
  virtual std::string ledger_location() const { return "rate-limits.jsonl"; }

  // Certificate pinning (certcli/pin.hpp owns the shapes): the pin table (pins.toml), the roots
  // `pin trust --add` keeps (trusted-roots.pem), each nothing when there is none yet; written
  // atomically, 0600, under the state lock. A domain's backup key (domains/<name>/backup-key.pem),
  // written and read like every key (encrypted when the store has a passphrase, handed out in
  // clear), under the domain's lock. A store that keeps none of these (a dry run's) has none.
  virtual std::optional<std::string> load_pin_table() const { return std::nullopt; }
  virtual void save_pin_table(const std::string& text) {
    (void)text;
    throw Error(ErrorKind::internal, "this store cannot keep pins");
  }
  virtual std::string pin_table_location() const { return "pins.toml"; }
  virtual std::optional<std::string> load_trusted_roots() const { return std::nullopt; }
  virtual void save_trusted_roots(const std::string& pem) {
    (void)pem;
    throw Error(ErrorKind::internal, "this store cannot keep trusted roots");
  }
  virtual std::string trusted_roots_location() const { return "trusted-roots.pem"; }
  virtual std::optional<std::string> load_backup_key(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
  virtual void save_backup_key(const std::string& name, const std::string& key_pem) {
    (void)name, (void)key_pem;
    throw Error(ErrorKind::internal, "this store cannot keep backup keys");
  }
  virtual void remove_backup_key(const std::string& name) { (void)name; }

 protected:
  const std::string& activity_command() const { return activity_command_; }

 private:
  std::string activity_command_;
};

// $CERTCLI_HOME, else /var/lib/certcli for root, else ${XDG_STATE_HOME:-~/.local/state}/certcli.
fs::path default_home();

// Pure: whether a directory holding these entries (names only) may be taken as a state
// directory: empty, or holding certcli's own layout (domains/ or accounts/, or nothing but the
// names certcli writes at the top). A stray --home (a project, /etc) is refused, never adopted.
bool looks_like_state_directory(const std::vector<std::string>& entries);

// Makes `home` a state directory certcli may write (creating it 0700, or adopting an existing
// one only under the rules of looks_like_state_directory), after checking it is owned by the
// effective user and writable by nobody else. Throws Error{state} naming the fix otherwise.
// The store calls it before its first write; config.toml's writer calls it too.
void prepare_home(const fs::path& home);

// The embedded store: everything under one directory (layout in docs/state.md).
// Lock waits are measured and slept on `clock` (the system clock when none is given).
// Keys are written and read as `keys` says.
std::unique_ptr<Store> open_file_store(const fs::path& home, Clock* clock = nullptr, KeyProtection keys = {});

}  // namespace certcli::store
