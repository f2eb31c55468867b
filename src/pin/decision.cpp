// Pin-safe renewal as one pure rule: which key the next certificate gets, given the pins.
// A client that pins a leaf key breaks the moment the served key changes, so a pinned domain
// keeps its key, or moves to a backup key whose pin was published ahead (RFC 7469 section 4.3
// asks for such a backup pin).
#include <certcli/pin.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace certcli::pin {
namespace {

bool contains(const std::vector<std::string>& pins, const std::optional<std::string>& pin) {
  return pin && std::find(pins.begin(), pins.end(), *pin) != pins.end();
}

bool any_in(const std::vector<std::string>& pins, const std::vector<std::string>& candidates) {
  return std::any_of(candidates.begin(), candidates.end(),
                     [&](const std::string& c) { return std::find(pins.begin(), pins.end(), c) != pins.end(); });
}

}  // namespace

std::string to_string(KeyChoice choice) {
  switch (choice) {
    case KeyChoice::as_configured: return "as-configured";
    case KeyChoice::live: return "live";
    case KeyChoice::backup: return "backup";
  }
  return "as-configured";
}

KeyDecision decide_key(const KeyDecisionInput& input) {
  KeyDecision decision;
  const bool live_pinned = contains(input.table_pins, input.live_key_pin);
  const bool backup_pinned = contains(input.table_pins, input.backup_key_pin);
  decision.pinned = live_pinned || backup_pinned || !input.domain_pins.empty();
  if (!decision.pinned) {
    decision.reason = "no pin names this domain or its key";
    return decision;
  }
  if (input.csr_key_pin) {
    // The operator's CSR fixes the key: certcli can only check it.
    if (contains(input.table_pins, input.csr_key_pin)) {
      decision.reason = "the key of the domain's CSR matches a pin";
      return decision;
    }
    decision.refused = !input.force;
    decision.reason = "the key of the domain's CSR matches no pin";
    return decision;
  }
  if (backup_pinned) {
    decision.choice = KeyChoice::backup;
    decision.reason = "the backup key's pin is in the table: rotating to it";
    return decision;
  }
  if (live_pinned) {
    decision.choice = KeyChoice::live;
    decision.reason = input.backup_key_pin ? "the live key matches a pin (the backup key's pin is not in the table)"
                                           : "the live key matches a pin: keeping it";
    return decision;
  }
  if (any_in(input.domain_pins, input.live_issuer_pins)) {
    // Clients pin the CA's key here: a new leaf key under the same issuer still matches.
    decision.reason = "the domain's pins are on an issuer of its chain, not on its key";
    return decision;
  }
  decision.refused = !input.force;
  decision.reason = input.live_key_pin ? "the domain has pins, but none matches its live key, and a new key would match none"
                                       : "the domain has pins, but no live key to keep, and a new key would match none";
  return decision;
}

}  // namespace certcli::pin
