// `issue`: one stored domain, its CA, its account, the order flow and the install step (see
// steps.hpp), with every precondition checked before anything is written or asked of the CA.
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/order_options.hpp>
#include <certcli/pin.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

// --csr: the request's signature verified, its names (CN and SANs) exactly the domain's.
// Returns what the record keeps of it (base64url DER).
std::string checked_csr(const std::string& csr_bytes, const store::DomainRecord& record) {
  crypto::CsrInfo csr = crypto::parse_csr(csr_bytes);
  std::vector<std::string> names;
  for (const auto& name : csr.names) {
    try {
      names.push_back(normalize_name(name));
    } catch (const Error& error) {
      throw Error(ErrorKind::invalid_input, fmt::format("the CSR names '{}', which is not a valid name: {}", name, error.what()),
                  "make the CSR again with the domain's names", record.name);
    }
  }
  NameDifference difference = compare_names(names, record.names);
  if (!difference.same()) {
    std::vector<std::string> parts;
    if (!difference.only_in_csr.empty())
      parts.push_back(fmt::format("the CSR names {}, which {} does not", fmt::join(difference.only_in_csr, ", "), record.name));
    if (!difference.only_in_domain.empty())
      parts.push_back(fmt::format("{} has {}, which the CSR lacks", record.name, fmt::join(difference.only_in_domain, ", ")));
    throw Error(ErrorKind::invalid_input, fmt::format("the CSR does not ask for the names of {}: {}", record.name, fmt::join(parts, "; ")),
                fmt::format("make the CSR with exactly the names {} (the CN may be one of them), or change the domain's "
                            "names to the CSR's",
                            fmt::join(record.names, ", ")),
                record.name);
  }
  return crypto::base64url_encode(csr.der);
}

// The order settings of this run, saved with the domain.
void apply_order_request(const IssueRequest& request, const std::string& csr, store::DomainRecord& record) {
  if (request.profile) record.order.profile = *request.profile;
  if (request.preferred_profile) record.order.preferred_profile = *request.preferred_profile;
  if (request.preferred_chain) record.order.preferred_chain = *request.preferred_chain;
  if (!csr.empty()) record.order.csr = csr;
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
  if (request.profile) check_profile_name(*request.profile, "--profile");
  if (request.preferred_profile) check_profile_name(*request.preferred_profile, "--preferred-profile");
  if (request.preferred_chain) check_chain_name(*request.preferred_chain);
  const std::string csr = request.csr.empty() ? std::string() : checked_csr(request.csr, record);
  apply_order_request(request, csr, record);
  steps::check_contacts(request.contacts);
  // A webroot that does not exist, a port that is taken or a TSIG secret that is not set would
  // fail only after an account and an order were made: the solvers are made first, so a
  // refused run asks the CA nothing and leaves the domain (and its valid certificate) as it was.
  const challenge::Settings challenge = effective_challenge(record, request.default_challenge);
  steps::SolverPool solvers(request.environment, progress);
  solvers.prepare(record, challenge);
  steps::AccountOptions account{request.contacts, request.agree_to_terms, request.account_key_type};
  account.eab = request.eab;
  steps::Session session(store, clock, http, choose_ca(request, record), request.time_budget);
  // --account, else the account this domain was last issued with at this CA.
  account.account_name = !request.account_name.empty()                        ? request.account_name
                         : record.directory_url == session.ca().directory_url ? record.account_name
                                                                              : std::string();
  // The CA's rate limits, from certcli's own ledger: refused before any request to the CA.
  if (std::string warning = limits::check_budget(store, clock.now(), session.ca(),
                                                 steps::account_store_id(session.ca(), account.account_name), record,
                                                 /*ari=*/false, request.limits);
      !warning.empty() && progress)
    progress(warning);
  if (progress) progress(fmt::format("contacting {}", session.ca().directory_url));
  session.refuse_unagreed_registration(account);
  // A profile the CA lacks is refused now, before any order (the directory is fetched already).
  choose_profile(session.client().directory().profiles, record.order.profile, record.order.preferred_profile,
                 fmt::format("the CA at {}", session.ca().directory_url));
  steps::run_preflight(record, challenge, request.environment, session, solvers, progress);
  // Pinned clients: the key the new certificate gets, or a refusal before anything is written.
  const pin::KeyPlan key_plan = pin::plan_key(store, record, request.break_pins);
  if (key_plan.decision.pinned && progress) progress(fmt::format("pins: {}", key_plan.decision.reason));

  // This domain's lock for the whole run: runs for other domains go on meanwhile.
  auto domain_lock = store.lock_domain(record.name, std::chrono::seconds{60});
  record = require_domain(store, request.name);  // re-read: another run may have finished meanwhile
  if (request.challenge) record.challenge = *request.challenge;
  if (request.deploy_hook) record.renewal.deploy_hook = *request.deploy_hook;
  apply_order_request(request, csr, record);
  {
    auto state_lock = store.lock(std::chrono::seconds{60});  // accounts are shared by every domain
    session.load_or_register(account, progress);
  }
  record.account_name = account.account_name == "default" ? std::string() : account.account_name;

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
    steps::ObtainedCertificate obtained =
        steps::run_order(session, store, record, challenge, solvers, save, progress, {},
                         request.reuse_key || key_plan.decision.choice == pin::KeyChoice::live, key_plan.backup_key_pem);
    session.save_timing(progress);
    IssueResult result;
    result.certificate =
        steps::install(store, clock, record, obtained, !session.client().directory().renewal_info.empty());
    if (std::string warning = pin::after_install(store, clock, record, key_plan); !warning.empty() && progress)
      progress("warning: " + warning);
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
    session.save_timing(progress);  // a failed order's waits measured the CA too
    steps::record_failure(store, clock, record, error, "issue");
    throw;
  } catch (const std::exception& error) {
    session.save_timing(progress);
    steps::record_failure(store, clock, record, Error(ErrorKind::internal, error.what()), "issue");
    throw;
  }
}

}  // namespace certcli::lifecycle
