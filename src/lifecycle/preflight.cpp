// The checks of `certcli verify`, run by issue and renew before anything is ordered.
#include "lifecycle/steps.hpp"

#include <certcli/verify.hpp>

namespace certcli::lifecycle::steps {

void run_preflight(const store::DomainRecord& record, const challenge::Settings& settings,
                   const ChallengeEnvironment& environment, Session& session, SolverPool& solvers,
                   const Progress& progress) {
  if (environment.skip_preflight) return;
  // A name that does not resolve, a webroot the web server does not serve, a CAA record naming
  // another CA would each cost a failed authorization at the CA (and count against its limits).
  if (progress) progress("checking DNS, HTTP reachability and CAA before ordering");
  ChallengeEnvironment checks = environment;
  for (const auto& list : {session.client().directory().caa_identities, known_caa_identities(session.ca().directory_url)})
    checks.caa_identities.insert(checks.caa_identities.end(), list.begin(), list.end());
  // The probe goes through the very solver the order will use: a standalone listener is bound
  // once, and a webroot probe lands where the CA's file will.
  auto http_solver = [&](const challenge::HttpSettings& http) -> challenge::Solver& {
    challenge::Settings only_http;
    only_http.http = http;
    return solvers.get(only_http, "http-01");
  };
  require_passed(run_checks(record, settings, checks, http_solver));
}

}  // namespace certcli::lifecycle::steps
