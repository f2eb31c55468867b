// An ACME session (client + account) and the bookkeeping every verb shares: activity events,
// recorded errors, failures.
#include "lifecycle/steps.hpp"

#include <certcli/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle::steps {

void log_event(store::Store& store, const Clock& clock, const std::string& event, const std::string& domain,
               nlohmann::json details) {
  details["time"] = format_rfc3339(clock.now());
  details["event"] = event;
  if (!domain.empty()) details["domain"] = domain;
  store.append_activity(details);
}

std::string recorded_error_type(const Error& error) {
  if (auto* acme_error = dynamic_cast<const acme::AcmeError*>(&error)) return acme_error->problem().type;
  switch (error.kind()) {
    case ErrorKind::network: return "certcli:network";
    case ErrorKind::challenge: return "certcli:challenge";
    case ErrorKind::crypto: return "certcli:crypto";
    case ErrorKind::state: return "certcli:state";
    case ErrorKind::retry_later: return "certcli:retry-later";
    case ErrorKind::ca_rejected:
      return dynamic_cast<const acme::CaMisbehaved*>(&error) ? "certcli:ca-misbehaved" : "certcli:ca-rejected";
    case ErrorKind::preflight: return "certcli:preflight";
    case ErrorKind::hook_failed: return "certcli:hook-failed";
    case ErrorKind::invalid_input: return "certcli:invalid-input";
    case ErrorKind::not_found: return "certcli:not-found";
    case ErrorKind::usage: return "certcli:usage";
    default: return "certcli:internal";
  }
}

Session::Session(store::Store& store, Clock& clock, net::HttpTransport& http, CaSelection ca, std::chrono::seconds budget)
    : store_(store), clock_(clock), ca_(std::move(ca)), client_(http, clock, ca_.directory_url) {
  client_.set_time_budget(budget);
}

void Session::refuse_unagreed_registration(const AccountOptions& options) {
  const acme::Directory& directory = client_.directory();
  if (auto existing = store_.load_account(account_store_id(ca_, options.account_name))) {
    refuse_deactivated(*existing, ca_, options.account_name);
    return;
  }
  // A CA that needs External Account Binding refuses any newAccount without it: say so first.
  external_account_binding(options.eab, ca_, directory);
  if (directory.terms_of_service.empty() || options.agree_to_terms) return;
  throw Error(ErrorKind::usage,
              fmt::format("there is no account at {} yet, and creating one means agreeing to its terms of service",
                          ca_.directory_url),
              fmt::format("read {} and run again with --agree-tos (and --email ADDRESS for expiry notices)",
                          directory.terms_of_service));
}

namespace {

acme::CaTiming timing_from_record(const store::CaTimingRecord& r) {
  return {{std::chrono::milliseconds{r.validation_ms}, r.validation_samples},
          {std::chrono::milliseconds{r.issuance_ms}, r.issuance_samples}};
}

store::CaTimingRecord record_from_timing(const acme::CaTiming& t) {
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  return {ms(t.validation.typical), static_cast<int>(t.validation.samples), ms(t.issuance.typical),
          static_cast<int>(t.issuance.samples)};
}

}  // namespace

void Session::load_or_register(const AccountOptions& options, const Progress& progress) {
  if (!timing_loaded_) {
    timing_loaded_ = true;
    try {
      if (auto stored = store_.load_ca_timing(account_store_id(ca_, ""))) stored_timing_ = timing_from_record(*stored);
    } catch (const Error& e) {
      // Learned again from this run on, and the file is replaced when it ends.
      if (progress) progress(fmt::format("note: ignoring what was learned of the CA's speed: {}", e.what()));
    }
    client_.set_timing(stored_timing_);
  }
  const std::string id = account_store_id(ca_, options.account_name);
  auto account = store_.load_account(id);
  std::optional<crypto::SecretString> key_pem = store_.load_account_key(id);
  if (account && key_pem) {
    refuse_deactivated(*account, ca_, options.account_name);
    account_key_ = crypto::PrivateKey::from_pem(key_pem->str());
    client_.use_account(*account_key_, account->url);
    // An account bound to External Account Binding credentials cannot be registered again
    // without them (certcli never stores the HMAC key): the CA's error and hint reach the user.
    if (account->eab_kid.empty())
      client_.set_account_recovery([this, id, record = *account, progress]() mutable {
        return register_again(id, std::move(record), progress);
      });
    return;
  }
  refuse_unagreed_registration(options);
  auto eab = external_account_binding(options.eab, ca_, client_.directory());
  if (progress) progress("registering a new account");
  account_key_ = crypto::PrivateKey::generate(options.key_type);
  client_.use_account(*account_key_);
  acme::Account created = client_.register_account(options.contacts, options.agree_to_terms, eab);
  store::AccountRecord record{created.url, ca_.directory_url, options.contacts,
                              crypto::key_type_name(options.key_type), clock_.now()};
  if (eab) record.eab_kid = eab->kid;
  store_.save_account(id, record, crypto::SecretString(account_key_->to_pem()));
  account_created_ = true;
  nlohmann::json details = {{"ca", ca_.directory_url}, {"account", created.url}};
  if (!options.account_name.empty()) details["account_name"] = options.account_name;
  if (eab) details["eab_kid"] = eab->kid;
  log_event(store_, clock_, "account.created", "", details);
}

