// certcli/limits.hpp — the rate-limit budget: certcli's own count of the orders and certificates
// it asked each CA for, and whether the next issuance fits that CA's published limits. Owns the
// ledger's shape and the window arithmetic, as pure functions of (entries, limits, now); the
// ledger's bytes belong to the store (Store::load_ledger / save_ledger). Never prints.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/error.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace certcli::limits {

// What one limit counts.
enum class Scope {
  registered_domain,  // certificates holding a name under one registered domain (PSL)
  exact_names,        // certificates for exactly the same set of names ("duplicates")
  account,            // new orders placed by one account
};
std::string to_string(Scope scope);  // "registered_domain", "exact_names", "account"

struct Limit {
  Scope scope = Scope::registered_domain;
  int count = 0;  // at most this many within any `window`
  std::chrono::seconds window{0};
};

struct CaLimits {
  std::string source;          // where the numbers come from; empty when none are known
  std::vector<Limit> limits;   // empty: counted, nothing enforced
};
// The published limits of a CA preset (by its name, lifecycle::CaSelection::name): Let's Encrypt
// production, 50 certificates per registered domain and 5 per exact set of names per 7 days and
// 300 new orders per account per 3 hours; its staging environment, 30,000, 30,000 and 1,500 as
// Let's Encrypt publishes them. Any other CA: none.
CaLimits published_limits(const std::string& ca_name);

enum class Event { order, certificate };

// One line of the ledger.
struct Entry {
  TimePoint time;
  Event event = Event::order;
  std::string ca;       // the directory URL
  std::string account;  // the account URL; the directory URL when the account is not known
  std::vector<std::string> names;  // sorted
  bool renewal = false;  // the same names as a certificate issued before (Let's Encrypt's "renewal")
  bool ari = false;      // the order named the certificate it replaces (RFC 9773 5)
};

// What the next issuance would be.
struct Planned {
  std::string ca;
  std::string account;  // empty: a new account, which has placed no orders yet
  std::vector<std::string> names;
  bool renewal = false;
  bool ari = false;
};

// One budget: a limit applied to one subject.
struct Budget {
  Limit limit;
  std::string subject;  // the registered domain, the names joined with ",", or the account
  int used = 0;         // counted in the window that ends now
  int left = 0;         // limit.count - used, never below 0
  // When the oldest counted entry leaves the window (a budget at its limit gains one then).
  std::optional<TimePoint> frees_at;
  // When enough have left the window for one more (refused budgets only).
  std::optional<TimePoint> fits_at;
  bool exempt = false;  // the planned issuance is exempt from this limit (a renewal)
};

enum class Verdict { ok, close, refused };
struct Decision {
  Verdict verdict = Verdict::ok;
  std::vector<Budget> budgets;         // each budget the planned issuance touches
  std::optional<TimePoint> retry_at;   // refused: when every budget has room again
};

// Let's Encrypt's exemptions, simplified: an order naming what it replaces (ARI) is exempt from
// every limit; a renewal (same exact names as a certificate issued before) from the
// registered-domain and new-orders limits, not from the duplicate one. Exempt issuances still
// count. "close" when, after this issuance, a tenth of a budget (at least one) or less is left.
Decision decide(const std::vector<Entry>& entries, const CaLimits& limits, const Planned& next, TimePoint now);

// `certcli limits`: every budget of `ca` (directory URL) that has something counted in its window,
// registered domains first, then exact name sets, then accounts.
std::vector<Budget> budgets(const std::vector<Entry>& entries, const CaLimits& limits, const std::string& ca,
                            TimePoint now);

// The registered domains of `names`, sorted and unique ("a.example.co.uk", "b.example.co.uk" ->
// "example.co.uk"); an IP address counts as itself.
std::vector<std::string> registered_domains(const std::vector<std::string>& names);

// How long entries are kept: the longest window any CA certcli knows uses (7 days).
constexpr std::chrono::seconds kRetention = std::chrono::days{7};
// Entries younger than kRetention (and not in the future by more than a day: a clock moved back).
std::vector<Entry> prune(std::vector<Entry> entries, TimePoint now);

