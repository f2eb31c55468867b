// An ACME session (client + account) and the bookkeeping every verb shares: activity events,
// recorded errors, failures.
#include "lifecycle/steps.hpp"

#include <certcli/error.hpp>

#include <fmt/format.h>

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
    default: return "certcli:error";
  }
}

void check_contacts(const std::vector<std::string>& contacts) {
  for (const auto& contact : contacts) {
    std::string address = contact.starts_with("mailto:") ? contact.substr(7) : contact;
    auto at = address.find('@');
    bool plausible = at != std::string::npos && at > 0 && at + 1 < address.size() &&
                     address.find_first_of(" ,;<>\"") == std::string::npos;
    if (!plausible)
      throw Error(ErrorKind::invalid_input, fmt::format("'{}' is not an e-mail address", contact),
                  "give --email as name@example.com", contact);
  }
}

Session::Session(store::Store& store, Clock& clock, net::HttpTransport& http, CaSelection ca, std::chrono::seconds budget)
    : store_(store), clock_(clock), ca_(std::move(ca)), client_(http, clock, ca_.directory_url) {
  client_.set_time_budget(budget);
}

void Session::refuse_unagreed_registration(const AccountOptions& options) {
  const acme::Directory& directory = client_.directory();
  if (store_.load_account(ca_.id) || directory.terms_of_service.empty() || options.agree_to_terms) return;
  throw Error(ErrorKind::usage,
              fmt::format("there is no account at {} yet, and creating one means agreeing to its terms of service",
                          ca_.directory_url),
              fmt::format("read {} and run again with --agree-tos (and --email ADDRESS for expiry notices)",
                          directory.terms_of_service));
}

void Session::load_or_register(const AccountOptions& options, const Progress& progress) {
  auto account = store_.load_account(ca_.id);
  auto key_pem = store_.load_account_key(ca_.id);
  if (account && key_pem) {
    account_key_ = crypto::PrivateKey::from_pem(*key_pem);
    client_.use_account(*account_key_, account->url);
    return;
  }
  refuse_unagreed_registration(options);
  if (progress) progress("registering a new account");
  account_key_ = crypto::PrivateKey::generate(options.key_type);
  client_.use_account(*account_key_);
  acme::Account created = client_.register_account(options.contacts, options.agree_to_terms);
  store::AccountRecord record{created.url, ca_.directory_url, options.contacts,
                              crypto::key_type_name(options.key_type), clock_.now()};
  store_.save_account(ca_.id, record, account_key_->to_pem());
  account_created_ = true;
  log_event(store_, clock_, "account.created", "", {{"ca", ca_.directory_url}, {"account", created.url}});
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
