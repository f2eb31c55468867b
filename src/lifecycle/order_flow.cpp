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
  OrderFlow(Session& session, store::Store& store, store::DomainRecord& record, const challenge::Settings& challenge,
            SolverPool& solvers, const SaveRecord& save, const Progress& progress, const std::string& replaces)
      : session_(session),
        client_(session.client()),
        store_(store),
        record_(record),
        challenge_(challenge),
        solvers_(solvers),
        save_(save),
        progress_(progress),
        replaces_(replaces) {}

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
    if (!resumed)
      log_event(store_, session_clock(), "order.created", record_.name,
                {{"order", order->url}, {"names", record_.names}, {"ca", session_.ca().directory_url}});

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

  // Presents every pending challenge, waits until each is visible where the CA looks (dns-01
  // propagation), answers them all, then polls: the CA validates the names in parallel, so an
  // order for many names takes about as long as one for a single name.
  void validate(const acme::Order& order) {
    struct Pending {
      std::string url;
      challenge::ChallengeTask task;
      challenge::Solver* solver;
      acme::Challenge challenge;
    };
    std::vector<Pending> pending;
    auto cleanup_all = [&] {
      for (const auto& p : pending) {
        std::string warning = p.solver->cleanup(p.task);
        if (warning.empty()) continue;
        say("warning: " + warning);
        try {
          log_event(store_, session_clock(), "challenge.cleanup_failed", record_.name,
                    {{"identifier", p.task.identifier}, {"detail", warning}});
        } catch (...) {
          // The warning was shown; a failing activity log must not hide the run's own outcome.
        }
      }
    };
    try {
      for (const auto& url : order.authorization_urls) {
        acme::Authorization authz = client_.fetch_authorization(url);
        // RFC 8555 7.1.4: a wildcard's authorization names the base domain with wildcard=true.
        const std::string name = (authz.wildcard ? "*." : "") + authz.identifier.value;
        if (authz.status == "valid") {
          say(fmt::format("{} is already validated", name));
          continue;
        }
        if (authz.status != "pending") {
          record_.order_url.clear();  // this order can never complete: the next run starts anew
          throw Error(ErrorKind::challenge, fmt::format("the authorization for {} is {}", name, authz.status),
                      "run the command again to start a new order", name);
        }
        const std::string type = challenge_.type_for(name);
        challenge::Solver& solver = solvers_.get(challenge_, type);
        auto offered = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                                    [&](const acme::Challenge& c) { return c.type == type; });
        if (offered == authz.challenges.end())
          throw Error(ErrorKind::challenge, fmt::format("the CA offers no {} challenge for {}", type, name),
                      type == "dns-01" ? "this CA cannot validate this name by DNS; check the CA's documentation"
                                       : "configure a dns-01 method for this domain (certcli domain add --help)",
                      name);
        // Recorded before present(): cleanup() of a task that was never presented does nothing.
        pending.push_back({url, {name, type, offered->token, client_.key_authorization(offered->token)}, &solver, *offered});
        say(fmt::format("validating {} with {}", name, solver.describe()));
        solver.present(pending.back().task);
      }
      wait_until_visible(pending);
      for (const auto& p : pending) {
        if (p.challenge.status != "pending") continue;
        client_.answer_challenge(p.challenge);
        log_event(store_, session_clock(), "challenge.answered", record_.name,
                  {{"identifier", p.task.identifier}, {"type", p.task.type}, {"solver", p.solver->describe()}});
      }
      if (!pending.empty()) session_clock().sleep_for(kFirstPollDelay);
      for (const auto& p : pending) {
        acme::Authorization authz = client_.wait_for_authorization(p.url);
        if (authz.status == "valid") continue;
        record_.order_url.clear();  // an invalid authorization makes the order invalid (RFC 8555 7.1.6)
        acme::Problem problem{"urn:ietf:params:acme:error:incorrectResponse", "no reason given", 0, {}};
        for (const auto& c : authz.challenges)
          if (c.type == p.task.type && c.error) problem = *c.error;
        std::string hint =
            p.task.type == "dns-01"
                ? fmt::format("make sure every authoritative server of the zone serves the TXT record {} "
                              "(certcli verify {} checks the delegation)",
                              challenge::dns01_record_name(p.task.identifier), record_.name)
                : fmt::format("make sure http://{}/.well-known/acme-challenge/ reaches {} (certcli verify {})",
                              p.task.identifier, p.solver->describe(), record_.name);
        throw acme::AcmeError(problem, fmt::format("the CA could not validate {}", p.task.identifier), hint,
                              ErrorKind::challenge);
      }
    } catch (...) {
      cleanup_all();
      throw;
    }
    cleanup_all();
  }

  // Each solver waits for all of its tasks at once: the propagation of many TXT records is
  // checked in one pass over the authoritative servers.
  template <typename PendingList>
  void wait_until_visible(const PendingList& pending) {
    std::vector<challenge::Solver*> solvers;
    for (const auto& p : pending)
      if (std::find(solvers.begin(), solvers.end(), p.solver) == solvers.end()) solvers.push_back(p.solver);
    for (challenge::Solver* solver : solvers) {
      std::vector<challenge::ChallengeTask> tasks;
      for (const auto& p : pending)
        if (p.solver == solver) tasks.push_back(p.task);
      solver->wait_until_visible(tasks, progress_);
    }
  }

  Clock& session_clock() { return session_.clock(); }

  Session& session_;
  acme::Client& client_;
  store::Store& store_;
  store::DomainRecord& record_;
  const challenge::Settings& challenge_;
  SolverPool& solvers_;
  const SaveRecord& save_;
  const Progress& progress_;
  const std::string& replaces_;
};

}  // namespace

