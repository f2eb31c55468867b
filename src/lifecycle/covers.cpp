// `certcli covers HOST`: which managed certificates cover a host name, and whether each is valid
// now. Reads the records only (the SANs kept at install), parsing a certificate only for a
// record from before covered_names was kept.
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/transfer.hpp>

#include <algorithm>

namespace certcli::lifecycle {

std::optional<std::string> covering_name(const std::vector<std::string>& certificate_names, std::string_view host) {
  // An exact name first (which also lets "*.example.com" answer for itself), then a wildcard.
  for (const auto& name : certificate_names)
    if (name == host) return name;
  for (const auto& name : certificate_names)
    if (is_wildcard(name) && covers(name, host)) return name;
  return std::nullopt;
}

bool CoversReport::covered() const {
  return std::any_of(matches.begin(), matches.end(), [](const CoverMatch& m) { return m.valid_now; });
}

CoversReport find_covering(const store::Store& store, const Clock& clock, std::string_view host) {
  CoversReport report;
  report.host = normalize_name(host);
  const TimePoint now = clock.now();
  for (const auto& record : store.list_domains()) {
    std::vector<std::string> sans = record.covered_names;
    std::optional<TimePoint> not_before = record.not_before;
    std::optional<TimePoint> not_after = record.expires_at;
    std::string serial = record.serial;
    if (sans.empty()) {
      auto leaf = store.load_live_leaf(record.name);
      if (!leaf) continue;
      crypto::CertificateInfo info = crypto::parse_certificate(*leaf);
      sans = info.sans;
      not_before = info.not_before;
      not_after = info.not_after;
      serial = info.serial_hex;
    }
    auto name = covering_name(sans, report.host);
    if (!name) continue;
    CoverMatch match;
    match.domain = record.name;
    match.certificate_name = *name;
    match.status = store::to_string(record.status);
    match.management = record.management;
    match.serial = serial;
    match.not_before = not_before;
    match.not_after = not_after;
    match.valid_now = not_after && now < *not_after && (!not_before || *not_before <= now);
    report.matches.push_back(std::move(match));
  }
  return report;
}

}  // namespace certcli::lifecycle