void Session::save_timing(const Progress& progress) noexcept {
  try {
    const acme::CaTiming learned = client_.timing();
    if (!timing_loaded_ || learned == stored_timing_) return;
    auto state_lock = store_.lock(std::chrono::seconds{10});
    store_.save_ca_timing(account_store_id(ca_, ""), record_from_timing(learned));
    stored_timing_ = learned;
  } catch (const std::exception& e) {
    try {
      if (progress) progress(fmt::format("note: what this run learned of the CA's speed was not kept: {}", e.what()));
    } catch (...) {
      // Nothing more to do: the next run learns it again.
    }
  }
}

std::string Session::register_again(const std::string& id, store::AccountRecord record, const Progress& progress) {
  if (progress)
    progress(fmt::format("the CA no longer knows account {} (accountDoesNotExist); registering its key again",
                         record.url));
  // The terms were agreed to when this account was first registered with this key at this CA.
  acme::Account again = client_.register_account(record.contacts, /*agree_to_terms=*/true, std::nullopt);
  const std::string previous = record.url;
  record.url = again.url;
  {
    // Called during an order, when no path of certcli holds the state lock.
    auto state_lock = store_.lock(std::chrono::seconds{60});
    store_.save_account(id, record, crypto::SecretString(account_key_->to_pem()));
  }
  log_event(store_, clock_, "account.registered_again", "",
            {{"ca", ca_.directory_url}, {"account", again.url}, {"previous_account", previous}});
  return again.url;
}

void record_failure(store::Store& store, const Clock& clock, store::DomainRecord& record, const Error& error,
                    const std::string& verb) noexcept {
  try {
    record.last_updated_at = clock.now();
    if (error.kind() == ErrorKind::interrupted) {
      // Not a failure of the domain: it stays "issuing" at its phase, which status shows as
      // interrupted once this process has let go of the lock, and the next run resumes it.
      store.save_domain(record);
      log_event(store, clock, verb + ".interrupted", record.name, {{"phase", store::to_string(record.phase)}});
      return;
    }
    record.status = store::CertificateStatus::failed;
    record.error = store::RecordedError{recorded_error_type(error), error.what(), error.hint()};
    // The CA said when to come back (a rateLimited 429, a Retry-After past the run's budget): the
    // next `renew` waits until then instead of asking again at once.
    if (auto* later = dynamic_cast<const acme::RetryLater*>(&error))
      record.renewal.next_attempt_at = std::max(record.renewal.next_attempt_at.value_or(later->retry_at()), later->retry_at());
    // The order URL stays: the next run asks the CA whether the order can still be resumed
    // (a timeout, a lost connection, a Retry-After past the budget) or must be replaced (the
    // CA marked it invalid). An order the CA poisoned with values certcli refuses to use is
    // never resumed: the next run orders anew, with a new key.
    if (dynamic_cast<const acme::CaMisbehaved*>(&error) != nullptr) {
      record.order_url.clear();
      store.remove_pending_key(record.name);
    }
    store.save_domain(record);
    log_event(store, clock, verb + ".failed", record.name, {{"error", error.what()}});
  } catch (...) {
    // The original error is the one the user needs to see; the next run reads what was saved.
  }
}

}  // namespace certcli::lifecycle::steps
