// certcli/pin.hpp — certificate pinning: the pin table (pins.toml), what a live host serves
// measured against it, and which key a renewal may use so that pinned clients keep working.
// Owns the shape of pins.toml and the pin rules; the store keeps the file (atomically, 0600),
// crypto/ computes pins, net/ fetches served chains. Returns structs; never prints.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/spki.hpp>
#include <certcli/store.hpp>
#include <certcli/tls_probe.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::pin {

enum class PinStatus { valid, expired, unknown };
std::string to_string(PinStatus status);

// One row of pins.toml.
struct PinEntry {
  std::string label;        // unique; what `pin remove` names
  std::string host;         // the host it pins (no port); empty: applies through its CN only
  std::string cn;           // the certificate's subject CN, when known
  std::string pin;          // base64(SHA-256(DER SPKI))
  std::string fingerprint;  // SHA-256 of the certificate, "AB:CD:..."; empty when no certificate was seen
  std::optional<TimePoint> expires;  // the certificate's notAfter (or --expires)
  std::string source;       // "host:example.com:443 #0", "cert:FILE", "key:FILE", "manual", "import:FILE", "backup-key:NAME"
  std::optional<TimePoint> added_at;
};

// unknown without a certificate (nor an expiry given); expired past its expiry; else valid. Pure.
PinStatus status_of(const PinEntry& entry, TimePoint now);
// Whether `text` is a pin: padded base64 of exactly 32 bytes. Pure.
bool is_pin(std::string_view text);
// Whether the entry is about `host` (a name or an IP address, without port): the same host, or
// a CN that is the host or a wildcard covering it. Pure.
bool applies_to(const PinEntry& entry, std::string_view host);
// `base` if no entry has it as label, else base-2, base-3... Pure.
std::string unique_label(const std::vector<PinEntry>& entries, const std::string& base);

// pins.toml as text and back; `source` names the file in errors (Error{state} with the line).
std::vector<PinEntry> parse_pins(const std::string& text, const std::string& source);
// `now` decides the status each row shows (recomputed whenever the table is read).
std::string serialize_pins(const std::vector<PinEntry>& entries, TimePoint now);

// The pins of `pin import`: one per line, or HPKP-style `pin-sha256="..."` (any number per line,
// `;`-separated, RFC 7469 section 2.1); blank lines and # comments skipped. Throws
// Error{invalid_input} with the line of the first value that is not a pin.
std::vector<std::string> parse_pin_list(const std::string& text, const std::string& source);

// --- the table, through the store (pins.toml under the state lock; every change logged) ---

std::vector<PinEntry> load_pins(const store::Store& store);

struct AddOutcome {
  PinEntry entry;
  bool added = false;  // false: the same pin was already in the table for the same host
  std::string existing_label;
};
// Adds each entry (label made unique, added_at set); one with a pin and host already present
// is left as it is. Logs pin.added per new entry.
std::vector<AddOutcome> add_pins(store::Store& store, const Clock& clock, std::vector<PinEntry> entries);
// Removes the entries whose label or pin is `selector`. Throws Error{not_found} when none is.
// Logs pin.removed per entry.
std::vector<PinEntry> remove_pins(store::Store& store, const Clock& clock, const std::string& selector);

// `pin import`: the pins of `text` (parse_pin_list) added as entries without a certificate
// (status unknown until `pin refresh` finds one), labelled `label_base`-N, for `host` when given.
std::vector<AddOutcome> import_pins(store::Store& store, const Clock& clock, const std::string& text,
                                    const std::string& source, const std::string& host, const std::string& label_base);

// --- what hosts serve ---

struct HostChain {
  net::TlsTarget target;
  net::ServedChain served;
  std::vector<crypto::ChainCertificate> certificates;  // leaf first, as served
  crypto::TrustVerdict trust;                          // against the system store or ca_bundle
};
// Fetches and describes the served chain; judges it against `ca_bundle` (empty: the system
// store) and `extra_roots` (certcli's own bundle, when it exists).
HostChain inspect_host(const net::TlsTarget& target, std::chrono::seconds timeout, const std::string& ca_bundle,
                       const std::string& extra_roots);
// An entry for certificate `index` of the chain (0, the leaf, is the one to pin).
PinEntry entry_for(const HostChain& chain, std::size_t index);

struct CheckMatch {
  std::size_t index;   // in the served chain
  std::string label;   // of the matching entry
  std::string pin;
};
struct CheckResult {
  HostChain chain;
  std::vector<PinEntry> host_pins;  // the entries that apply to the host
  std::vector<CheckMatch> matches;  // served certificates that match one of them
  bool passed() const { return !matches.empty(); }
};
// Which served certificates match a pin of the host's. Pure.
std::vector<CheckMatch> match_chain(const std::vector<crypto::ChainCertificate>& chain, const std::vector<PinEntry>& host_pins);
CheckResult check_host(const store::Store& store, const net::TlsTarget& target, std::chrono::seconds timeout,
                       const std::string& ca_bundle, const std::string& extra_roots);

