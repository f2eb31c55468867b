// Adding, changing, removing, restoring and purging domains, and reporting what they hold.
#include "lifecycle/steps.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>
#include <certcli/order_options.hpp>
#include <certcli/renewal.hpp>
#include <certcli/verify.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace certcli::lifecycle {
namespace {

constexpr std::chrono::seconds kLockWait{30};

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

bool challenge_given(const challenge::Settings& s) {
  const auto& d = s.dns;
  return s.http.given() || d.configured() || !d.tsig_key.empty() || !d.tsig_secret.empty() ||
         !d.tsig_algorithm.empty() || !d.zone.empty() || !d.alias.empty() || !d.propagation.empty() ||
         d.propagation_timeout_seconds || d.propagation_interval_seconds || d.ttl || d.hook_timeout_seconds;
}

bool dns_given(const challenge::DnsSettings& d) {
  challenge::Settings only_dns;
  only_dns.dns = d;
  return challenge_given(only_dns);
}

auto fields(const challenge::Settings& s) {
  const auto& d = s.dns;
  return std::tie(s.http.listen, s.http.webroot, s.http.serve, d.rfc2136_server, d.hook, d.manual, d.tsig_key, d.tsig_secret,
                  d.tsig_algorithm, d.zone, d.alias, d.propagation, d.propagation_timeout_seconds,
                  d.propagation_interval_seconds, d.ttl, d.hook_timeout_seconds);
}

bool same_settings(const challenge::Settings& a, const challenge::Settings& b) { return fields(a) == fields(b); }

void check_key_type(const std::string& key_type) {
  if (!crypto::parse_key_type(key_type))
    throw Error(ErrorKind::invalid_input, fmt::format("key type '{}' is not known", key_type),
                "use one of ec256, ec384, rsa2048, rsa3072, rsa4096");
}

void check_buffer_days(int days) {
  if (days < 1 || days > 365)
    throw Error(ErrorKind::invalid_input, fmt::format("a renewal buffer of {} days is not between 1 and 365", days),
                "give the number of days before expiry at which to renew, e.g. 30");
}

void check_name_count(const store::DomainRecord& record) {
  // RFC 8555 does not cap names per order, but every public CA does; Let's Encrypt allows 100.
  if (record.names.size() > 100)
    throw Error(ErrorKind::invalid_input, fmt::format("{} names are more than the 100 a certificate may hold", record.names.size()),
                "split the names over several domain entries", record.name);
}

// A wildcard name can only be validated through dns-01: the domain's own settings or config.toml's.
void check_wildcards(const store::DomainRecord& record, const challenge::Settings& fallback) {
  const challenge::Settings effective = challenge::merge_settings(record.challenge, fallback);
  for (const auto& name : record.names) {
    // RFC 8738 7: an IP address is validated by http-01 (or tls-alpn-01), never by DNS.
    if (is_wildcard(name) && is_ip_address(name.substr(2)))
      throw Error(ErrorKind::invalid_input, fmt::format("{} is a wildcard over an IP address, which no certificate holds", name),
                  "leave out --wildcard for an IP address", name);
    if (is_ip_address(name) && effective.type_for(name) == "dns-01")
      throw Error(ErrorKind::invalid_input,
                  fmt::format("{} is an IP address, which only http-01 can validate, and this domain would use dns-01", name),
                  "give the domain an http-01 setting (--http-listen ADDR:PORT or --webroot DIR); dns-01 cannot prove "
                  "control of an IP address (RFC 8738)",
                  name);
  }
  for (const auto& name : record.names)
    if (is_wildcard(name) && !effective.dns.configured())
      throw Error(ErrorKind::invalid_input, fmt::format("{} is a wildcard name, which only dns-01 can validate", name),
                  "give a dns-01 method with it: --dns-rfc2136 SERVER --tsig-key NAME --tsig-secret '$ENV:VAR', "
                  "--dns-hook PROGRAM or --dns-manual (or set challenge.dns_rfc2136 or challenge.dns_hook in config.toml)",
                  name);
}

void add_name(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

// An existing domain: the names it lacks are added, nothing else changes.
AddDomainResult extend_domain(store::Store& store, const Clock& clock, store::DomainRecord existing,
                              const store::DomainRecord& asked, const AddDomainRequest& request) {
  std::vector<std::string> added;
  for (const auto& name : asked.names)
    if (std::find(existing.names.begin(), existing.names.end(), name) == existing.names.end()) added.push_back(name);
  if (added.empty()) return {existing, false, {}, {}};
  if (challenge_given(request.challenge) && !same_settings(request.challenge, existing.challenge))
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} is already added with other challenge settings ({})", existing.name,
                            challenge::describe(existing.challenge)),
                fmt::format("adding names changes nothing else: change the settings with certcli domain set {} "
                            "(same challenge options), then add the names",
                            existing.name),
                existing.name);
  for (const auto& name : added) existing.names.push_back(name);
  check_name_count(existing);
  check_wildcards(existing, request.default_challenge);
  existing.last_updated_at = clock.now();
  store.save_domain(existing);
  steps::log_event(store, clock, "domain.changed", existing.name, {{"added_names", added}, {"names", existing.names}});
  return {existing, false, added, {}};
}

