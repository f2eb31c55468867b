// certcli/renewal.hpp — renewal policy as pure functions of a domain record and a time: when a
// certificate is due, how long a failed renewal backs off, which expiry alerts are owed. No
// clock, no files, no network: every rule is stated by a unit test in one line.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/store.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certcli::renewal {

struct Policy {
  std::optional<int> buffer_days;  // renew when fewer days are left (domain, else config.toml)
};

struct DueDecision {
  bool due = false;
  std::string reason;                // "inside the CA's renewal window (ARI)", "12 days left, buffer is 30", ...
  std::optional<TimePoint> due_at;   // when it becomes due (or became due)
};

// The names of `names` that no name of `certificate_names` covers (certcli::covers: a wildcard
// covers one label, never its apex), in their order.
std::vector<std::string> names_not_covered(const std::vector<std::string>& names,
                                           const std::vector<std::string>& certificate_names);

// In this order (README "Renewal"): at once when the record holds names its live certificate
// does not cover (domain add --san on an existing domain; record.covered_names, kept at
// install, so nothing is parsed); the point chosen inside the CA's ARI window when the record
// holds one; else fewer than buffer_days left when set; else less than a third of the lifetime
// left, or less than half of it for a certificate valid under ten days. A record without a
// certificate is due at once. Reads only the record: no certificate is parsed.
DueDecision renewal_due(const store::DomainRecord& record, TimePoint now, const Policy& policy);

// The wait after the n-th consecutive failure (n >= 1): 1 h, 2 h, 4 h, ... capped at 24 h.
std::chrono::seconds backoff_after(int failures);

// The alert thresholds (days left) crossed and not yet posted for the live certificate, most
// urgent first: at 5 days left with nothing sent, {7, 14, 30}. The caller posts one event for
// the first and records them all, so each threshold is posted once per certificate.
std::vector<int> alerts_owed(const store::DomainRecord& record, TimePoint now, std::vector<int> thresholds_days);

// Whole days left (rounded down; negative once expired).
int days_left(TimePoint expires_at, TimePoint now);

}  // namespace certcli::renewal