// `pin refresh`: each entry without a certificate, or whose certificate has expired, looked up
// again: on its host (when it has one) and among the managed domains' live certificates; an
// entry whose pin a certificate carries takes its CN, fingerprint and expiry. Logs pin.changed.
struct RefreshOutcome {
  std::string label;
  std::string found_in;  // "host:...", "domain:NAME"; empty when nothing was found
  PinStatus before = PinStatus::unknown;
  PinStatus after = PinStatus::unknown;
  std::string problem;  // a host that could not be reached
};
std::vector<RefreshOutcome> refresh_pins(store::Store& store, const Clock& clock, std::chrono::seconds timeout,
                                         const std::string& ca_bundle);

// --- trust store ---

// The certcli-managed bundle of roots `pin trust --add` keeps: <state>/trusted-roots.pem.
std::string managed_bundle(const store::Store& store);
struct TrustResult {
  std::vector<crypto::ChainCertificate> certificates;
  crypto::TrustVerdict verdict;
  bool added = false;           // --add put the root into the managed bundle
  bool already_present = false; // it was there already
};
// Whether the certificates of `bytes` chain to the system store (or `ca_bundle`, or the managed
// bundle). With `add`, the root (a self-signed certificate of the file, or the anchor the path
// ended at) goes into the managed bundle; logs pin.trust_added. Throws Error{invalid_input}
// when `add` finds no root.
TrustResult check_trust(store::Store& store, const Clock& clock, const std::string& bytes, const std::string& source,
                        const std::string& ca_bundle, bool add);

// --- pin-safe renewal ---

enum class KeyChoice { as_configured, live, backup };
std::string to_string(KeyChoice choice);

struct KeyDecisionInput {
  std::vector<std::string> table_pins;    // every pin of the table
  std::vector<std::string> domain_pins;   // the pins of entries that apply to the domain's names
  std::optional<std::string> live_key_pin;
  std::vector<std::string> live_issuer_pins;  // pins of the live chain's issuers
  std::optional<std::string> backup_key_pin;
  std::optional<std::string> csr_key_pin;  // the domain orders with an operator's CSR
  bool force = false;
};
struct KeyDecision {
  KeyChoice choice = KeyChoice::as_configured;
  bool pinned = false;   // the domain has pins to keep
  bool refused = false;  // the next key would match no pin
  std::string reason;    // why, in a sentence
};
// Which key the next certificate of a domain gets so that it still matches a pin:
//  - not pinned (no pin matches its live key, its backup key, nor names the domain): as configured;
//  - a backup key whose pin is in the table: the backup (the planned rotation);
//  - a live key whose pin is in the table: the live key, kept;
//  - pinned through an issuer of its chain only: as configured (a new leaf key keeps matching);
//  - otherwise (a fresh key, or an operator CSR whose key is in no pin): refused unless `force`.
// Pure.
KeyDecision decide_key(const KeyDecisionInput& input);

struct KeyPlan {
  KeyDecision decision;
  std::string backup_key_pem;  // with choice backup: the key, in clear
  std::string key_pin;         // the pin the new certificate will carry, when known
};
// The decision for `record` from the store: the pin table, its live certificate and key, its
// backup key. Throws Error{usage} (naming the pins and the way out) when refused.
KeyPlan plan_key(const store::Store& store, const store::DomainRecord& record, bool force);
// After the new certificate of `record` is installed: a used backup key is consumed (it is the
// live key now) and the entries with the new key's pin take the certificate's CN, fingerprint
// and expiry; logs pin.changed. Never throws: the certificate is in place either way; a problem
// comes back as a warning.
std::string after_install(store::Store& store, const Clock& clock, const store::DomainRecord& record, const KeyPlan& plan);

// `pin backup-key NAME`: a key of the domain's key type, kept as domains/<name>/backup-key.pem
// (0600, encrypted when a passphrase is configured) for the next renewal, its pin added to the
// table (label "<name>-backup") so that it can be published before use. Refuses to replace an
// existing one unless `replace`. Logs pin.backup_key_created and pin.added.
struct BackupKeyResult {
  std::string domain;
  std::string pin;
  std::string key_type;
  std::string label;
  bool replaced = false;
};
BackupKeyResult make_backup_key(store::Store& store, const Clock& clock, const std::string& name, bool replace);

}  // namespace certcli::pin