// A removed copy of the same names whose certificate is still valid comes back as ready.
std::optional<AddDomainResult> restore_if_still_valid(store::Store& store, const Clock& clock,
                                                      const store::DomainRecord& asked, const AddDomainRequest& request) {
  auto removed = store.newest_removed(asked.name);
  if (!removed || !removed->record || !removed->live_certificate) return std::nullopt;
  if (sorted(removed->record->names) != sorted(asked.names)) return std::nullopt;
  crypto::CertificateInfo info;
  try {
    info = crypto::parse_certificate(*removed->live_certificate);
  } catch (const Error&) {
    return std::nullopt;
  }
  const TimePoint now = clock.now();
  if (now < info.not_before || now >= info.not_after || !renewal::names_not_covered(asked.names, info.sans).empty())
    return std::nullopt;

  std::string from = store.restore_domain(asked.name);
  store::DomainRecord record = *store.load_domain(asked.name);
  if (challenge_given(request.challenge)) record.challenge = request.challenge;
  if (request.buffer_days) record.renewal.buffer_days = request.buffer_days;
  if (!request.deploy_hook.empty()) record.renewal.deploy_hook = request.deploy_hook;
  if (request.require_ownership && !record.verification.require_ownership) {
    record.verification.require_ownership = true;
    new_ownership_token(record, now);
  }
  // What was in flight when it was removed is not wanted any more: the valid certificate is.
  record.status = store::CertificateStatus::ready;
  record.phase = store::IssuePhase::completed;
  record.error.reset();
  record.order_url.clear();
  record.renewal.failures = 0;
  record.renewal.next_attempt_at.reset();
  record.serial = info.serial_hex;
  record.fingerprint = info.sha256_fingerprint;
  record.not_before = info.not_before;
  record.expires_at = info.not_after;
  record.covered_names = info.sans;
  record.last_updated_at = now;
  store.save_domain(record);
  store.remove_pending_key(record.name);
  steps::log_event(store, clock, "domain.restored", record.name,
                   {{"from", from}, {"by", "domain add"}, {"serial", info.serial_hex},
                    {"expires_at", format_rfc3339(info.not_after)}});
  return AddDomainResult{record, true, {}, from};
}

}  // namespace

store::DomainRecord require_domain(const store::Store& store, const std::string& name) {
  std::string normalized = normalize_name(name);
  auto record = store.load_domain(normalized);
  if (!record)
    throw Error(ErrorKind::not_found, fmt::format("domain {} has not been added", normalized),
                fmt::format("add it first: certcli domain add {}", normalized), normalized);
  return *record;
}

AddDomainResult add_domain(store::Store& store, const Clock& clock, const AddDomainRequest& request) {
  store::DomainRecord record;
  record.name = normalize_name(request.name);
  record.names.push_back(record.name);
  for (const auto& extra : request.extra_names) add_name(record.names, normalize_name(extra));
  check_key_type(request.key_type);
  record.key_type = request.key_type;
  if (request.buffer_days) check_buffer_days(*request.buffer_days);
  record.renewal.buffer_days = request.buffer_days;
  record.renewal.deploy_hook = request.deploy_hook;
  check_profile_name(request.order.profile, "--profile");
  check_profile_name(request.order.preferred_profile, "--preferred-profile");
  check_chain_name(request.order.preferred_chain);
  record.order = request.order;
  record.order.csr.clear();
  if (request.wildcard) {
    // --wildcard on "*.example.com" adds nothing new; on "example.com" it adds "*.example.com".
    std::string base = is_wildcard(record.name) ? record.name.substr(2) : record.name;
    for (const std::string& name : {base, "*." + base}) add_name(record.names, name);
  }
  check_name_count(record);
  challenge::check_settings(request.challenge);
  record.challenge = request.challenge;
  // A webroot that does not exist or a listen address without a port is refused now, not
  // at the first issue. Whether the port is free is a question for the moment of issuing.
  if (record.challenge.http.given())
    challenge::check_http01_settings(record.challenge.http.webroot, record.challenge.http.listen, /*try_listening=*/false);

  // The domain's lock first (an issue may be running on it), then the state lock.
  auto domain_lock = store.lock_domain(record.name, kLockWait);
  auto lock = store.lock(kLockWait);
  if (auto existing = store.load_domain(record.name)) return extend_domain(store, clock, *existing, record, request);
  check_wildcards(record, request.default_challenge);
  if (auto restored = restore_if_still_valid(store, clock, record, request)) return *restored;
  if (request.require_ownership) {
    record.verification.require_ownership = true;
    new_ownership_token(record, clock.now());
  }
  record.created_at = clock.now();
  record.last_updated_at = record.created_at;
  store.save_domain(record);
  steps::log_event(store, clock, "domain.added", record.name, {{"names", record.names}});
  return {record, true, {}, {}};
}

