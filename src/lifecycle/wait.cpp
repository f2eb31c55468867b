// `certcli wait`: watches the record another certcli writes until the domain is ready or failed.
// Reads domain.toml and the domain's lock only; never talks to the CA.
#include <certcli/activity.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace certcli::lifecycle {

std::string to_string(WaitOutcome outcome) {
  switch (outcome) {
    case WaitOutcome::ready: return "ready";
    case WaitOutcome::failed: return "failed";
    case WaitOutcome::timed_out: return "timed_out";
  }
  return "timed_out";
}

std::optional<ErrorKind> kind_of_recorded_error(const std::string& type) {
  static constexpr std::string_view kCertcli = "certcli:";
  static constexpr std::string_view kAcme = "urn:ietf:params:acme:error:";
  if (type.starts_with(kCertcli)) {
    std::string kind = type.substr(kCertcli.size());
    std::replace(kind.begin(), kind.end(), '-', '_');
    // The kinds steps::recorded_error_type writes, and the others under their own names.
    static const std::pair<std::string_view, ErrorKind> kKinds[] = {
        {"network", ErrorKind::network},       {"challenge", ErrorKind::challenge},
        {"crypto", ErrorKind::crypto},         {"state", ErrorKind::state},
        {"retry_later", ErrorKind::retry_later}, {"ca_rejected", ErrorKind::ca_rejected},
        {"ca_misbehaved", ErrorKind::ca_rejected}, {"preflight", ErrorKind::preflight},
        {"invalid_input", ErrorKind::invalid_input}, {"not_found", ErrorKind::not_found},
        {"hook_failed", ErrorKind::hook_failed}, {"usage", ErrorKind::usage},
        {"internal", ErrorKind::internal},
    };
    for (const auto& [name, value] : kKinds)
      if (kind == name) return value;
    return std::nullopt;  // "certcli:error": the run knew no more than that it failed
  }
  if (type.starts_with(kAcme)) {
    std::string_view problem = std::string_view(type).substr(kAcme.size());
    // What a validation ends with when the CA could not see the challenge (RFC 8555 8.3, 8.4);
    // `issue` itself exits with the challenge code for these.
    for (std::string_view validation : {"connection", "dns", "incorrectResponse", "unauthorized", "tls"})
      if (problem == validation) return ErrorKind::challenge;
    return ErrorKind::ca_rejected;
  }
  return std::nullopt;
}

WaitResult wait_for_domain(const store::Store& store, Clock& clock, const std::string& name,
                           std::optional<std::chrono::seconds> timeout, std::chrono::seconds interval,
                           const Progress& progress) {
  const store::DomainRecord first = require_domain(store, name);
  const TimePoint started = clock.now();
  interval = std::max(interval, std::chrono::seconds{1});
  bool said_no_run = false;
  bool said_interrupted = false;
  auto say = [&](bool& said, const std::string& line) {
    if (!said && progress) progress(line);
    said = true;
  };

  WaitResult result;
  result.record = first;
  for (bool first_read = true;; first_read = false) {
    if (!first_read) {
      auto record = store.load_domain(first.name);
      if (!record)
        throw Error(ErrorKind::not_found, fmt::format("domain {} was removed while waiting for it", first.name),
                    fmt::format("certcli activity --domain {} shows who removed it", first.name), first.name);
      result.record = std::move(*record);
    }
    const store::DomainRecord& r = result.record;
    const bool run_in_progress = store.is_domain_locked(r.name);
    result.waited = clock.now() - started;
    if (r.status == store::CertificateStatus::ready) {
      result.outcome = WaitOutcome::ready;
      return result;
    }
    // A failed record under a held lock is the previous run's; the new one has just begun.
    if (r.status == store::CertificateStatus::failed && !run_in_progress) {
      result.outcome = WaitOutcome::failed;
      return result;
    }
    if (r.status == store::CertificateStatus::pending && !run_in_progress)
      say(said_no_run, fmt::format("waiting for a certcli issue/renew to run for {}", r.name));
    if (r.status == store::CertificateStatus::issuing && !run_in_progress)
      say(said_interrupted,
          fmt::format("the run issuing {} was interrupted ({}); still waiting: the next certcli issue/renew for it "
                      "resumes it",
                      r.name, store::to_string(r.phase)));
    if (timeout && result.waited >= *timeout) {
      result.outcome = WaitOutcome::timed_out;
      return result;
    }
    std::chrono::seconds pause = interval;
    if (timeout) pause = std::min(pause, std::max(*timeout - result.waited, std::chrono::seconds{1}));
    clock.sleep_for(pause);  // a stop request (Ctrl-C) ends the wait here with Error{interrupted}
  }
}

}  // namespace certcli::lifecycle
