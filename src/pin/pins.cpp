// The pin table through the store, and what live hosts serve measured against it. Every change
// of pins.toml happens under the state lock (read, change, write back atomically) and is logged.
#include <certcli/bundle.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/pin.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace certcli::pin {
namespace {

constexpr std::chrono::seconds kLockWait{60};

void log(store::Store& store, const Clock& clock, const std::string& event, const PinEntry& entry,
         nlohmann::json details = nlohmann::json::object()) {
  details["time"] = format_rfc3339(clock.now());
  details["event"] = event;
  if (!entry.host.empty()) details["domain"] = entry.host;
  details["label"] = entry.label;
  details["pin"] = entry.pin;
  if (!entry.source.empty()) details["source"] = entry.source;
  store.append_activity(details);
}

void save(store::Store& store, const Clock& clock, const std::vector<PinEntry>& entries) {
  store.save_pin_table(serialize_pins(entries, clock.now()));
}

// The port a host entry was fetched from ("host:example.com:8443 #0"), else 443.
int port_of_source(const PinEntry& entry) {
  if (!entry.source.starts_with("host:")) return 443;
  std::string rest = entry.source.substr(5);
  rest = rest.substr(0, rest.find(' '));
  try {
    return net::parse_tls_target(rest, 443, "source").port;
  } catch (const Error&) {
    return 443;
  }
}

// Takes the certificate's facts into `entry`; whether anything changed.
bool take_certificate(PinEntry& entry, const crypto::ChainCertificate& cert) {
  bool changed = entry.fingerprint != cert.info.sha256_fingerprint || entry.expires != cert.info.not_after ||
                 (entry.cn.empty() && !cert.info.subject_common_name.empty());
  entry.fingerprint = cert.info.sha256_fingerprint;
  entry.expires = cert.info.not_after;
  if (entry.cn.empty()) entry.cn = cert.info.subject_common_name;
  return changed;
}

}  // namespace

std::vector<PinEntry> load_pins(const store::Store& store) {
  auto text = store.load_pin_table();
  if (!text) return {};
  return parse_pins(*text, store.pin_table_location());
}

std::vector<AddOutcome> add_pins(store::Store& store, const Clock& clock, std::vector<PinEntry> entries) {
  for (const auto& entry : entries)
    if (!is_pin(entry.pin))
      throw Error(ErrorKind::invalid_input, fmt::format("'{}' is not a pin (base64 of a 32-byte SHA-256)", entry.pin),
                  "a pin is 44 characters of base64 ending in '='; certcli pin generate FILE computes one");
  auto lock = store.lock(kLockWait);
  std::vector<PinEntry> table = load_pins(store);
  std::vector<AddOutcome> outcomes;
  for (auto& entry : entries) {
    AddOutcome outcome;
    auto same = std::find_if(table.begin(), table.end(),
                             [&](const PinEntry& e) { return e.pin == entry.pin && e.host == entry.host; });
    if (same != table.end()) {
      outcome.entry = *same;
      outcome.existing_label = same->label;
      outcomes.push_back(outcome);
      continue;
    }
    entry.label = unique_label(table, entry.label.empty() ? "pin" : entry.label);
    entry.added_at = clock.now();
    table.push_back(entry);
    outcome.entry = entry;
    outcome.added = true;
    outcomes.push_back(outcome);
  }
  if (std::any_of(outcomes.begin(), outcomes.end(), [](const AddOutcome& o) { return o.added; })) {
    save(store, clock, table);
    for (const auto& outcome : outcomes)
      if (outcome.added) log(store, clock, "pin.added", outcome.entry);
  }
  return outcomes;
}

std::vector<PinEntry> remove_pins(store::Store& store, const Clock& clock, const std::string& selector) {
  auto lock = store.lock(kLockWait);
  std::vector<PinEntry> table = load_pins(store);
  std::vector<PinEntry> removed;
  std::vector<PinEntry> kept;
  for (auto& entry : table) (entry.label == selector || entry.pin == selector ? removed : kept).push_back(entry);
  if (removed.empty())
    throw Error(ErrorKind::not_found, fmt::format("no pin is labelled '{}' or has that value", selector),
                "certcli pin list shows the labels", selector);
  save(store, clock, kept);
  for (const auto& entry : removed) log(store, clock, "pin.removed", entry);
  return removed;
}

