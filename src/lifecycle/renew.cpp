// `renew`: what a timer runs. Decides from the records alone which domains are due (no request,
// no certificate parse for the rest), renews those through the shared steps with one session
// per CA, backs failures off, runs deploy hooks, and posts the expiry alerts owed.
#include "lifecycle/alerts.hpp"
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/limits.hpp>
#include <certcli/names.hpp>
#include <certcli/pin.hpp>
#include <certcli/renewal.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <set>

namespace certcli::lifecycle {
namespace {

// A dry run goes through the whole flow but keeps nothing: domain records, pending keys and
// certificates live in memory, while accounts (a staging account is worth keeping), the lock
// and nothing else reach the real store.
class DryRunStore final : public store::Store {
 public:
  explicit DryRunStore(store::Store& real) : real_(real) {}
  std::unique_ptr<store::Lock> lock(std::chrono::seconds timeout) override { return real_.lock(timeout); }
  bool is_locked() const override { return real_.is_locked(); }
  // What a dry run learns of the CA's speed is as true as any run's.
  std::optional<store::CaTimingRecord> load_ca_timing(const std::string& ca_id) const override {
    return real_.load_ca_timing(ca_id);
  }
  void save_ca_timing(const std::string& ca_id, const store::CaTimingRecord& timing) override {
    real_.save_ca_timing(ca_id, timing);
  }
  // Nothing of the domain changes: a dry run does not keep a real renewal of it waiting.
  std::unique_ptr<store::Lock> lock_domain(const std::string&, std::chrono::seconds) override {
    return std::make_unique<store::Lock>();
  }
  bool is_domain_locked(const std::string& name) const override { return real_.is_domain_locked(name); }
  std::optional<store::DomainRecord> load_domain(const std::string& name) const override {
    auto it = records_.find(name);
    return it != records_.end() ? std::optional(it->second) : real_.load_domain(name);
  }
  void save_domain(const store::DomainRecord& record) override { records_[record.name] = record; }
  std::vector<store::DomainRecord> list_domains() const override { return real_.list_domains(); }
  store::DomainListing list_domains_and_damage() const override { return real_.list_domains_and_damage(); }
  std::string remove_domain(const std::string&, const std::string&) override {
    throw Error(ErrorKind::internal, "a dry run removed a domain");
  }
  std::optional<store::RemovedDomain> newest_removed(const std::string& name) const override {
    return real_.newest_removed(name);
  }
  std::string restore_domain(const std::string&) override { throw Error(ErrorKind::internal, "a dry run restored a domain"); }
  std::vector<std::string> purge_domain(const std::string&, const std::string&) override {
    throw Error(ErrorKind::internal, "a dry run purged a domain");
  }
  std::vector<store::ArchivedCertificate> list_archive(const std::string& name) const override {
    return real_.list_archive(name);
  }
  std::optional<store::AccountRecord> load_account(const std::string& ca_id) const override { return real_.load_account(ca_id); }
  std::optional<std::string> load_account_key(const std::string& ca_id) const override { return real_.load_account_key(ca_id); }
  void save_account(const std::string& ca_id, const store::AccountRecord& record, const std::string& key_pem) override {
    real_.save_account(ca_id, record, key_pem);
  }
  void save_pending_key(const std::string& name, const std::string& key_pem) override { pending_keys_[name] = key_pem; }
  std::optional<std::string> load_pending_key(const std::string& name) const override {
    auto it = pending_keys_.find(name);
    return it != pending_keys_.end() ? std::optional(it->second) : std::nullopt;
  }
  void remove_pending_key(const std::string& name) override { pending_keys_.erase(name); }
  std::string install_certificate(const std::string&, const std::string& version, const store::CertificateFiles&) override {
    return version + "-dry-run";
  }
  std::optional<store::CertificateFiles> load_live_certificate(const std::string& name) const override {
    return real_.load_live_certificate(name);
  }
  std::optional<std::string> load_live_leaf(const std::string& name) const override { return real_.load_live_leaf(name); }
  std::optional<store::CertificateFiles> load_live_public(const std::string& name) const override {
    return real_.load_live_public(name);
  }
  void append_activity(const nlohmann::json&) override {}
  std::string live_location(const std::string& name) const override { return real_.live_location(name); }

