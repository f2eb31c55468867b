// `issue`: one stored domain, its CA, its account, the order flow and the install step (see
// steps.hpp), with every precondition checked before anything is written or asked of the CA.
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>

#include <fmt/format.h>

namespace certcli::lifecycle {
namespace {

// The CA named on the command line, else the one the domain was last ordered from (so a
// domain tried on staging never moves to production unasked), else Let's Encrypt.
CaSelection choose_ca(const IssueRequest& request, const store::DomainRecord& record) {
  if (request.ca) return *request.ca;
  if (!record.directory_url.empty()) return select_ca("", record.directory_url, false);
  if (request.default_ca) return *request.default_ca;
  return select_ca("", "", false);
}

}  // namespace

challenge::Settings effective_challenge(const store::DomainRecord& record, const challenge::Settings& fallback) {
  return challenge::merge_settings(record.challenge, fallback);
}

IssueResult issue_certificate(store::Store& store, Clock& clock, net::HttpTransport& http, const IssueRequest& request,
                              const Progress& progress) {
  // Preconditions first; nothing is written until they hold.
  store::DomainRecord record = require_domain(store, request.name);
  if (request.challenge) {
    challenge::check_settings(*request.challenge);
    record.challenge = *request.challenge;
  }
  steps::check_contacts(request.contacts);
  // A webroot that does not exist, a port that is taken or a TSIG secret that is not set would
  // fail only after an account and an order were made: the solvers are made first, so a
  // refused run asks the CA nothing and leaves the domain (and its valid certificate) as it was.
  const challenge::Settings challenge = effective_challenge(record, request.default_challenge);
  steps::SolverPool solvers(request.environment, progress);
  solvers.prepare(record, challenge);
  const steps::AccountOptions account{request.contacts, request.agree_to_terms, request.account_key_type};
  steps::Session session(store, clock, http, choose_ca(request, record), request.time_budget);
  if (progress) progress(fmt::format("contacting {}", session.ca().directory_url));
  session.refuse_unagreed_registration(account);
  steps::run_preflight(record, challenge, request.environment, session, solvers, progress);

  // This domain's lock for the whole run: runs for other domains go on meanwhile.
  auto domain_lock = store.lock_domain(record.name, std::chrono::seconds{60});
  record = require_domain(store, request.name);  // re-read: another run may have finished meanwhile
  if (request.challenge) record.challenge = *request.challenge;
  if (request.deploy_hook) record.renewal.deploy_hook = *request.deploy_hook;
  {
    auto state_lock = store.lock(std::chrono::seconds{60});  // accounts are shared by every domain
    session.load_or_register(account, progress);
  }

  auto save = [&] {
    record.last_updated_at = clock.now();
    store.save_domain(record);
  };
  record.status = store::CertificateStatus::issuing;
  record.phase = store::IssuePhase::starting;
  record.error.reset();
  save();
  steps::log_event(store, clock, "issue.started", record.name, {{"ca", session.ca().directory_url}});
  try {
    steps::ObtainedCertificate obtained = steps::run_order(session, store, record, challenge, solvers, save, progress);
    IssueResult result;
    result.certificate = steps::install(store, clock, record, obtained.key, obtained.chain_pem,
                                        !session.client().directory().renewal_info.empty());
    result.record = record;
    result.live_location = store.live_location(record.name);
    result.account_url = session.client().account_url();
    result.account_created = session.account_created();
    result.order_resumed = obtained.order_resumed;
    result.acme_requests = session.client().request_count();
    const std::string& hook = !record.renewal.deploy_hook.empty() ? record.renewal.deploy_hook : request.default_deploy_hook;
    if (!hook.empty()) {
      if (progress) progress("running the deploy hook");
      result.hook = steps::run_deploy_hook(hook, record, result.live_location, request.deploy_hook_timeout);
      steps::log_event(store, clock, result.hook->succeeded ? "hook.succeeded" : "hook.failed", record.name,
                       {{"detail", result.hook->detail}});
    }
    return result;
  } catch (const Error& error) {
    steps::record_failure(store, clock, record, error, "issue");
    throw;
  } catch (const std::exception& error) {
    steps::record_failure(store, clock, record, Error(ErrorKind::internal, error.what()), "issue");
    throw;
  }
}

}  // namespace certcli::lifecycle