std::vector<AddOutcome> import_pins(store::Store& store, const Clock& clock, const std::string& text,
                                    const std::string& source, const std::string& host, const std::string& label_base) {
  std::vector<std::string> pins = parse_pin_list(text, source);
  if (pins.empty())
    throw Error(ErrorKind::invalid_input, fmt::format("{} holds no pin", source),
                "give one pin per line, or pin-sha256=\"...\" values", source);
  std::vector<PinEntry> entries;
  for (const auto& value : pins) {
    PinEntry entry;
    entry.pin = value;
    entry.host = host;
    entry.label = label_base;
    entry.source = "import:" + source;
    entries.push_back(entry);
  }
  return add_pins(store, clock, entries);
}

HostChain inspect_host(const net::TlsTarget& target, std::chrono::seconds timeout, const std::string& ca_bundle,
                       const std::string& extra_roots) {
  HostChain chain;
  chain.target = target;
  chain.served = net::fetch_served_chain(target, timeout);
  for (const auto& pem : chain.served.certificates) chain.certificates.push_back(crypto::describe_chain_certificate(pem));
  chain.trust = crypto::verify_chain(chain.served.certificates, ca_bundle, extra_roots, target.host);
  return chain;
}

PinEntry entry_for(const HostChain& chain, std::size_t index) {
  if (index >= chain.certificates.size())
    throw Error(ErrorKind::usage,
                fmt::format("the chain served by {}:{} has {} certificate{}; there is no index {}", chain.target.host,
                            chain.target.port, chain.certificates.size(), chain.certificates.size() == 1 ? "" : "s", index),
                fmt::format("give an index from 0 (the leaf) to {}", chain.certificates.size() - 1));
  const crypto::ChainCertificate& cert = chain.certificates[index];
  PinEntry entry;
  entry.label = index == 0 ? chain.target.host : fmt::format("{}#{}", chain.target.host, index);
  entry.host = chain.target.host;
  entry.pin = cert.pin;
  entry.cn = cert.info.subject_common_name;
  take_certificate(entry, cert);
  entry.source = fmt::format("host:{}:{} #{}", chain.target.host, chain.target.port, index);
  return entry;
}

std::vector<CheckMatch> match_chain(const std::vector<crypto::ChainCertificate>& chain, const std::vector<PinEntry>& host_pins) {
  std::vector<CheckMatch> matches;
  for (std::size_t i = 0; i < chain.size(); ++i)
    for (const auto& entry : host_pins)
      if (entry.pin == chain[i].pin) {
        matches.push_back({i, entry.label, entry.pin});
        break;
      }
  return matches;
}

CheckResult check_host(const store::Store& store, const net::TlsTarget& target, std::chrono::seconds timeout,
                       const std::string& ca_bundle, const std::string& extra_roots) {
  CheckResult result;
  for (const auto& entry : load_pins(store))
    if (applies_to(entry, target.host)) result.host_pins.push_back(entry);
  result.chain = inspect_host(target, timeout, ca_bundle, extra_roots);
  result.matches = match_chain(result.chain.certificates, result.host_pins);
  return result;
}