 private:
  store::Store& real_;
  std::map<std::string, store::DomainRecord> records_;
  std::map<std::string, std::string> pending_keys_;
};

// A dry run tries the staging twin of a preset, or the same directory for any other CA (a
// private CA has no public staging twin to move to).
CaSelection dry_run_ca(const RenewRequest& request, const store::DomainRecord& record) {
  if (request.ca) return *request.ca;
  for (const auto& preset : ca_presets())
    if (preset.directory_url == record.directory_url) return select_ca(preset.name, "", !preset.staging.empty());
  return select_ca("", record.directory_url.empty() ? ca_presets().front().directory_url : record.directory_url, false);
}

// The CA the certificate came from. A domain never issued has none yet: it goes where the
// command says (--ca, --directory), else to the default CA.
CaSelection renewal_ca(const store::DomainRecord& record, const std::optional<CaSelection>& asked = std::nullopt) {
  if (record.directory_url.empty() && asked) return *asked;
  return select_ca("", record.directory_url.empty() ? ca_presets().front().directory_url : record.directory_url, false);
}

// A timer's run does not queue behind another run's work on the same domain for long.
constexpr std::chrono::seconds kLockWait{10};

class Renewal {
 public:
  Renewal(store::Store& store, Clock& clock, net::HttpTransport& ca_http, net::HttpTransport& webhook_http,
          const RenewRequest& request, const Progress& progress)
      : real_store_(store), dry_store_(store), store_(request.dry_run ? static_cast<store::Store&>(dry_store_) : store),
        clock_(clock), ca_http_(ca_http), webhook_http_(webhook_http), request_(request), progress_(progress),
        solvers_(request.settings.environment, progress) {}

  RenewReport run() {
    RenewReport report;
    std::vector<store::DomainRecord> records = selected_domains();
    if (!request_.dry_run) {
      if (std::any_of(records.begin(), records.end(), [&](const auto& r) { return asks_for_renewal_window(r); }))
        check_keys_once();  // before the first write
      refresh_renewal_windows(records);
    }
    std::vector<std::string> due;
    for (const auto& record : records) {
      RenewOutcome outcome = decide(record);
      if (outcome.action == RenewAction::renewed) {
        due.push_back(record.name);  // decided; the outcome is written when it has been tried
        continue;
      }
      report.outcomes.push_back(std::move(outcome));
    }
    if (!due.empty()) check_keys_once();
    // A record that cannot be read is reported, never renewed nor rewritten: the others go on.
    for (auto& damaged : unreadable_) {
      RenewOutcome outcome;
      outcome.domain = damaged.name;
      outcome.action = RenewAction::failed;
      outcome.unreadable = true;
      outcome.reason = fmt::format("cannot read {}", damaged.file);
      outcome.error = std::move(damaged.error);
      report.outcomes.push_back(std::move(outcome));
    }
    if (!due.empty()) {
      wait_random_delay();
      std::vector<RenewOutcome> renewed(due.size());
      run_in_parallel(due.size(), [&](size_t i) { renewed[i] = renew_one(due[i]); });
      for (auto& outcome : renewed) report.outcomes.push_back(std::move(outcome));
      for (const auto& [key, session] : sessions_) session->save_timing(progress_);
    }
    // The skipped ones come in name order already; only the renewed and unreadable need placing.
    auto by_domain = [](const RenewOutcome& a, const RenewOutcome& b) { return a.domain < b.domain; };
    if (!std::is_sorted(report.outcomes.begin(), report.outcomes.end(), by_domain))
      std::stable_sort(report.outcomes.begin(), report.outcomes.end(), by_domain);
    for (const auto& [url, session] : sessions_) report.acme_requests += session->client().request_count();
    if (!request_.dry_run) {
      // The records already read serve the alerts, but for those this run renewed.
      const std::set<std::string> renewed(due.begin(), due.end());
      for (auto& record : records)
        if (renewed.contains(record.name)) record = real_store_.load_domain(record.name).value_or(record);
      for (const auto& expiry : check_expiry(real_store_, clock_, webhook_http_, request_.settings.alerts, records))
        if (!expiry.alert_error.empty()) report.alert_errors.push_back(expiry.domain + ": " + expiry.alert_error);
    }
    return report;
  }

