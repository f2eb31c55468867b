// Internal to lifecycle/: the alert webhook's JSON event and its POST, shared by `check` and
// `renew` (which also posts renewal.failed).
#pragma once

#include <certcli/lifecycle.hpp>

#include <nlohmann/json.hpp>

namespace certcli::lifecycle {

// {event, domain, names, status, time, expires_at, days_left, error}.
nlohmann::json alert_event(const std::string& event, const store::DomainRecord& record, TimePoint now);
// Posts `body`; returns "" on a 2xx answer (or when no webhook is set), else what went wrong.
std::string post_alert(net::HttpTransport& http, const AlertSettings& settings, const nlohmann::json& body);

}  // namespace certcli::lifecycle
