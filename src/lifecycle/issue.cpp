// Issuing a certificate for a stored domain: the RFC 8555 flow wrapped in honest state.
// Order of writes matters for crash safety: the order URL is saved before any challenge is
// answered and the certificate key before finalize, so an interrupted run resumes the same
// order with the same key instead of starting over.
#include <certcli/acme.hpp>
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle {
namespace {

using store::CertificateStatus;
using store::IssuePhase;
using namespace std::chrono_literals;

// CAs validate within a second or so; polling sooner mostly costs a request that says "pending".
constexpr std::chrono::milliseconds kFirstPollDelay = 300ms;

std::string error_type(const Error& error) {
  if (auto* acme_error = dynamic_cast<const acme::AcmeError*>(&error)) return acme_error->problem().type;
  switch (error.kind()) {
    case ErrorKind::network: return "certcli:network";
    case ErrorKind::challenge: return "certcli:challenge";
    case ErrorKind::crypto: return "certcli:crypto";
    case ErrorKind::state: return "certcli:state";
    case ErrorKind::retry_later: return "certcli:retry-later";
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

std::unique_ptr<challenge::Solver> make_solver(const store::ChallengeConfig& config) {
  if (!config.webroot.empty()) return challenge::make_http_webroot_solver(config.webroot);
  auto [address, port] = challenge::parse_listen_address(config.http_listen.empty() ? ":80" : config.http_listen);
  return challenge::make_http_standalone_solver(address, port);
}

class Issuance {
 public:
  Issuance(store::Store& store, Clock& clock, net::HttpClient& http, const IssueRequest& request,
           const Progress& progress)
      : store_(store), clock_(clock), http_(http), request_(request), progress_(progress) {}

  IssueResult run() {
    // Preconditions first; nothing is written until they hold.
    record_ = require_domain(store_, request_.name);
    if (request_.challenge) record_.challenge = *request_.challenge;
    check_contacts(request_.contacts);
    // A webroot that does not exist or a port that is taken would fail only after an account
    // and an order were made: check them first, so a refused run asks the CA nothing and
    // leaves the domain (and its valid certificate) as it was.
    challenge::check_http01_settings(record_.challenge.webroot, record_.challenge.http_listen, /*try_listening=*/true);
    ca_ = choose_ca();
    client_.emplace(http_, clock_, ca_.directory_url);
    client_->set_time_budget(request_.time_budget);
    say(fmt::format("contacting {}", ca_.directory_url));
    const acme::Directory& directory = client_->directory();
    refuse_unagreed_registration(directory);

    auto lock = store_.lock(std::chrono::seconds{60});
    record_ = require_domain(store_, request_.name);  // re-read: another run may have finished meanwhile
    if (request_.challenge) record_.challenge = *request_.challenge;
    load_or_register_account(directory);

    set_phase(CertificateStatus::issuing, IssuePhase::starting);
    record_.error.reset();
    save();
    activity("issue.started", {{"ca", ca_.directory_url}});
    try {
      return issue();
    } catch (const Error& error) {
      record_failure(error);
      throw;
    } catch (const std::exception& error) {
      record_failure(Error(ErrorKind::internal, error.what()));
      throw;
    }
  }

 private:
  void say(const std::string& line) {
    if (progress_) progress_(line);
  }

  void save() {
    record_.last_updated_at = clock_.now();
    store_.save_domain(record_);
  }

  void set_phase(CertificateStatus status, IssuePhase phase) {
    record_.status = status;
    record_.phase = phase;
  }

  void activity(const std::string& event, nlohmann::json details = nlohmann::json::object()) {
    details["time"] = format_rfc3339(clock_.now());
    details["event"] = event;
    details["domain"] = record_.name;
    store_.append_activity(details);
  }

  void record_failure(const Error& error) {
    if (error.kind() == ErrorKind::interrupted) {
      // Not a failure of the domain: it stays "issuing" at its phase, which status shows as
      // interrupted once this process has let go of the lock, and the next run resumes it.
      try {
        save();
        activity("issue.interrupted", {{"phase", store::to_string(record_.phase)}});
      } catch (...) {
        // The interruption is what the user needs to see; the next run reads what was saved.
      }
      return;
    }
    record_.status = CertificateStatus::failed;
    record_.error = store::RecordedError{error_type(error), error.what(), error.hint()};
    // The order URL stays: the next run asks the CA whether the order can still be resumed
    // (a timeout, a lost connection, a Retry-After past the budget) or must be replaced (the
    // CA marked it invalid). An order the CA poisoned with values certcli refuses to use is
    // never resumed: the next run orders anew, with a new key.
    bool poisoned = dynamic_cast<const acme::CaMisbehaved*>(&error) != nullptr;
    if (poisoned) record_.order_url.clear();
    try {
      if (poisoned) store_.remove_pending_key(record_.name);
      save();
      activity("issue.failed", {{"error", error.what()}});
    } catch (...) {
      // The original error is the one the user needs to see.
    }
  }

  // The CA named on the command line, else the one the domain was last ordered from (so a
  // domain tried on staging never moves to production unasked), else Let's Encrypt.
  CaSelection choose_ca() const {
    if (request_.ca) return *request_.ca;
    if (!record_.directory_url.empty()) return select_ca("", record_.directory_url, false);
    return select_ca("", "", false);
  }

  // Checked before the lock is taken too, so that a run refused for this writes nothing.
  void refuse_unagreed_registration(const acme::Directory& directory) const {
    if (store_.load_account(ca_.id) || directory.terms_of_service.empty() || request_.agree_to_terms) return;
    throw Error(ErrorKind::usage,
                fmt::format("there is no account at {} yet, and creating one means agreeing to its terms of service",
                            ca_.directory_url),
                fmt::format("read {} and run again with --agree-tos (and --email ADDRESS for expiry notices)",
                            directory.terms_of_service));
  }

  void load_or_register_account(const acme::Directory& directory) {
    auto account = store_.load_account(ca_.id);
    auto key_pem = store_.load_account_key(ca_.id);
    if (account && key_pem) {
      account_key_ = crypto::PrivateKey::from_pem(*key_pem);
      client_->use_account(*account_key_, account->url);
      return;
    }
    refuse_unagreed_registration(directory);
    say("registering a new account");
    account_key_ = crypto::PrivateKey::generate(request_.account_key_type);
    client_->use_account(*account_key_);
    acme::Account created = client_->register_account(request_.contacts, request_.agree_to_terms);
    store::AccountRecord record{created.url, ca_.directory_url, request_.contacts,
                                crypto::key_type_name(request_.account_key_type), clock_.now()};
    store_.save_account(ca_.id, record, account_key_->to_pem());
    account_created_ = true;
    store_.append_activity({{"time", format_rfc3339(clock_.now())},
                            {"event", "account.created"},
                            {"ca", ca_.directory_url},
                            {"account", created.url}});
  }

  // The stored in-flight order, when it is for the same CA and names and still usable.
  std::optional<acme::Order> resumable_order() {
    if (record_.order_url.empty() || record_.directory_url != ca_.directory_url) return std::nullopt;
    try {
      acme::Order order = client_->fetch_order(record_.order_url);
      std::vector<std::string> ordered;
      for (const auto& id : order.identifiers) ordered.push_back(id.value);
      std::vector<std::string> wanted = record_.names;
      std::sort(ordered.begin(), ordered.end());
      std::sort(wanted.begin(), wanted.end());
      if (ordered != wanted) {
        say(fmt::format("the previous order {} was for other names; starting a new one", order.url));
        return std::nullopt;
      }
      if (order.status == "invalid") {
        say(fmt::format("the previous order {} cannot be resumed (the CA marked it invalid); starting a new one",
                        order.url));
        return std::nullopt;
      }
      return order;
    } catch (const acme::AcmeError& e) {
      say(fmt::format("the previous order {} cannot be resumed ({}); starting a new one", record_.order_url,
                      e.problem().short_type()));
      return std::nullopt;
    } catch (const acme::CaMisbehaved& e) {
      say(fmt::format("the previous order {} cannot be resumed ({}); starting a new one", record_.order_url, e.what()));
      return std::nullopt;
    }
  }

  IssueResult issue() {
    IssueResult result;
    set_phase(CertificateStatus::issuing, IssuePhase::ordering);
    std::optional<acme::Order> order = resumable_order();
    std::optional<std::string> pending_key = store_.load_pending_key(record_.name);
    if (order) {
      result.order_resumed = true;
      say(fmt::format("resuming order {}", order->url));
    } else {
      say(fmt::format("ordering a certificate for {}", fmt::join(record_.names, ", ")));
      order = client_->new_order(record_.names);
      pending_key.reset();  // a new order gets a new key
      record_.order_url = order->url;
      record_.directory_url = ca_.directory_url;
    }
    save();

    set_phase(CertificateStatus::issuing, IssuePhase::validating);
    save();
    validate(*order);

    set_phase(CertificateStatus::issuing, IssuePhase::finalizing);
    save();
    crypto::PrivateKey key = pending_key ? crypto::PrivateKey::from_pem(*pending_key) : new_certificate_key();
    // Every authorization is valid now, so the order is ready (RFC 8555 7.1.6) and finalize
    // needs no fetch first. A CA that updates orders lazily answers orderNotReady: then wait.
    if (order->status == "pending" || order->status == "ready") {
      say("finalizing");
      try {
        *order = client_->finalize(*order, crypto::make_csr_der(key, record_.names));
      } catch (const acme::AcmeError& e) {
        if (e.problem().short_type() != "orderNotReady") throw;
        *order = client_->wait_for_order(order->url);
        if (order->status == "ready") *order = client_->finalize(*order, crypto::make_csr_der(key, record_.names));
      }
    }
    if (order->status == "processing" || order->status == "pending")
      *order = client_->wait_for_order(order->url);
    if (order->status != "valid" || order->certificate_url.empty())
      throw Error(ErrorKind::ca_rejected,
                  fmt::format("the order ended {}{}", order->status, order->error ? ": " + order->error->describe() : ""),
                  "run the command again to start a new order", record_.name);

    say("downloading the certificate");
    std::string chain_pem = client_->download_certificate(order->certificate_url);
    install(key, chain_pem, result);
    result.account_url = client_->account_url();
    result.account_created = account_created_;
    result.acme_requests = client_->request_count();
    return result;
  }

  crypto::PrivateKey new_certificate_key() {
    auto type = crypto::parse_key_type(record_.key_type).value_or(crypto::KeyType::ec256);
    crypto::PrivateKey key = crypto::PrivateKey::generate(type);
    store_.save_pending_key(record_.name, key.to_pem());
    return key;
  }

  // Presents and answers every pending challenge first, then polls: the CA validates the
  // names in parallel, so an order for many names takes about as long as one for a single name.
  void validate(const acme::Order& order) {
    std::unique_ptr<challenge::Solver> solver;  // bound only when a challenge needs answering
    struct Pending {
      std::string url;
      challenge::ChallengeTask task;
    };
    std::vector<Pending> pending;
    auto cleanup_all = [&] {
      for (const auto& p : pending) solver->cleanup(p.task);
    };
    try {
      for (const auto& url : order.authorization_urls) {
        acme::Authorization authz = client_->fetch_authorization(url);
        const std::string& name = authz.identifier.value;
        if (authz.status == "valid") {
          say(fmt::format("{} is already validated", name));
          continue;
        }
        if (authz.status != "pending") {
          record_.order_url.clear();  // this order can never complete: the next run starts anew
          throw Error(ErrorKind::challenge, fmt::format("the authorization for {} is {}", name, authz.status),
                      "run the command again to start a new order", name);
        }
        if (!solver) solver = make_solver(record_.challenge);
        auto challenge = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                                      [&](const acme::Challenge& c) { return c.type == solver->challenge_type(); });
        if (challenge == authz.challenges.end())
          throw Error(ErrorKind::challenge, fmt::format("the CA offers no {} challenge for {}", solver->challenge_type(), name),
                      "choose a challenge type the CA offers for this name", name);
        pending.push_back({url, {name, challenge->token, client_->key_authorization(challenge->token)}});
        say(fmt::format("validating {} with {}", name, solver->describe()));
        solver->present(pending.back().task);
        if (challenge->status == "pending") client_->answer_challenge(*challenge);
      }
      if (!pending.empty()) clock_.sleep_for(kFirstPollDelay);
      for (const auto& p : pending) {
        acme::Authorization authz = client_->wait_for_authorization(p.url);
        if (authz.status == "valid") continue;
        record_.order_url.clear();  // an invalid authorization makes the order invalid (RFC 8555 7.1.6)
        acme::Problem problem{"urn:ietf:params:acme:error:incorrectResponse", "no reason given", 0, {}};
        for (const auto& c : authz.challenges)
          if (c.type == solver->challenge_type() && c.error) problem = *c.error;
        throw acme::AcmeError(problem, fmt::format("the CA could not validate {}", p.task.identifier),
                              fmt::format("make sure http://{}/.well-known/acme-challenge/ reaches {}",
                                          p.task.identifier, solver->describe()),
                              ErrorKind::challenge);
      }
    } catch (...) {
      cleanup_all();
      throw;
    }
    cleanup_all();
  }

  void install(const crypto::PrivateKey& key, const std::string& chain_pem, IssueResult& result) {
    std::vector<std::string> certificates = crypto::split_pem_certificates(chain_pem);
    if (certificates.empty())
      throw Error(ErrorKind::ca_rejected, "the CA's certificate download held no certificate", "try again later");
    if (!crypto::key_matches_certificate(key, certificates.front())) {
      // The order cannot yield a usable certificate any more (its key is gone): drop it so the
      // next run orders anew instead of downloading the same mismatch again.
      record_.order_url.clear();
      store_.remove_pending_key(record_.name);
      throw Error(ErrorKind::ca_rejected, "the certificate from the CA does not match the key certcli kept for this order",
                  "run the command again to order a new certificate; nothing was installed");
    }
    crypto::CertificateInfo info = crypto::parse_certificate(certificates.front());
    store::CertificateFiles files;
    files.certificate = certificates.front();
    for (size_t i = 1; i < certificates.size(); ++i) files.chain += certificates[i];
    files.fullchain = files.certificate + files.chain;
    files.private_key = key.to_pem();

    TimePoint now = clock_.now();
    std::string version = store_.install_certificate(record_.name, format_compact_utc(now), files);

    record_.live_version = version;
    record_.serial = info.serial_hex;
    record_.fingerprint = info.sha256_fingerprint;
    record_.issued_at = now;
    record_.expires_at = info.not_after;
    record_.order_url.clear();
    record_.error.reset();
    set_phase(CertificateStatus::ready, IssuePhase::completed);
    save();
    store_.remove_pending_key(record_.name);
    activity("certificate.issued", {{"serial", info.serial_hex},
                                    {"names", info.sans},
                                    {"expires_at", format_rfc3339(info.not_after)},
                                    {"version", version}});
    result.record = record_;
    result.certificate = info;
    result.live_location = store_.live_location(record_.name);
  }

  store::Store& store_;
  Clock& clock_;
  net::HttpClient& http_;
  const IssueRequest& request_;
  const Progress& progress_;
  CaSelection ca_;                     // chosen in run(), once the domain's record is read
  std::optional<acme::Client> client_;  // built for ca_
  store::DomainRecord record_;
  std::optional<crypto::PrivateKey> account_key_;
  bool account_created_ = false;
};

}  // namespace

IssueResult issue_certificate(store::Store& store, Clock& clock, net::HttpClient& http, const IssueRequest& request,
                              const Progress& progress) {
  return Issuance(store, clock, http, request, progress).run();
}

}  // namespace certcli::lifecycle