 private:
  void say(const std::string& domain, const std::string& line) {
    std::lock_guard guard(say_mutex_);  // one line at a time from parallel renewals
    if (progress_) progress_(fmt::format("{}: {}", domain, line));
  }

  // `--parallel N`: N renewals at once, sharing the sessions (one connection and nonce pool per
  // CA) and the solvers. An interruption or a bug in one stops the others' next start and is
  // rethrown once all have finished.
  void run_in_parallel(size_t count, const std::function<void(size_t)>& work) {
    const size_t workers = std::min<size_t>(count, static_cast<size_t>(std::max(1, request_.parallel)));
    if (workers <= 1) {
      for (size_t i = 0; i < count; ++i) work(i);
      return;
    }
    std::atomic<size_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w)
      threads.emplace_back([&] {
        for (size_t i = next++; i < count; i = next++) {
          {
            std::lock_guard guard(error_mutex);
            if (first_error) return;
          }
          try {
            work(i);
          } catch (...) {
            std::lock_guard guard(error_mutex);
            if (!first_error) first_error = std::current_exception();
          }
        }
      });
    for (auto& thread : threads) thread.join();
    if (first_error) std::rethrow_exception(first_error);
  }

  // The records to look at; those that cannot be read go to unreadable_.
  std::vector<store::DomainRecord> selected_domains() {
    if (request_.names.empty()) {
      store::DomainListing listing = real_store_.list_domains_and_damage();
      unreadable_ = std::move(listing.unreadable);
      return std::move(listing.records);
    }
    std::vector<store::DomainRecord> records;
    for (const auto& name : request_.names) {
      try {
        records.push_back(require_domain(real_store_, name));
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::state) throw;  // not managed, or not a name: the command is wrong
        unreadable_.push_back({name, e.subject(), e});
      }
    }
    return records;
  }

  renewal::Policy policy_for(const store::DomainRecord& record) const {
    return {record.renewal.buffer_days ? record.renewal.buffer_days : request_.settings.buffer_days};
  }

  // From the record alone: skipped (with when it becomes due), backed off, or to be renewed.
  RenewOutcome decide(const store::DomainRecord& record) {
    RenewOutcome outcome;
    outcome.domain = record.name;
    const TimePoint now = clock_.now();
    if (record.management != "managed") {
      outcome.reason = "self-managed: certcli does not renew it";
      return outcome;
    }
    if (!request_.force && record.renewal.next_attempt_at && now < *record.renewal.next_attempt_at) {
      outcome.action = RenewAction::backed_off;
      outcome.next_attempt_at = record.renewal.next_attempt_at;
      outcome.reason = fmt::format("{} failed renewal{}; next attempt at {}", record.renewal.failures,
                                   record.renewal.failures == 1 ? "" : "s",
                                   format_rfc3339(*record.renewal.next_attempt_at));
      return outcome;
    }
    renewal::DueDecision decision = renewal::renewal_due(record, now, policy_for(record));
    // A failed or interrupted run is not "not due": its certificate may be fine, but the
    // operator asked for a new one and the backoff above says when to try again.
    const bool unfinished = record.status == store::CertificateStatus::failed ||
                            record.status == store::CertificateStatus::issuing;
    if (request_.force || decision.due || unfinished) {
      outcome.action = RenewAction::renewed;
      outcome.reason = request_.force ? "forced" : unfinished && !decision.due ? "the last run did not finish" : decision.reason;
      return outcome;
    }
    outcome.reason = decision.reason;
    outcome.due_at = decision.due_at;
    return outcome;
  }