std::string remove_domain(store::Store& store, const Clock& clock, const std::string& name) {
  store::DomainRecord record = require_domain(store, name);
  auto domain_lock = store.lock_domain(record.name, kLockWait);  // not while it is being issued
  auto lock = store.lock(kLockWait);
  std::string moved_to = store.remove_domain(record.name, format_compact_utc(clock.now()));
  steps::log_event(store, clock, "domain.removed", record.name, {{"moved_to", moved_to}});
  return moved_to;
}

RestoreResult restore_domain(store::Store& store, const Clock& clock, const std::string& name) {
  const std::string normalized = normalize_name(name);
  auto domain_lock = store.lock_domain(normalized, kLockWait);
  auto lock = store.lock(kLockWait);
  if (store.load_domain(normalized))
    throw Error(ErrorKind::invalid_input, fmt::format("{} is managed again, so there is nothing to restore it over", normalized),
                fmt::format("see it with certcli domain show {0}; to bring the removed copy back instead, "
                            "certcli domain remove {0} first",
                            normalized),
                normalized);
  if (!store.newest_removed(normalized))
    throw Error(ErrorKind::not_found, fmt::format("{} was never removed: there is nothing to restore", normalized),
                fmt::format("add it: certcli domain add {}", normalized), normalized);
  RestoreResult result;
  result.restored_from = store.restore_domain(normalized);
  result.record = require_domain(store, normalized);
  steps::log_event(store, clock, "domain.restored", normalized, {{"from", result.restored_from}, {"by", "domain restore"}});
  return result;
}

std::vector<std::string> purge_domain(store::Store& store, const Clock& clock, const std::string& name) {
  const std::string normalized = normalize_name(name);
  const bool managed = store.load_domain(normalized).has_value();
  if (!managed && !store.newest_removed(normalized))
    throw Error(ErrorKind::not_found, fmt::format("there is nothing of {} to delete", normalized),
                "certcli domain list shows the domains certcli keeps", normalized);
  // Only a managed domain can be in the middle of an issue; its lock would be left behind for
  // a name that has only removed copies.
  std::unique_ptr<store::Lock> domain_lock;
  if (managed) domain_lock = store.lock_domain(normalized, kLockWait);
  auto lock = store.lock(kLockWait);
  std::vector<std::string> deleted = store.purge_domain(normalized, format_compact_utc(clock.now()));
  steps::log_event(store, clock, "domain.purged", normalized, {{"deleted", deleted}});
  return deleted;
}

