// Adding domains and reporting their status.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>
#include <certcli/verify.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle {

store::DomainRecord require_domain(const store::Store& store, const std::string& name) {
  std::string normalized = normalize_domain_name(name);
  auto record = store.load_domain(normalized);
  if (!record)
    throw Error(ErrorKind::not_found, fmt::format("domain {} has not been added", normalized),
                fmt::format("add it first: certcli domain add {}", normalized), normalized);
  return *record;
}

AddDomainResult add_domain(store::Store& store, const Clock& clock, const AddDomainRequest& request) {
  store::DomainRecord record;
  record.name = normalize_domain_name(request.name);
  record.names.push_back(record.name);
  for (const auto& extra : request.extra_names) {
    std::string name = normalize_domain_name(extra);
    if (std::find(record.names.begin(), record.names.end(), name) == record.names.end()) record.names.push_back(name);
  }
  if (!crypto::parse_key_type(request.key_type))
    throw Error(ErrorKind::invalid_input, fmt::format("key type '{}' is not known", request.key_type),
                "use one of ec256, ec384, rsa2048, rsa3072, rsa4096");
  record.key_type = request.key_type;
  if (request.buffer_days && (*request.buffer_days < 1 || *request.buffer_days > 365))
    throw Error(ErrorKind::invalid_input, fmt::format("a renewal buffer of {} days is not between 1 and 365", *request.buffer_days),
                "give the number of days before expiry at which to renew, e.g. 30");
  record.renewal.buffer_days = request.buffer_days;
  record.renewal.deploy_hook = request.deploy_hook;
  if (request.wildcard) {
    // --wildcard on "*.example.com" adds nothing new; on "example.com" it adds "*.example.com".
    std::string base = is_wildcard(record.name) ? record.name.substr(2) : record.name;
    for (const std::string& name : {base, "*." + base})
      if (std::find(record.names.begin(), record.names.end(), name) == record.names.end()) record.names.push_back(name);
  }
  // RFC 8555 does not cap names per order, but every public CA does; Let's Encrypt allows 100.
  if (record.names.size() > 100)
    throw Error(ErrorKind::invalid_input, fmt::format("{} names are more than the 100 a certificate may hold", record.names.size()),
                "split the names over several domain entries", record.name);
  challenge::check_settings(request.challenge);
  record.challenge = request.challenge;
  // A webroot that does not exist or a listen address without a port is refused now, not
  // at the first issue. Whether the port is free is a question for the moment of issuing.
  if (record.challenge.http.given())
    challenge::check_http01_settings(record.challenge.http.webroot, record.challenge.http.listen, /*try_listening=*/false);
  const challenge::Settings effective = challenge::merge_settings(record.challenge, request.default_challenge);
  for (const auto& name : record.names)
    if (is_wildcard(name) && !effective.dns.configured())
      throw Error(ErrorKind::invalid_input, fmt::format("{} is a wildcard name, which only dns-01 can validate", name),
                  "give a dns-01 method with it: --dns-rfc2136 SERVER --tsig-key NAME --tsig-secret '$ENV:VAR', "
                  "--dns-hook PROGRAM or --dns-manual (or set challenge.dns_rfc2136 or challenge.dns_hook in config.toml)",
                  name);
  if (request.require_ownership) {
    record.verification.require_ownership = true;
    new_ownership_token(record, clock.now());
  }

  auto lock = store.lock(std::chrono::seconds{30});
  if (auto existing = store.load_domain(record.name)) {
    auto sorted = [](std::vector<std::string> names) {
      std::sort(names.begin(), names.end());
      return names;
    };
    if (sorted(existing->names) == sorted(record.names)) return {*existing, false};
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} is already added with the names {}", record.name, fmt::join(existing->names, ", ")),
                fmt::format("to change its names: certcli domain remove {0}, then certcli domain add {0} with all of "
                            "them (the old files are kept under removed/)",
                            record.name),
                record.name);
  }
  record.created_at = clock.now();
  record.last_updated_at = record.created_at;
  store.save_domain(record);
  store.append_activity({{"time", format_rfc3339(clock.now())},
                         {"event", "domain.added"},
                         {"domain", record.name},
                         {"names", record.names}});
  return {record, true};
}

std::string remove_domain(store::Store& store, const Clock& clock, const std::string& name) {
  store::DomainRecord record = require_domain(store, name);
  auto domain_lock = store.lock_domain(record.name, std::chrono::seconds{30});  // not while it is being issued
  auto lock = store.lock(std::chrono::seconds{30});
  std::string moved_to = store.remove_domain(record.name, format_compact_utc(clock.now()));
  store.append_activity({{"time", format_rfc3339(clock.now())},
                         {"event", "domain.removed"},
                         {"domain", record.name},
                         {"moved_to", moved_to}});
  return moved_to;
}

std::vector<DomainStatus> domain_status(const store::Store& store, const std::string& name) {
  std::vector<store::DomainRecord> records;
  if (name.empty())
    records = store.list_domains();
  else
    records.push_back(require_domain(store, name));
  std::vector<DomainStatus> statuses;
  for (auto& record : records) {
    DomainStatus status;
    status.live_location = store.live_location(record.name);
    if (auto live = store.load_live_certificate(record.name)) status.live = crypto::parse_certificate(live->certificate);
    status.interrupted = record.status == store::CertificateStatus::issuing && !store.is_domain_locked(record.name);
    status.record = std::move(record);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

}  // namespace certcli::lifecycle