  // One session per CA and account for the whole run: one directory fetch, one connection, one
  // nonce pool. `account_name` "" is the CA's default account.
  steps::Session& session_for(const CaSelection& ca, const std::string& account_name, bool with_account) {
    std::lock_guard guard(sessions_mutex_);
    const std::string key = account_name.empty() ? ca.directory_url : ca.directory_url + '\n' + account_name;
    auto& session = sessions_[key];
    if (!session) session = std::make_unique<steps::Session>(store_, clock_, ca_http_, ca, request_.time_budget);
    if (with_account && !accounts_loaded_.contains(key)) {
      steps::AccountOptions account;
      account.account_name = account_name;
      account.eab = request_.eab;
      session->load_or_register(account, progress_);
      accounts_loaded_.insert(key);
    }
    return *session;
  }

  // RFC 9773: asks the CA for the renewal window of each live certificate whose last answer
  // has run out (its Retry-After), and stores the point chosen once inside it. A record whose
  // answer is still fresh costs nothing. ARI is the CA's advice: when asking fails, the other
  // rules decide, and the CA is asked again in an hour.
  bool asks_for_renewal_window(const store::DomainRecord& record) const {
    const auto& r = record.renewal;
    const bool stale = !r.ari_fetch_after || clock_.now() >= *r.ari_fetch_after;
    return record.management == "managed" && record.status == store::CertificateStatus::ready && !r.ari_cert_id.empty() &&
           stale;
  }

  // The passphrase check main() runs for commands that read keys walks and opens every key file
  // in the state directory: `renew` runs it only once something is due or about to be written,
  // so that a run with nothing due reads the records alone. Before the first write either way.
  void check_keys_once() {
    if (keys_checked_) return;
    keys_checked_ = true;
    real_store_.check_key_passphrase();
  }