SetDomainResult set_domain(store::Store& store, const Clock& clock, const SetDomainRequest& request) {
  // What can be checked without the record, before any lock.
  if (request.key_type) check_key_type(*request.key_type);
  if (request.live_key && *request.live_key != "plain" && *request.live_key != "encrypted" && *request.live_key != "default")
    throw Error(ErrorKind::invalid_input, fmt::format("--live-key '{}' is not known", *request.live_key),
                "use plain (the live key in clear, for a web server that cannot read an encrypted one), encrypted, "
                "or default (config.toml's keys.live_key)");
  if (request.buffer_days && *request.buffer_days != 0) check_buffer_days(*request.buffer_days);
  if (request.challenge) challenge::check_settings(*request.challenge);
  if (request.profile) check_profile_name(*request.profile, "--profile");
  if (request.preferred_profile) check_profile_name(*request.preferred_profile, "--preferred-profile");
  if (request.preferred_chain) check_chain_name(*request.preferred_chain);
  const std::string normalized = normalize_name(request.name);
  require_domain(store, normalized);

  auto domain_lock = store.lock_domain(normalized, kLockWait);
  store::DomainRecord record = require_domain(store, normalized);
  SetDomainResult result;
  if (request.key_type && *request.key_type != record.key_type) {
    result.changes.push_back({"key_type", record.key_type, *request.key_type});
    record.key_type = *request.key_type;
  }
  if (request.challenge) {
    challenge::Settings changed = record.challenge;
    if (request.challenge->http.given()) changed.http = request.challenge->http;
    if (dns_given(request.challenge->dns)) changed.dns = request.challenge->dns;
    if (!same_settings(changed, record.challenge)) {
      challenge::check_settings(changed);
      if (changed.http.given())
        challenge::check_http01_settings(changed.http.webroot, changed.http.listen, /*try_listening=*/false);
      result.changes.push_back({"challenge", challenge::describe(record.challenge), challenge::describe(changed)});
      record.challenge = changed;
    }
  }
  check_wildcards(record, request.default_challenge);
  if (request.buffer_days) {
    std::optional<int> days = *request.buffer_days == 0 ? std::nullopt : request.buffer_days;
    auto text = [](std::optional<int> d) { return d ? fmt::format("{} days", *d) : std::string("default"); };
    if (days != record.renewal.buffer_days) {
      result.changes.push_back({"buffer_days", text(record.renewal.buffer_days), text(days)});
      record.renewal.buffer_days = days;
    }
  }
  if (request.deploy_hook && *request.deploy_hook != record.renewal.deploy_hook) {
    // A hook is a shell command and may carry a password: it is said to have changed, not repeated.
    auto text = [](const std::string& hook) { return hook.empty() ? std::string("none") : std::string("set"); };
    result.changes.push_back({"deploy_hook", text(record.renewal.deploy_hook),
                              request.deploy_hook->empty() ? "none" : record.renewal.deploy_hook.empty() ? "set" : "changed"});
    record.renewal.deploy_hook = *request.deploy_hook;
  }
  auto set_text = [&](const char* setting, const std::optional<std::string>& asked, std::string& current) {
    if (!asked || *asked == current) return;
    result.changes.push_back({setting, current.empty() ? "none" : current, asked->empty() ? "none" : *asked});
    current = *asked;
  };
  set_text("profile", request.profile, record.order.profile);
  set_text("preferred_profile", request.preferred_profile, record.order.preferred_profile);
  set_text("preferred_chain", request.preferred_chain, record.order.preferred_chain);
  if (request.reuse_key && *request.reuse_key != record.order.reuse_key) {
    result.changes.push_back({"reuse_key", record.order.reuse_key ? "yes" : "no", *request.reuse_key ? "yes" : "no"});
    record.order.reuse_key = *request.reuse_key;
  }
  if (request.live_key) {
    std::string wanted = *request.live_key == "default" ? std::string() : *request.live_key;
    if (wanted != record.live_key) {
      result.changes.push_back({"live_key", record.live_key.empty() ? "default" : record.live_key, *request.live_key});
      record.live_key = wanted;
    }
  }
  if (request.drop_csr && !record.order.csr.empty()) {
    result.changes.push_back({"csr", "the operator's", "certcli's own"});
    record.order.csr.clear();
  }
  if (!result.changes.empty()) {
    record.last_updated_at = clock.now();
    store.save_domain(record);
    if (request.live_key) store.apply_live_key_setting(record.name);
    nlohmann::json changes = nlohmann::json::array();
    for (const auto& change : result.changes)
      changes.push_back({{"setting", change.setting}, {"before", change.before}, {"after", change.after}});
    steps::log_event(store, clock, "domain.changed", record.name, {{"changes", changes}});
  }
  result.record = std::move(record);
  return result;
}

std::vector<DomainStatus> domain_status(const store::Store& store, const std::string& name,
                                        std::vector<store::UnreadableDomain>* unreadable) {
  std::vector<store::DomainRecord> records;
  if (name.empty() && unreadable) {
    store::DomainListing listing = store.list_domains_and_damage();
    records = std::move(listing.records);
    *unreadable = std::move(listing.unreadable);
  } else if (name.empty())
    records = store.list_domains();
  else
    records.push_back(require_domain(store, name));
  std::vector<DomainStatus> statuses;
  for (auto& record : records) {
    DomainStatus status;
    status.live_location = store.live_location(record.name);
    if (auto leaf = store.load_live_leaf(record.name)) {
      status.live = crypto::parse_certificate(*leaf);
      status.uncovered_names = renewal::names_not_covered(record.names, status.live->sans);
    }
    status.interrupted = record.status == store::CertificateStatus::issuing && !store.is_domain_locked(record.name);
    status.record = std::move(record);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

DomainDetails domain_details(const store::Store& store, const std::string& name) {
  DomainDetails details;
  details.status = std::move(domain_status(store, name).front());
  const store::DomainRecord& record = details.status.record;
  for (const auto& n : record.names) {
    NameDetail detail;
    detail.name = n;
    if (details.status.live)
      detail.covered = std::find(details.status.uncovered_names.begin(), details.status.uncovered_names.end(), n) ==
                       details.status.uncovered_names.end();
    for (const auto& check : record.verification.names)
      if (check.name == n) detail.check = check;
    details.names.push_back(std::move(detail));
  }
  for (const auto& archived : store.list_archive(record.name)) {
    ArchiveVersion version;
    version.version = archived.version;
    version.live = archived.live;
    try {
      version.certificate = crypto::parse_certificate(archived.certificate);
    } catch (const Error& error) {
      version.error = error.what();
    }
    details.archive.push_back(std::move(version));
  }
  return details;
}

}  // namespace certcli::lifecycle