ObtainedCertificate run_order(Session& session, store::Store& store, store::DomainRecord& record,
                              const challenge::Settings& challenge, SolverPool& solvers, const SaveRecord& save,
                              const Progress& progress, const std::string& replaces) {
  return OrderFlow(session, store, record, challenge, solvers, save, progress, replaces).run();
}

challenge::Solver& SolverPool::get(const challenge::Settings& settings, const std::string& type) {
  std::lock_guard guard(mutex_);
  std::string key;
  if (type == "dns-01") {
    const challenge::DnsSettings& dns = settings.dns;
    if (!dns.configured())
      throw Error(ErrorKind::invalid_input, "a wildcard name needs dns-01, and no dns-01 method is configured",
                  "give the domain one: --dns-rfc2136 SERVER --tsig-key NAME --tsig-secret '$ENV:VAR', "
                  "--dns-hook PROGRAM or --dns-manual (or set challenge.dns_rfc2136 / challenge.dns_hook in config.toml)");
    key = fmt::format("dns {}|{}|{}|{}|{}|{}|{}|{}|{}", dns.provider(), dns.rfc2136_server, dns.hook, dns.tsig_key,
                      dns.tsig_secret, dns.tsig_algorithm, dns.zone, dns.propagation,
                      dns.propagation_timeout_seconds.value_or(0));
  } else {
    key = settings.http.webroot.empty() ? "listen " + settings.http.listen : "webroot " + settings.http.webroot;
  }
  auto& solver = solvers_[key];
  if (!solver) {
    try {
      if (type == "dns-01") {
        challenge::DnsContext context{environment_.resolver, environment_.getenv, progress_, environment_.interactive};
        solver = challenge::make_dns_solver(settings.dns, context);
      } else {
        solver = challenge::make_http_solver(settings.http);
      }
    } catch (...) {
      solvers_.erase(key);
      throw;
    }
  }
  return *solver;
}

void SolverPool::prepare(const store::DomainRecord& record, const challenge::Settings& settings) {
  std::vector<std::string> types;
  for (const auto& name : record.names) {
    std::string type = settings.type_for(name);
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }
  for (const auto& type : types) get(settings, type);
}

}  // namespace certcli::lifecycle::steps
