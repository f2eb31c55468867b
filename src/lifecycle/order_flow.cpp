// The RFC 8555 order flow for one stored domain, wrapped in honest state. Order of writes
// matters for crash safety: the order URL is saved before any challenge is answered and the
// certificate key before finalize, so an interrupted run resumes the same order with the same
// key instead of starting over.
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle::steps {
namespace {

using store::CertificateStatus;
using store::IssuePhase;
using namespace std::chrono_literals;

// CAs validate within a second or so; polling sooner mostly costs a request that says "pending".
constexpr std::chrono::milliseconds kFirstPollDelay = 300ms;

class OrderFlow {
 public:
  OrderFlow(Session& session, store::Store& store, store::DomainRecord& record, const store::ChallengeConfig& challenge,
            const SaveRecord& save, const Progress& progress, const std::string& replaces, challenge::Solver* shared_solver)
      : session_(session),
        client_(session.client()),
        store_(store),
        record_(record),
        challenge_(challenge),
        save_(save),
        progress_(progress),
        replaces_(replaces),
        shared_solver_(shared_solver) {}

  ObtainedCertificate run() {
    set_phase(IssuePhase::ordering);
    std::optional<acme::Order> order = resumable_order();
    std::optional<std::string> pending_key = store_.load_pending_key(record_.name);
    bool resumed = order.has_value();
    if (order) {
      say(fmt::format("resuming order {}", order->url));
    } else {
      say(fmt::format("ordering a certificate for {}", fmt::join(record_.names, ", ")));
      order = client_.new_order(record_.names, replaces_);
      pending_key.reset();  // a new order gets a new key
      record_.order_url = order->url;
      record_.directory_url = session_.ca().directory_url;
    }
    save_();

    set_phase(IssuePhase::validating);
    validate(*order);

    set_phase(IssuePhase::finalizing);
    crypto::PrivateKey key = pending_key ? crypto::PrivateKey::from_pem(*pending_key) : new_certificate_key();
    // Every authorization is valid now, so the order is ready (RFC 8555 7.1.6) and finalize
    // needs no fetch first. A CA that updates orders lazily answers orderNotReady: then wait.
    if (order->status == "pending" || order->status == "ready") {
      say("finalizing");
      try {
        *order = client_.finalize(*order, crypto::make_csr_der(key, record_.names));
      } catch (const acme::AcmeError& e) {
        if (e.problem().short_type() != "orderNotReady") throw;
        *order = client_.wait_for_order(order->url);
        if (order->status == "ready") *order = client_.finalize(*order, crypto::make_csr_der(key, record_.names));
      }
    }
    if (order->status == "processing" || order->status == "pending") *order = client_.wait_for_order(order->url);
    if (order->status != "valid" || order->certificate_url.empty())
      throw Error(ErrorKind::ca_rejected,
                  fmt::format("the order ended {}{}", order->status, order->error ? ": " + order->error->describe() : ""),
                  "run the command again to start a new order", record_.name);

    say("downloading the certificate");
    return ObtainedCertificate{std::move(key), client_.download_certificate(order->certificate_url), resumed};
  }

 private:
  void say(const std::string& line) {
    if (progress_) progress_(line);
  }

  void set_phase(IssuePhase phase) {
    record_.status = CertificateStatus::issuing;
    record_.phase = phase;
    save_();
  }

  // The stored in-flight order, when it is for the same CA and names and still usable.
  std::optional<acme::Order> resumable_order() {
    if (record_.order_url.empty() || record_.directory_url != session_.ca().directory_url) return std::nullopt;
    try {
      acme::Order order = client_.fetch_order(record_.order_url);
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

  crypto::PrivateKey new_certificate_key() {
    auto type = crypto::parse_key_type(record_.key_type).value_or(crypto::KeyType::ec256);
    crypto::PrivateKey key = crypto::PrivateKey::generate(type);
    store_.save_pending_key(record_.name, key.to_pem());
    return key;
  }

  // Presents and answers every pending challenge first, then polls: the CA validates the
  // names in parallel, so an order for many names takes about as long as one for a single name.
  void validate(const acme::Order& order) {
    std::unique_ptr<challenge::Solver> own_solver;  // bound only when a challenge needs answering
    challenge::Solver* solver = shared_solver_;
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
        acme::Authorization authz = client_.fetch_authorization(url);
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
        if (!solver) {
          own_solver = make_solver(challenge_);
          solver = own_solver.get();
        }
        auto challenge = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                                      [&](const acme::Challenge& c) { return c.type == solver->challenge_type(); });
        if (challenge == authz.challenges.end())
          throw Error(ErrorKind::challenge, fmt::format("the CA offers no {} challenge for {}", solver->challenge_type(), name),
                      "choose a challenge type the CA offers for this name", name);
        pending.push_back({url, {name, challenge->token, client_.key_authorization(challenge->token)}});
        say(fmt::format("validating {} with {}", name, solver->describe()));
        solver->present(pending.back().task);
        if (challenge->status == "pending") client_.answer_challenge(*challenge);
      }
      if (!pending.empty()) session_clock().sleep_for(kFirstPollDelay);
      for (const auto& p : pending) {
        acme::Authorization authz = client_.wait_for_authorization(p.url);
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

  Clock& session_clock() { return session_.clock(); }

  Session& session_;
  acme::Client& client_;
  store::Store& store_;
  store::DomainRecord& record_;
  const store::ChallengeConfig& challenge_;
  const SaveRecord& save_;
  const Progress& progress_;
  const std::string& replaces_;
  challenge::Solver* shared_solver_;
};

}  // namespace

ObtainedCertificate run_order(Session& session, store::Store& store, store::DomainRecord& record,
                              const store::ChallengeConfig& challenge, const SaveRecord& save, const Progress& progress,
                              const std::string& replaces, challenge::Solver* solver) {
  return OrderFlow(session, store, record, challenge, save, progress, replaces, solver).run();
}

std::unique_ptr<challenge::Solver> make_solver(const store::ChallengeConfig& config) {
  if (!config.webroot.empty()) return challenge::make_http_webroot_solver(config.webroot);
  auto [address, port] = challenge::parse_listen_address(config.http_listen.empty() ? ":80" : config.http_listen);
  return challenge::make_http_standalone_solver(address, port);
}

challenge::Solver& SolverPool::get(const store::ChallengeConfig& config) {
  std::lock_guard guard(mutex_);
  std::string key = config.webroot.empty() ? "listen " + config.http_listen : "webroot " + config.webroot;
  auto& solver = solvers_[key];
  if (!solver) {
    try {
      solver = make_solver(config);
    } catch (...) {
      solvers_.erase(key);
      throw;
    }
  }
  return *solver;
}

}  // namespace certcli::lifecycle::steps