  void refresh_renewal_windows(std::vector<store::DomainRecord>& records) {
    const TimePoint now = clock_.now();
    std::random_device seed;
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    for (auto& listed : records) {
      const auto& r = listed.renewal;
      if (!asks_for_renewal_window(listed)) continue;
      wait_random_delay();
      std::unique_ptr<store::Lock> lock;
      try {
        lock = real_store_.lock_domain(listed.name, kLockWait);
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::state) throw;
        continue;  // another certcli is working on it; its renewal state is that run's to keep
      }
      auto current = real_store_.load_domain(listed.name);  // re-read under the lock
      if (!current || current->renewal.ari_cert_id != r.ari_cert_id) continue;
      store::DomainRecord& record = *current;
      try {
        steps::Session& session = session_for(renewal_ca(record), "", /*with_account=*/false);
        std::optional<acme::RenewalInfo> info = session.client().fetch_renewal_info(record.renewal.ari_cert_id);
        if (!info) {
          // The CA offers no ARI, or does not know this certificate: stop asking for it.
          record.renewal.ari_cert_id.clear();
          record.renewal.ari_renew_at.reset();
        } else {
          auto& state = record.renewal;
          bool chosen_inside = state.ari_renew_at && *state.ari_renew_at >= info->window_start &&
                               *state.ari_renew_at < info->window_end;
          if (!chosen_inside) state.ari_renew_at = acme::renewal_time_in_window(*info, fraction(seed));
          if (acme::renewal_window_has_passed(*info, now)) state.ari_renew_at = now;
          state.ari_window_start = info->window_start;
          state.ari_window_end = info->window_end;
          // RFC 9773 4.3: poll again after Retry-After, kept between a minute and a day.
          TimePoint again = info->retry_after.value_or(now + std::chrono::hours{6});
          state.ari_fetch_after = std::clamp(again, now + std::chrono::minutes{1}, now + std::chrono::hours{24});
          say(record.name, fmt::format("the CA suggests renewing between {} and {}; chosen: {}",
                                       format_rfc3339(info->window_start), format_rfc3339(info->window_end),
                                       format_rfc3339(*state.ari_renew_at)));
        }
      } catch (const Error& error) {
        if (error.kind() == ErrorKind::interrupted) throw;
        say(record.name, fmt::format("could not ask the CA for a renewal window: {}", error.what()));
        record.renewal.ari_fetch_after = now + std::chrono::hours{1};
      }
      record.last_updated_at = now;
      real_store_.save_domain(record);
      listed = record;
    }
  }

  RenewOutcome renew_one(const std::string& name) {
    RenewOutcome outcome;
    outcome.domain = name;
    std::unique_ptr<store::Lock> lock;
    try {
      lock = store_.lock_domain(name, kLockWait);
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::state) throw;
      // Another certcli is issuing or renewing it right now: not a failure, no backoff.
      outcome.reason = error.what();
      outcome.locked = true;
      return outcome;
    }
    store::DomainRecord record = require_domain(store_, name);  // re-read under the lock
    outcome.reason = request_.force ? "forced" : renewal::renewal_due(record, clock_.now(), policy_for(record)).reason;
    const CaSelection ca = request_.dry_run ? dry_run_ca(request_, record) : renewal_ca(record, request_.ca);
    // --account, else the account the domain was last issued with at this CA.
    std::string account_name = !request_.account_name.empty()              ? request_.account_name
                               : ca.directory_url == record.directory_url ? record.account_name
                                                                          : std::string();
    if (account_name == "default") account_name.clear();
    say(name, fmt::format("renewing ({}) at {}{}", outcome.reason, ca.directory_url, request_.dry_run ? ", dry run" : ""));
    auto save = [&] {
      record.last_updated_at = clock_.now();
      store_.save_domain(record);
    };
    try {
      const challenge::Settings challenge = effective_challenge(record, request_.settings.default_challenge);
      // Made (and so checked: a busy port, a missing webroot) before anything is asked of the CA.
      solvers_.prepare(record, challenge);
      // The CA's rate limits, from certcli's own ledger (a dry run counts nothing and is not held
      // to them). An ARI renewal, which names what it replaces, is exempt at Let's Encrypt.
      if (!request_.dry_run)
        if (std::string warning = ledger_.check_and_hold(clock_.now(), ca, steps::account_store_id(ca, account_name),
                                                         record, /*ari=*/!record.renewal.ari_cert_id.empty(),
                                                         request_.limits);
            !warning.empty())
          say(name, warning);
      steps::Session& session = session_for(ca, account_name, /*with_account=*/true);
      if (!request_.dry_run) record.account_name = account_name;
      steps::run_preflight(record, challenge, request_.settings.environment, session, solvers_,
                           [&](const std::string& line) { say(name, line); });
      // Pinned clients: the key the new certificate gets, or a refusal (--force goes ahead). Read
      // from the real store: a dry run must decide as the real run would.
      const pin::KeyPlan key_plan = pin::plan_key(real_store_, record, request_.force);
      if (key_plan.decision.pinned) say(name, fmt::format("pins: {}", key_plan.decision.reason));
      record.status = store::CertificateStatus::issuing;
      record.phase = store::IssuePhase::starting;
      record.error.reset();
      save();
      steps::log_event(store_, clock_, "renew.started", name, {{"ca", ca.directory_url}});
      steps::ObtainedCertificate obtained =
          steps::run_order(session, store_, record, challenge, solvers_, save,
                           [&](const std::string& line) { say(name, line); },
                           request_.dry_run ? std::string() : record.renewal.ari_cert_id,
                           request_.reuse_key || key_plan.decision.choice == pin::KeyChoice::live, key_plan.backup_key_pem);
      crypto::CertificateInfo info =
          steps::install(store_, clock_, record, obtained, !session.client().directory().renewal_info.empty());
      if (!request_.dry_run)
        if (std::string warning = pin::after_install(real_store_, clock_, record, key_plan); !warning.empty())
          say(name, "warning: " + warning);
      outcome.action = RenewAction::renewed;
      outcome.new_expiry = info.not_after;
      if (!request_.dry_run) outcome.hook = run_hook(record);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::interrupted) {
        steps::record_failure(store_, clock_, record, error, "renew");
        throw;
      }
      record_renewal_failure(record, error, outcome);
    } catch (const std::exception& error) {
      record_renewal_failure(record, Error(ErrorKind::internal, error.what()), outcome);
    }
    return outcome;
  }

  void record_renewal_failure(store::DomainRecord& record, const Error& error, RenewOutcome& outcome) {
    ledger_.release_certificate(record.name);
    steps::record_failure(store_, clock_, record, error, "renew");
    const TimePoint now = clock_.now();
    record.renewal.failures += 1;
    TimePoint next = now + renewal::backoff_after(record.renewal.failures);
    // The CA said when (Retry-After past the budget, a rate limit): no earlier than that.
    if (auto* later = dynamic_cast<const acme::RetryLater*>(&error)) next = std::max(next, later->retry_at());
    if (auto* budget = dynamic_cast<const limits::LimitReached*>(&error)) next = std::max(next, budget->retry_at());
    record.renewal.next_attempt_at = next;
    outcome.action = RenewAction::failed;
    outcome.error = error;
    outcome.reason = error.what();
    outcome.next_attempt_at = next;
    try {
      store_.save_domain(record);
    } catch (const Error&) {
      // The failure itself is what the report says; the record keeps what record_failure saved.
    }
    if (request_.dry_run) return;
    nlohmann::json body = alert_event("renewal.failed", record, now);
    body["next_attempt_at"] = format_rfc3339(next);
    if (std::string problem = post_alert(webhook_http_, request_.settings.alerts, body); !problem.empty())
      say(record.name, problem);
  }

  std::optional<HookOutcome> run_hook(const store::DomainRecord& record) {
    std::string command = !request_.deploy_hook.empty()         ? request_.deploy_hook
                          : !record.renewal.deploy_hook.empty() ? record.renewal.deploy_hook
                                                                : request_.settings.deploy_hook;
    if (command.empty()) return std::nullopt;
    say(record.name, "running the deploy hook");
    HookOutcome hook = steps::run_deploy_hook(command, record, store_.live_location(record.name),
                                              request_.settings.deploy_hook_timeout);
    steps::log_event(store_, clock_, hook.succeeded ? "hook.succeeded" : "hook.failed", record.name,
                     {{"detail", hook.detail}});
    return hook;
  }

  // Once, before the first request to a CA (renewal or ARI), however many follow.
  void wait_random_delay() {
    if (request_.random_delay.count() <= 0 || delayed_) return;
    delayed_ = true;
    std::random_device seed;
    std::uniform_int_distribution<long long> pick(0, std::chrono::milliseconds(request_.random_delay).count());
    std::chrono::milliseconds delay{pick(seed)};
    if (progress_) progress_(fmt::format("waiting {} s (--random-delay) before contacting the CA", delay.count() / 1000));
    clock_.sleep_for(delay);
  }

  store::Store& real_store_;
  DryRunStore dry_store_;
  store::Store& store_;
  Clock& clock_;
  net::HttpTransport& ca_http_;
  net::HttpTransport& webhook_http_;
  const RenewRequest& request_;
  const Progress& progress_;
  std::map<std::string, std::unique_ptr<steps::Session>> sessions_;
  std::vector<store::UnreadableDomain> unreadable_;
  limits::RunLedger ledger_{real_store_};  // read once per run, shared by parallel renewals
  std::set<std::string> accounts_loaded_;
  std::mutex sessions_mutex_;
  bool delayed_ = false;
  bool keys_checked_ = false;
  std::mutex say_mutex_;
  steps::SolverPool solvers_;
};

}  // namespace

std::string to_string(RenewAction action) {
  switch (action) {
    case RenewAction::skipped: return "skipped";
    case RenewAction::renewed: return "renewed";
    case RenewAction::failed: return "failed";
    case RenewAction::backed_off: return "backed-off";
  }
  return "skipped";
}

bool RenewReport::any_failed() const {
  return std::any_of(outcomes.begin(), outcomes.end(), [](const RenewOutcome& o) { return o.action == RenewAction::failed; });
}

bool RenewReport::any_hook_failed() const {
  return std::any_of(outcomes.begin(), outcomes.end(), [](const RenewOutcome& o) { return o.hook && !o.hook->succeeded; });
}

RenewReport renew_certificates(store::Store& store, Clock& clock, net::HttpTransport& ca_http, net::HttpTransport& webhook_http,
                               const RenewRequest& request, const Progress& progress) {
  return Renewal(store, clock, ca_http, webhook_http, request, progress).run();
}

}  // namespace certcli::lifecycle
