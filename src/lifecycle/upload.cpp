// `certcli upload`: an operator's own certificate (EV, a corporate CA, one bought elsewhere)
// becomes a domain's live certificate. Every check runs before anything is written, so a refused
// upload leaves the state directory byte-identical; the domain then is self-managed: renew skips
// it, status shows it and alerts still warn before it expires.
#include "lifecycle/steps.hpp"

#include <certcli/bundle.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/transfer.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::lifecycle {
namespace {

constexpr std::chrono::seconds kLockWait{30};

void add_unique(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

// The names a new domain takes from its certificate: NAME first, then every SAN certcli accepts.
std::vector<std::string> names_from_certificate(const std::string& primary, const std::vector<std::string>& sans) {
  std::vector<std::string> names{primary};
  for (const auto& san : sans) {
    try {
      add_unique(names, normalize_name(san));
    } catch (const Error&) {
      // A SAN certcli cannot manage (a single label, a public suffix) is served but not tracked.
    }
  }
  return names;
}

}  // namespace

std::pair<std::vector<std::string>, std::vector<std::string>> name_difference(const std::vector<std::string>& before,
                                                                             const std::vector<std::string>& after) {
  std::vector<std::string> added, removed;
  for (const auto& name : after)
    if (std::find(before.begin(), before.end(), name) == before.end()) added.push_back(name);
  for (const auto& name : before)
    if (std::find(after.begin(), after.end(), name) == after.end()) removed.push_back(name);
  return {added, removed};
}

std::vector<std::string> explain_uncovered(const std::vector<std::string>& names, const std::vector<std::string>& sans) {
  std::vector<std::string> uncovered;
  for (const auto& name : names) {
    if (covering_name(sans, name)) continue;
    std::string why = "no name of the certificate covers it";
    for (const auto& san : sans) {
      if (!is_wildcard(san)) continue;
      std::string_view base = std::string_view(san).substr(2);
      if (name == base) {
        why = fmt::format("{} does not cover its apex", san);
        break;
      }
      if (name.size() > base.size() + 1 && name.ends_with(fmt::format(".{}", base))) {
        why = fmt::format("{} covers one label only", san);
        break;
      }
    }
    uncovered.push_back(fmt::format("{} ({})", name, why));
  }
  return uncovered;
}

UploadResult upload_certificate(store::Store& store, const Clock& clock, const UploadRequest& request) {
  const std::string name = normalize_name(request.name);
  const TimePoint now = clock.now();
  std::optional<store::DomainRecord> existing = store.load_domain(name);
  const std::string& cert_source = request.certificate.source;

  std::vector<std::string> certificates = crypto::read_certificates(request.certificate.bytes, cert_source);
  if (request.chain)
    for (auto& pem : crypto::read_certificates(request.chain->bytes, request.chain->source)) certificates.push_back(pem);

  // The live certificate (its key pairs with a certificate uploaded without --key, and its
  // names are compared with the new ones).
  std::optional<store::CertificateFiles> live;
  if (existing && !existing->live_version.empty()) live = store.load_archived_certificate(name, existing->live_version);

  std::string key_pem;
  std::string key_source;
  if (request.key) {
    key_pem = crypto::read_private_key(request.key->bytes, request.key_passphrase, request.key->source);
    key_source = request.key->source;
  } else if (live) {
    key_pem = live->private_key;
    key_source = fmt::format("the live key of {}", name);
  } else {
    throw Error(ErrorKind::usage, fmt::format("{} has no live key to pair the certificate with", name),
                "give the certificate's private key with --key FILE", name);
  }

  crypto::OrderedChain chain = crypto::order_chain(certificates, key_pem);
  crypto::PrivateKey key = crypto::PrivateKey::from_pem(key_pem);
  crypto::CertificateInfo info = crypto::parse_certificate(chain.leaf);
  if (!crypto::key_matches_certificate(key, chain.leaf))
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} does not match the certificate in {} (serial {}): it is not the key the certificate was "
                            "issued for",
                            key_source, cert_source, info.serial_hex),
                "give the private key that was used to make the certificate's request (CSR)", cert_source);
  if (now >= info.not_after)
    throw Error(ErrorKind::invalid_input,
                fmt::format("the certificate in {} (serial {}) expired on {}", cert_source, info.serial_hex,
                            format_rfc3339(info.not_after)),
                "get a new certificate from its CA; an expired one is refused by every client", cert_source);

  UploadResult result;
  if (now < info.not_before)
    result.warnings.push_back(fmt::format("the certificate is not valid before {}: clients refuse it until then",
                                          format_rfc3339(info.not_before)));
  std::vector<std::string> names;
  if (existing) {
    names = existing->names;
    std::vector<std::string> uncovered = explain_uncovered(names, info.sans);
    if (!uncovered.empty())
      throw Error(ErrorKind::invalid_input,
                  fmt::format("the certificate in {} does not cover {} of {}'s names: {}", cert_source, uncovered.size(),
                              name, fmt::join(uncovered, "; ")),
                  "a wildcard covers exactly one label and never its apex; get a certificate that holds every name "
                  "the domain has",
                  cert_source);
  } else {
    if (!covering_name(info.sans, name))
      throw Error(ErrorKind::invalid_input,
                  fmt::format("the certificate in {} does not cover {}: {}", cert_source, name,
                              explain_uncovered({name}, info.sans).front()),
                  fmt::format("its names are {}", info.sans.empty() ? std::string("none") : fmt::format("{}", fmt::join(info.sans, ", "))),
                  cert_source);
    names = names_from_certificate(name, info.sans);
    if (!request.yes)
      throw Error(ErrorKind::usage,
                  fmt::format("{} is not managed yet: the upload would add it, self-managed, with the names {}", name,
                              fmt::join(names, ", ")),
                  "pass --yes to add it", name);
  }

  // A change of names from the live certificate is shown and confirmed before anything changes.
  if (live) {
    std::vector<std::string> live_sans = existing->covered_names;
    if (live_sans.empty()) live_sans = crypto::parse_certificate(live->certificate).sans;
    auto [added, removed] = name_difference(live_sans, info.sans);
    result.added_names = added;
    result.removed_names = removed;
    if ((!added.empty() || !removed.empty()) && !request.yes) {
      std::string change = fmt::format("added: {}; removed: {}", added.empty() ? "none" : fmt::format("{}", fmt::join(added, ", ")),
                                       removed.empty() ? "none" : fmt::format("{}", fmt::join(removed, ", ")));
      if (!request.confirm)
        throw Error(ErrorKind::usage,
                    fmt::format("the certificate's names differ from the live certificate's ({}) and there is no "
                                "terminal to confirm the change on",
                                change),
                    "pass --yes to replace the live certificate from a script", name);
      if (!request.confirm(added, removed))
        throw Error(ErrorKind::usage, fmt::format("nothing was changed: replacing the names ({}) was not confirmed", change),
                    "answer y to replace the live certificate", name);
    }
  }

  // Everything holds: from here on the state changes. The domain's lock first, then (to add it)
  // the state lock, as add_domain takes them.
  auto domain_lock = store.lock_domain(name, kLockWait);
  std::unique_ptr<store::Lock> state_lock;
  if (!existing) state_lock = store.lock(kLockWait);
  std::optional<store::DomainRecord> current = store.load_domain(name);
  store::DomainRecord record;
  if (current) {
    record = *current;
  } else {
    record.name = name;
    record.names = names;
    record.created_at = now;
    record.last_updated_at = now;
    result.created = true;
  }
  store::CertificateFiles files;
  files.certificate = chain.leaf;
  for (const auto& pem : chain.intermediates) files.chain += pem;
  files.fullchain = files.certificate + files.chain;
  files.private_key = key.to_pem();
  result.previous_version = record.live_version;
  std::string version = store.install_certificate(name, format_compact_utc(now), files);

  record.management = "self-managed";
  steps::mark_live(record, version, info, now);  // no ARI: the CA that issued it is not certcli's
  store.save_domain(record);
  store.remove_pending_key(name);
  if (result.created) steps::log_event(store, clock, "domain.added", name, {{"names", record.names}, {"by", "upload"}});
  nlohmann::json details = {{"serial", info.serial_hex},
                            {"names", info.sans},
                            {"expires_at", format_rfc3339(info.not_after)},
                            {"version", version},
                            {"issuer", info.issuer}};
  if (!result.previous_version.empty()) details["previous_version"] = result.previous_version;
  if (!result.added_names.empty()) details["names_added"] = result.added_names;
  if (!result.removed_names.empty()) details["names_removed"] = result.removed_names;
  steps::log_event(store, clock, "certificate.uploaded", name, details);

  result.record = std::move(record);
  result.certificate = std::move(info);
  result.version = version;
  result.reordered = chain.reordered;
  result.notes = std::move(chain.notes);
  result.live_location = store.live_location(name);
  return result;
}

}  // namespace certcli::lifecycle
