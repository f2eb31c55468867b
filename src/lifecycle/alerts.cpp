// Expiry alerts: a JSON POST per event to the operator's webhook. What was posted is recorded
// in the domain's record, so each threshold goes out once per certificate; a POST that failed
// is not recorded and goes out on the next run.
#include "lifecycle/alerts.hpp"

#include <certcli/error.hpp>
#include <certcli/renewal.hpp>

#include <fmt/format.h>

namespace certcli::lifecycle {

nlohmann::json alert_event(const std::string& event, const store::DomainRecord& record, TimePoint now) {
  nlohmann::json body = {{"event", event},
                         {"domain", record.name},
                         {"names", record.names},
                         {"status", store::to_string(record.status)},
                         {"time", format_rfc3339(now)}};
  body["expires_at"] = record.expires_at ? nlohmann::json(format_rfc3339(*record.expires_at)) : nlohmann::json();
  body["days_left"] = record.expires_at ? nlohmann::json(renewal::days_left(*record.expires_at, now)) : nlohmann::json();
  body["error"] = record.error ? nlohmann::json{{"type", record.error->type}, {"detail", record.error->detail}}
                               : nlohmann::json();
  return body;
}

std::string post_alert(net::HttpTransport& http, const AlertSettings& settings, const nlohmann::json& body) {
  if (settings.webhook_url.empty()) return {};
  try {
    net::HttpResponse response = http.post(settings.webhook_url, "application/json", body.dump());
    if (response.status >= 200 && response.status < 300) return {};
    return fmt::format("the alert webhook answered HTTP {}", response.status);
  } catch (const Error& e) {
    return fmt::format("the alert webhook could not be reached: {}", e.what());
  }
}

std::vector<ExpiryReport> check_expiry(store::Store& store, const Clock& clock, net::HttpTransport& webhook_http,
                                       const AlertSettings& settings, std::vector<store::UnreadableDomain>* unreadable) {
  if (!unreadable) return check_expiry(store, clock, webhook_http, settings, store.list_domains());
  store::DomainListing listing = store.list_domains_and_damage();
  *unreadable = std::move(listing.unreadable);
  return check_expiry(store, clock, webhook_http, settings, listing.records);
}

std::vector<ExpiryReport> check_expiry(store::Store& store, const Clock& clock, net::HttpTransport& webhook_http,
                                       const AlertSettings& settings, const std::vector<store::DomainRecord>& records) {
  std::vector<ExpiryReport> reports;
  const TimePoint now = clock.now();
  for (const store::DomainRecord& record : records) {
    ExpiryReport report;
    report.domain = record.name;
    report.status = store::to_string(record.status);
    report.expires_at = record.expires_at;
    if (record.expires_at) report.days_left = renewal::days_left(*record.expires_at, now);
    std::vector<int> owed = renewal::alerts_owed(record, now, settings.days);
    if (!owed.empty() && !settings.webhook_url.empty()) {
      nlohmann::json body = alert_event("certificate.expiring", record, now);
      body["threshold_days"] = owed.front();
      report.alert_error = post_alert(webhook_http, settings, body);
      if (report.alert_error.empty()) {
        auto lock = store.lock_domain(record.name, std::chrono::seconds{60});
        // Re-read under the lock: a renewal may have replaced the certificate meanwhile.
        auto current = store.load_domain(record.name);
        if (current && current->expires_at == record.expires_at) {
          for (int threshold : owed) current->renewal.alerts_sent.push_back(threshold);
          store.save_domain(*current);
          store.append_activity({{"time", format_rfc3339(now)},
                                 {"event", "alert.sent"},
                                 {"domain", record.name},
                                 {"threshold_days", owed.front()}});
        }
        report.alerts_posted = owed;
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace certcli::lifecycle