// The ledger as JSON lines (one entry per line, each ending in a newline) and back. parse also
// reads the first format ({"version": 1, "entries": [...]}), and skips a last line cut short
// (an append a crash interrupted); it throws Error{state} naming `file` when the text is not a
// ledger.
std::string serialize_entry(const Entry& entry);
std::string serialize(const std::vector<Entry>& entries);
std::vector<Entry> parse(const std::string& text, const std::string& file);

// A refusal: the next issuance would pass a CA limit. Kind retry_later (exit 10), with the time
// the budget has room again.
class LimitReached : public Error {
 public:
  LimitReached(std::string message, std::string hint, std::string subject, TimePoint retry_at)
      : Error(ErrorKind::retry_later, std::move(message), std::move(hint), std::move(subject)), retry_at_(retry_at) {}
  TimePoint retry_at() const { return retry_at_; }

 private:
  TimePoint retry_at_;
};

}  // namespace certcli::limits

namespace certcli::store {
class Store;
struct DomainRecord;
}  // namespace certcli::store

namespace certcli::lifecycle {
struct CaSelection;
}  // namespace certcli::lifecycle

namespace certcli::limits {

// What the operator said about limits for this run.
struct Settings {
  bool ignore = false;              // --ignore-limits: warn, never refuse
  std::optional<CaLimits> custom;   // replaces the CA's published limits (tests; CERTCLI_TEST_LIMITS)
};
CaLimits limits_for(const lifecycle::CaSelection& ca, const Settings& settings);

// "certificates_per_domain=2,duplicates=1,orders=3[,window=SECONDS]" -> limits over one window
// (7 days unless given; orders always over 3 hours unless window is given). Throws Error{usage}.
CaLimits parse_custom_limits(const std::string& text);

// The planned issuance of `record` at `ca`: its names, the stored account (`account_id` as the
// store keys accounts), whether it renews.
Planned plan_for(const store::Store& store, const lifecycle::CaSelection& ca, const std::string& account_id,
                 const store::DomainRecord& record, bool ari);

// Before an order: the decision for `record` at `ca` from the ledger. Returns a warning for the
// user when a budget is close (or passed while `settings.ignore`), else empty; throws
// LimitReached when a budget would be passed. Reads only; asks the CA nothing.
std::string check_budget(const store::Store& store, TimePoint now, const lifecycle::CaSelection& ca,
                         const std::string& account_id, const store::DomainRecord& record, bool ari,
                         const Settings& settings);

// The ledger as one run sees it (`renew`, `renew --parallel`): read from the store once, at the
// first check, instead of once per domain; and each check that lets an order go ahead holds that
// order's place (its order and its certificate) at once, under one mutex, so renewals running
// side by side cannot all take a budget's last place. The events themselves are still written
// by record_event (under the state lock, which also serves other certcli processes).
class RunLedger {
 public:
  explicit RunLedger(const store::Store& store) : store_(store) {}
  // check_budget, against the ledger as read plus every place held in this run; when the order
  // may go ahead (a warning or none), its place is held for `record.name`.
  std::string check_and_hold(TimePoint now, const lifecycle::CaSelection& ca, const std::string& account_id,
                             const store::DomainRecord& record, bool ari, const Settings& settings);
  // The renewal of `domain` failed: no certificate came of it, so that place is freed. Its order
  // stays held (the CA may have counted one).
  void release_certificate(const std::string& domain);

 private:
  const store::Store& store_;
  std::mutex mutex_;
  std::optional<std::vector<Entry>> read_;         // the ledger, once read
  std::map<std::string, std::vector<Entry>> held_;  // by domain
};

// Appends one entry to the ledger under the state lock; the first entry a process records in a
// ledger rewrites it, pruning what is past every window.
// Never throws: the CA has already counted it, so a failure here is only reported (the returned
// text; empty when all went well).
std::string record_event(store::Store& store, TimePoint now, Event event, const std::string& ca,
                         const std::string& account, const store::DomainRecord& record, bool ari) noexcept;

// `certcli limits`: for each CA in the ledger (or `ca` alone), its limits and budgets.
struct CaReport {
  std::string name;           // the preset, or "custom"
  std::string directory_url;
  CaLimits limits;
  std::vector<Budget> budgets;
};
std::vector<CaReport> report(const store::Store& store, TimePoint now, const lifecycle::CaSelection* ca,
                             const Settings& settings);

}  // namespace certcli::limits
