// Renewal policy. See include/certcli/renewal.hpp; the README's "Renewal" section states the
// same rules for operators.
#include <certcli/names.hpp>
#include <certcli/renewal.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::renewal {
namespace {

using namespace std::chrono;
using Days = duration<int64_t, std::ratio<86400>>;

}  // namespace

int days_left(TimePoint expires_at, TimePoint now) {
  return static_cast<int>(floor<Days>(expires_at - now).count());
}

std::vector<std::string> names_not_covered(const std::vector<std::string>& names,
                                           const std::vector<std::string>& certificate_names) {
  std::vector<std::string> missing;
  for (const auto& name : names)
    if (std::none_of(certificate_names.begin(), certificate_names.end(),
                     [&](const std::string& held) { return covers(held, name); }))
      missing.push_back(name);
  return missing;
}

DueDecision renewal_due(const store::DomainRecord& record, TimePoint now, const Policy& policy) {
  if (!record.expires_at) return {true, "there is no certificate yet", now};
  // A revoked certificate no longer serves anyone: it is replaced at once, whatever ARI says.
  if (record.revoked_at) return {true, "the certificate was revoked", now};
  // Records from before covered_names was kept say nothing about coverage: not a reason then.
  if (!record.covered_names.empty()) {
    std::vector<std::string> missing = names_not_covered(record.names, record.covered_names);
    if (!missing.empty()) return {true, fmt::format("names not covered: {}", fmt::join(missing, ", ")), now};
  }
  const TimePoint expires = *record.expires_at;
  if (record.renewal.ari_renew_at) {
    TimePoint at = *record.renewal.ari_renew_at;
    return {now >= at, now >= at ? "inside the CA's renewal window (ARI)" : "the CA's renewal window (ARI) lies ahead", at};
  }
  if (policy.buffer_days) {
    TimePoint at = expires - Days{*policy.buffer_days};
    return {now >= at, fmt::format("{} days left, renewal buffer {} days", days_left(expires, now), *policy.buffer_days), at};
  }
  // Without a recorded start the issue time stands in (records from before not_before was kept).
  const TimePoint start = record.not_before ? *record.not_before : record.issued_at.value_or(expires - Days{90});
  const seconds lifetime = expires - start;
  // A short-lived certificate (Let's Encrypt's six-day profile) keeps half its life as margin,
  // so one failed day still leaves time to retry; longer ones a third (30 of 90 days).
  const bool short_lived = lifetime < Days{10};
  const seconds margin = short_lived ? lifetime / 2 : lifetime / 3;
  const TimePoint at = expires - margin;
  return {now >= at,
          fmt::format("{} days left of {}, renewing with {} left", days_left(expires, now),
                      floor<Days>(lifetime).count(), short_lived ? "half" : "a third"),
          at};
}

seconds backoff_after(int failures) {
  constexpr seconds kLongest = hours{24};
  if (failures <= 1) return hours{1};
  if (failures >= 6) return kLongest;  // 2^5 h > 24 h
  return std::min<seconds>(hours{1} * (1 << (failures - 1)), kLongest);
}

std::vector<int> alerts_owed(const store::DomainRecord& record, TimePoint now, std::vector<int> thresholds_days) {
  std::vector<int> owed;
  if (!record.expires_at) return owed;
  const int left = days_left(*record.expires_at, now);
  std::sort(thresholds_days.begin(), thresholds_days.end());
  for (int threshold : thresholds_days) {
    bool sent = std::find(record.renewal.alerts_sent.begin(), record.renewal.alerts_sent.end(), threshold) !=
                record.renewal.alerts_sent.end();
    if (left < threshold && !sent) owed.push_back(threshold);
  }
  return owed;
}

}  // namespace certcli::renewal