std::vector<RefreshOutcome> refresh_pins(store::Store& store, const Clock& clock, std::chrono::seconds timeout,
                                         const std::string& ca_bundle) {
  const TimePoint now = clock.now();
  // Every certificate to look in: the managed domains' live chains, then the hosts of the table.
  std::vector<std::pair<std::string, crypto::ChainCertificate>> seen;
  for (const auto& record : store.list_domains()) {
    auto live = store.load_live_public(record.name);
    if (!live) continue;
    for (const auto& pem : crypto::split_pem_certificates(live->fullchain))
      seen.emplace_back("domain:" + record.name, crypto::describe_chain_certificate(pem));
  }
  std::vector<PinEntry> table = load_pins(store);
  std::vector<RefreshOutcome> outcomes(table.size());
  std::map<std::string, std::string> host_problems;
  for (const auto& entry : table) {
    if (entry.host.empty()) continue;
    const std::string key = fmt::format("{}:{}", entry.host, port_of_source(entry));
    if (host_problems.contains(key)) continue;
    host_problems[key];
    try {
      net::TlsTarget target{entry.host, port_of_source(entry), {}};
      for (const auto& pem : net::fetch_served_chain(target, timeout).certificates)
        seen.emplace_back("host:" + key, crypto::describe_chain_certificate(pem));
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::interrupted) throw;
      host_problems[key] = e.what();
    }
  }
  (void)ca_bundle;  // refreshing reads what is served; trust is `pin check`'s and `pin trust`'s question

  auto lock = store.lock(kLockWait);
  table = load_pins(store);  // re-read under the lock: the fetches took time
  outcomes.assign(table.size(), {});
  bool changed_any = false;
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < table.size(); ++i) {
    PinEntry& entry = table[i];
    RefreshOutcome& outcome = outcomes[i];
    outcome.label = entry.label;
    outcome.before = status_of(entry, now);
    // A host entry looks on its own host first, then anywhere.
    auto found = seen.end();
    if (!entry.host.empty())
      found = std::find_if(seen.begin(), seen.end(), [&](const auto& s) {
        return s.second.pin == entry.pin && s.first.starts_with("host:" + entry.host + ":");
      });
    if (found == seen.end())
      found = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.second.pin == entry.pin; });
    if (found != seen.end()) {
      outcome.found_in = found->first;
      if (take_certificate(entry, found->second)) {
        changed_any = true;
        changed.push_back(i);
      }
    } else if (!entry.host.empty()) {
      auto problem = host_problems.find(fmt::format("{}:{}", entry.host, port_of_source(entry)));
      if (problem != host_problems.end()) outcome.problem = problem->second;
    }
    outcome.after = status_of(entry, now);
  }
  if (changed_any) {
    save(store, clock, table);
    for (std::size_t i : changed)
      log(store, clock, "pin.changed", table[i],
          {{"status", to_string(outcomes[i].after)}, {"found_in", outcomes[i].found_in}});
  }
  return outcomes;
}

std::string managed_bundle(const store::Store& store) { return store.load_trusted_roots().value_or(""); }

TrustResult check_trust(store::Store& store, const Clock& clock, const std::string& bytes, const std::string& source,
                        const std::string& ca_bundle, bool add) {
  TrustResult result;
  std::vector<std::string> certificates = crypto::read_certificates(bytes, source);
  for (const auto& pem : certificates) result.certificates.push_back(crypto::describe_chain_certificate(pem));
  result.verdict = crypto::verify_chain(certificates, ca_bundle, managed_bundle(store));
  if (!add) return result;

  // The root: one the file carries itself (the operator vouches for it by adding it), else the
  // anchor the path ended at.
  std::string root;
  for (const auto& cert : result.certificates)
    if (cert.self_signed) root = cert.pem;
  if (root.empty()) root = result.verdict.root_pem;
  if (root.empty())
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} holds no root certificate, and its chain leads to none certcli knows: {}", source,
                            result.verdict.detail),
                "give a file that holds the chain up to its self-signed root", source);
  const crypto::ChainCertificate root_cert = crypto::describe_chain_certificate(root);
  auto lock = store.lock(kLockWait);
  std::string bundle = managed_bundle(store);
  for (const auto& pem : bundle.empty() ? std::vector<std::string>{} : crypto::read_certificates(bundle, store.trusted_roots_location()))
    if (crypto::parse_certificate(pem).sha256_fingerprint == root_cert.info.sha256_fingerprint) result.already_present = true;
  if (!result.already_present) {
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    store.save_trusted_roots(bundle + root);
    result.added = true;
    PinEntry described;
    described.label = root_cert.info.subject_common_name;
    described.pin = root_cert.pin;
    described.source = "trust:" + source;
    log(store, clock, "pin.trust_added", described, {{"fingerprint", root_cert.info.sha256_fingerprint}});
    result.verdict = crypto::verify_chain(certificates, ca_bundle, managed_bundle(store));
  }
  return result;
}

}  // namespace certcli::pin
