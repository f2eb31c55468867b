// Pin-safe renewal: the facts of one domain gathered from the store for decide_key (pure, in
// decision.cpp), what happens after the new certificate is live, and backup keys made ahead.
#include <certcli/bundle.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/pin.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace certcli::pin {
namespace {

constexpr std::chrono::seconds kLockWait{60};

void log(store::Store& store, const Clock& clock, const std::string& event, const std::string& domain,
         nlohmann::json details) {
  details["time"] = format_rfc3339(clock.now());
  details["event"] = event;
  details["domain"] = domain;
  store.append_activity(details);
}

std::string key_pin(const std::string& key_pem) {
  return crypto::spki_pin(crypto::public_key_der(crypto::PrivateKey::from_pem(key_pem)));
}

}  // namespace

KeyPlan plan_key(const store::Store& store, const store::DomainRecord& record, bool force) {
  KeyDecisionInput input;
  input.force = force;
  std::vector<PinEntry> entries = load_pins(store);
  std::vector<std::string> labels;
  for (const auto& entry : entries) {
    input.table_pins.push_back(entry.pin);
    bool for_domain = std::any_of(record.names.begin(), record.names.end(),
                                  [&](const std::string& name) { return applies_to(entry, name); });
    if (for_domain) {
      input.domain_pins.push_back(entry.pin);
      labels.push_back(entry.label);
    }
  }
  KeyPlan plan;
  if (entries.empty()) {
    plan.decision.reason = "the pin table is empty";
    return plan;
  }
  if (auto live = store.load_live_public(record.name)) {
    // The certificate carries the key's SPKI: no passphrase needed to know the live key's pin.
    input.live_key_pin = crypto::spki_pin(crypto::certificate_public_key_der(live->certificate));
    for (const auto& pem : crypto::split_pem_certificates(live->chain))
      input.live_issuer_pins.push_back(crypto::spki_pin(crypto::certificate_public_key_der(pem)));
  }
  std::optional<std::string> backup = store.load_backup_key(record.name);
  if (backup) input.backup_key_pin = key_pin(*backup);
  if (!record.order.csr.empty())
    input.csr_key_pin = crypto::spki_pin(crypto::parse_csr(crypto::base64url_decode(record.order.csr)).public_key_der);

  plan.decision = decide_key(input);
  if (plan.decision.refused) {
    if (input.live_key_pin &&
        std::find(input.table_pins.begin(), input.table_pins.end(), *input.live_key_pin) != input.table_pins.end())
      labels.push_back("the live key's");
    throw Error(ErrorKind::usage,
                fmt::format("{}'s next certificate would carry a key that matches no pin ({}); clients that pin {} would "
                            "stop trusting it",
                            record.name, plan.decision.reason,
                            labels.empty() ? std::string("its key") : fmt::format("{}", fmt::join(labels, ", "))),
                fmt::format("keep a pinned key (certcli pin backup-key {} makes a backup key to publish first), add the "
                            "new key's pin to the table, or pass --force to go ahead and break the pins",
                            record.name),
                record.name);
  }
  if (plan.decision.choice == KeyChoice::backup) {
    plan.backup_key_pem = *backup;
    plan.key_pin = *input.backup_key_pin;
  } else if (plan.decision.choice == KeyChoice::live) {
    plan.key_pin = *input.live_key_pin;
  }
  return plan;
}

std::string after_install(store::Store& store, const Clock& clock, const store::DomainRecord& record, const KeyPlan& plan) {
  if (!plan.decision.pinned) return {};
  try {
    if (plan.decision.choice == KeyChoice::backup) {
      // The backup is the live key now; a later rotation needs a new one made ahead.
      store.remove_backup_key(record.name);
      log(store, clock, "pin.backup_key_used", record.name, {{"pin", plan.key_pin}});
    }
    auto live = store.load_live_public(record.name);
    if (!live) return {};
    const crypto::ChainCertificate leaf = crypto::describe_chain_certificate(live->certificate);
    auto lock = store.lock(kLockWait);
    std::vector<PinEntry> table = load_pins(store);
    std::vector<PinEntry> changed;
    for (auto& entry : table) {
      if (entry.pin != leaf.pin) continue;
      bool differs = entry.fingerprint != leaf.info.sha256_fingerprint || entry.expires != leaf.info.not_after;
      entry.fingerprint = leaf.info.sha256_fingerprint;
      entry.expires = leaf.info.not_after;
      if (entry.cn.empty()) entry.cn = leaf.info.subject_common_name;
      if (differs) changed.push_back(entry);
    }
    if (changed.empty()) return {};
    store.save_pin_table(serialize_pins(table, clock.now()));
    for (const auto& entry : changed)
      log(store, clock, "pin.changed", entry.host.empty() ? record.name : entry.host,
          {{"label", entry.label}, {"pin", entry.pin}, {"fingerprint", entry.fingerprint}, {"status", "valid"}});
    return {};
  } catch (const std::exception& e) {
    return fmt::format("the pin table was not updated for the new certificate: {} (certcli pin refresh does it)", e.what());
  }
}

BackupKeyResult make_backup_key(store::Store& store, const Clock& clock, const std::string& name, bool replace) {
  const std::string normalized = normalize_name(name);
  auto not_managed = [&] {
    return Error(ErrorKind::not_found, fmt::format("{} is not a managed domain", normalized),
                 "certcli domain list shows the managed domains", normalized);
  };
  std::optional<store::DomainRecord> record = store.load_domain(normalized);
  if (!record) throw not_managed();
  if (!record->order.csr.empty())
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} orders with your own CSR, so its key is yours, not certcli's", normalized),
                "make the next key and CSR yourself, and pin that key", normalized);
  auto domain_lock = store.lock_domain(normalized, kLockWait);
  record = store.load_domain(normalized);
  if (!record) throw not_managed();
  BackupKeyResult result;
  result.domain = normalized;
  result.key_type = record->key_type;
  std::optional<std::string> previous = store.load_backup_key(normalized);
  if (previous && !replace)
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} has a backup key already (pin {})", normalized, key_pin(*previous)),
                "the next renewal uses it; to make another one instead, pass --replace (and publish its pin)", normalized);
  auto type = crypto::parse_key_type(record->key_type).value_or(crypto::KeyType::ec256);
  crypto::PrivateKey key = crypto::PrivateKey::generate(type);
  result.pin = crypto::spki_pin(crypto::public_key_der(key));
  store.save_backup_key(normalized, key.to_pem());
  result.replaced = previous.has_value();
  log(store, clock, "pin.backup_key_created", normalized, {{"pin", result.pin}, {"key_type", record->key_type}});
  if (previous) {
    // The replaced key's pin stays in the table only if someone added it by hand as well.
    const std::string old_pin = key_pin(*previous);
    for (const auto& entry : load_pins(store))
      if (entry.pin == old_pin && entry.source == "backup-key:" + normalized) remove_pins(store, clock, entry.label);
  }
  PinEntry entry;
  entry.label = normalized + "-backup";
  entry.host = normalized;
  entry.pin = result.pin;
  entry.source = "backup-key:" + normalized;
  result.label = add_pins(store, clock, {entry}).front().entry.label;
  return result;
}

}  // namespace certcli::pin
