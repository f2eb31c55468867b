// The RFC 8555 order flow for one stored domain, wrapped in honest state. Order of writes
// matters for crash safety: the order URL is saved before any challenge is answered and the
// certificate key before finalize, so an interrupted run resumes the same order with the same
// key instead of starting over.
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/order_options.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle::steps {
namespace {

using store::CertificateStatus;
using store::IssuePhase;

class OrderFlow {
 public:
  OrderFlow(Session& session, store::Store& store, store::DomainRecord& record, const challenge::Settings& challenge,
            SolverPool& solvers, const SaveRecord& save, const Progress& progress, const std::string& replaces,
            bool reuse_key, const std::string& chosen_key_pem)
      : session_(session),
        client_(session.client()),
        store_(store),
        record_(record),
        challenge_(challenge),
        solvers_(solvers),
        save_(save),
        progress_(progress),
        replaces_(replaces),
        reuse_key_(reuse_key || record.order.reuse_key),
        chosen_key_pem_(chosen_key_pem) {}

  ObtainedCertificate run() {
    set_phase(IssuePhase::ordering);
    std::optional<acme::Order> order = resumable_order();
    std::optional<crypto::SecretString> pending_key = store_.load_pending_key(record_.name);
    bool resumed = order.has_value();
    if (order) {
      say(fmt::format("resuming order {}", order->url));
    } else {
      const ProfileChoice profile = choose_profile(client_.directory().profiles, record_.order.profile,
                                                   record_.order.preferred_profile,
                                                   fmt::format("the CA at {}", session_.ca().directory_url));
      if (!profile.note.empty()) say("note: " + profile.note);
      say(fmt::format("ordering a certificate for {}{}", fmt::join(record_.names, ", "),
                      profile.profile.empty() ? "" : fmt::format(" (profile {})", profile.profile)));
      order = client_.new_order(record_.names, replaces_, profile.profile);
      acme::check_order_identifiers(*order, record_.names, client_.sender());
      pending_key.reset();  // a new order gets a new key
      record_.order_url = order->url;
      record_.directory_url = session_.ca().directory_url;
      note_in_ledger(limits::Event::order);
    }
    save_();
    if (!resumed)
      log_event(store_, session_clock(), "order.created", record_.name,
                {{"order", order->url}, {"names", record_.names}, {"ca", session_.ca().directory_url}});

    set_phase(IssuePhase::validating);
    validate(*order);

    set_phase(IssuePhase::finalizing);
    ObtainedCertificate obtained;
    obtained.order_resumed = resumed;
    std::string csr_der;
    if (!record_.order.csr.empty()) {
      // An operator's CSR: its key is theirs, and the CSR goes to the CA as it is.
      crypto::CsrInfo csr = crypto::parse_csr(crypto::base64url_decode(record_.order.csr));
      csr_der = csr.der;
      obtained.csr_public_key_der = csr.public_key_der;
    } else {
      obtained.key = pending_key ? crypto::PrivateKey::from_pem(pending_key->str()) : new_certificate_key();
      csr_der = crypto::make_csr_der(*obtained.key, record_.names);
    }
    // Every authorization is valid now, so the order is ready (RFC 8555 7.1.6) and finalize
    // needs no fetch first. A CA that updates orders lazily answers orderNotReady: then wait.
    std::optional<std::chrono::steady_clock::time_point> finalized_at;
    if (order->status == "pending" || order->status == "ready") {
      say("finalizing");
      try {
        *order = client_.finalize(*order, csr_der);
        finalized_at = session_clock().steady_now();
      } catch (const acme::AcmeError& e) {
        if (e.problem().short_type() != "orderNotReady") throw;
        *order = client_.wait_for_order(order->url);
        if (order->status == "ready") {
          *order = client_.finalize(*order, csr_der);
          finalized_at = session_clock().steady_now();
        }
      }
    }
    // The first poll goes where this CA usually has issued (or where its Retry-After says); a
    // resumed order of unknown age is polled at once.
    if (order->status == "processing" || order->status == "pending")
      *order = client_.wait_for_order(order->url, finalized_at, order->retry_at);
    if (order->status != "valid" || order->certificate_url.empty())
      throw Error(ErrorKind::ca_rejected,
                  fmt::format("the order ended {}{}", order->status, order->error ? ": " + order->error->describe() : ""),
                  "run the command again to start a new order", record_.name);

    say("downloading the certificate");
    obtained.chain_pem = download(order->certificate_url);
    note_in_ledger(limits::Event::certificate);
    return obtained;
  }

 private:
  // The rate-limit ledger (certcli limits) counts what the CA counts: each new order, and each
  // certificate issued. Its failure is a warning: the CA has counted it either way.
  void note_in_ledger(limits::Event event) {
    const bool ari = !replaces_.empty() && !client_.directory().renewal_info.empty();
    std::string problem = limits::record_event(store_, session_clock().now(), event, session_.ca().directory_url,
                                               client_.account_url(), record_, ari);
    if (!problem.empty()) say("warning: " + problem);
  }

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

  // The default chain, or with a preferred chain the first of the CA's chains whose topmost
  // certificate names it (RFC 8555 7.4.2). The alternates cost a request each, so they are
  // fetched only when a preferred chain is set.
  std::string download(const std::string& certificate_url) {
    const std::string& preferred = record_.order.preferred_chain;
    std::vector<std::string> chains = client_.download_certificate_chains(certificate_url, !preferred.empty());
    if (preferred.empty()) return chains.front();
    if (auto index = preferred_chain_index(chains, preferred)) {
      if (*index != 0) say(fmt::format("keeping the CA's alternate chain {} of {} (issued by {})", *index, chains.size() - 1, preferred));
      return chains[*index];
    }
    say(fmt::format("note: none of the CA's {} chain{} ends at \"{}\"; keeping its default chain", chains.size(),
                    chains.size() == 1 ? "" : "s", preferred));
    return chains.front();
  }

  // A fresh key, or with reuse_key the live certificate's own (kept as the pending key too, so
  // that a resumed order finalizes with the same one).
  crypto::PrivateKey new_certificate_key() {
    if (!chosen_key_pem_.empty()) {
      crypto::PrivateKey key = crypto::PrivateKey::from_pem(chosen_key_pem_);
      store_.save_pending_key(record_.name, key.to_pem());
      say("using the backup key made ahead for pinned clients");
      return key;
    }
    if (reuse_key_) {
      std::optional<store::CertificateFiles> live = store_.load_live_certificate(record_.name);
      if (live && !live->private_key.empty()) {
        const crypto::SecretString live_pem(std::move(live->private_key));
        crypto::PrivateKey key = crypto::PrivateKey::from_pem(live_pem.str());
        store_.save_pending_key(record_.name, crypto::SecretString(key.to_pem()));
        say("reusing the live certificate's key");
        return key;
      }
      say("note: there is no live key to reuse; making a new one");
    }
    auto type = crypto::parse_key_type(record_.key_type).value_or(crypto::KeyType::ec256);
    crypto::PrivateKey key = crypto::PrivateKey::generate(type);
    store_.save_pending_key(record_.name, crypto::SecretString(key.to_pem()));
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
    // A CA decides how many authorizations an order links and what they are for: both are held
    // to the names ordered, the count before any is fetched.
    acme::check_authorization_count(order, record_.names, client_.sender());
    std::vector<std::string> authorized;
    try {
      for (const auto& url : order.authorization_urls) {
        acme::Authorization authz = client_.fetch_authorization(url);
        // RFC 8555 7.1.4: a wildcard's authorization names the base domain with wildcard=true.
        const std::string name = acme::authorized_name(authz);
        acme::check_authorized_name(name, record_.names, authorized, client_.sender());
        authorized.push_back(name);
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
      acme::check_every_name_authorized(record_.names, authorized, client_.sender());
      wait_until_visible(pending);
      // The polls are placed from the last answer, where this CA usually finishes validating
      // (acme::Client::timing), or where its Retry-After says.
      std::optional<TimePoint> retry_at;
      for (const auto& p : pending) {
        if (p.challenge.status != "pending") continue;
        if (auto asked = client_.answer_challenge(p.challenge)) retry_at = std::max(retry_at.value_or(*asked), *asked);
        log_event(store_, session_clock(), "challenge.answered", record_.name,
                  {{"identifier", p.task.identifier}, {"type", p.task.type}, {"solver", p.solver->describe()}});
      }
      const auto answered_at = session_clock().steady_now();
      for (const auto& p : pending) {
        acme::Authorization authz = client_.wait_for_authorization(p.url, answered_at, retry_at);
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
                              // An IPv6 address is bracketed in a URL (RFC 3986 3.2.2).
                              p.task.identifier.find(':') == std::string::npos ? p.task.identifier
                                                                               : "[" + p.task.identifier + "]",
                              p.solver->describe(), record_.name);
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
  const bool reuse_key_;
  const std::string& chosen_key_pem_;
};

}  // namespace

ObtainedCertificate run_order(Session& session, store::Store& store, store::DomainRecord& record,
                              const challenge::Settings& challenge, SolverPool& solvers, const SaveRecord& save,
                              const Progress& progress, const std::string& replaces, bool reuse_key,
                              const std::string& chosen_key_pem) {
  return OrderFlow(session, store, record, challenge, solvers, save, progress, replaces, reuse_key, chosen_key_pem).run();
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
    key = !settings.http.webroot.empty() ? "webroot " + settings.http.webroot
          : settings.http.serve          ? std::string("serve")
                                         : "listen " + settings.http.listen;
  }
  auto& solver = solvers_[key];
  if (!solver) {
    try {
      if (type == "dns-01") {
        challenge::DnsContext context{environment_.resolver, environment_.getenv, progress_, environment_.interactive};
        solver = challenge::make_dns_solver(settings.dns, context);
      } else {
        solver = challenge::make_http_solver(settings.http, environment_.http01_directory);
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
