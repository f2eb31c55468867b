// The pin table's rules and its file, pins.toml: pure functions of text and values.
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/pin.hpp>
#include <certcli/spki.hpp>
#include <certcli/toml_guard.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

namespace certcli::pin {
namespace {

Error damaged(const std::string& source, int line, const std::string& why) {
  std::string place = line > 0 ? fmt::format("{}:{}", source, line) : source;
  return Error(ErrorKind::state, fmt::format("{}: {}", place, why),
               "the pin table is damaged: restore it from a backup or fix it by hand; certcli changes nothing in it until "
               "then",
               source);
}

std::string text_of(const toml::table& table, std::string_view key, const std::string& source) {
  const toml::node* node = table.get(key);
  if (!node) return {};
  auto value = node->value<std::string>();
  if (!value) throw damaged(source, static_cast<int>(node->source().begin.line), fmt::format("'{}' is not a string", key));
  return *value;
}

std::optional<TimePoint> time_of(const toml::table& table, std::string_view key, const std::string& source) {
  std::string text = text_of(table, key, source);
  if (text.empty()) return std::nullopt;
  try {
    return parse_rfc3339(text);
  } catch (const Error&) {
    throw damaged(source, static_cast<int>(table.get(key)->source().begin.line),
                  fmt::format("'{}' is not an RFC 3339 time", key));
  }
}

std::string trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

std::string to_string(PinStatus status) {
  switch (status) {
    case PinStatus::valid: return "valid";
    case PinStatus::expired: return "expired";
    case PinStatus::unknown: return "unknown";
  }
  return "unknown";
}

PinStatus status_of(const PinEntry& entry, TimePoint now) {
  if (entry.expires && now >= *entry.expires) return PinStatus::expired;
  if (entry.fingerprint.empty() && !entry.expires) return PinStatus::unknown;
  return PinStatus::valid;
}

bool is_pin(std::string_view text) {
  auto bytes = crypto::base64_decode(text);
  return bytes && bytes->size() == 32;
}

bool applies_to(const PinEntry& entry, std::string_view host) {
  if (host.empty()) return false;
  if (!entry.host.empty() && entry.host == host) return true;
  if (entry.cn.empty()) return false;
  std::string cn = entry.cn;
  std::transform(cn.begin(), cn.end(), cn.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (cn == host) return true;
  // A wildcard CN covers one label, never its apex (RFC 6125 section 6.4.3).
  return is_wildcard(cn) && covers(cn, host);
}

std::string unique_label(const std::vector<PinEntry>& entries, const std::string& base) {
  auto taken = [&](const std::string& label) {
    return std::any_of(entries.begin(), entries.end(), [&](const PinEntry& e) { return e.label == label; });
  };
  if (!taken(base)) return base;
  for (int n = 2;; ++n)
    if (std::string label = fmt::format("{}-{}", base, n); !taken(label)) return label;
}

std::vector<PinEntry> parse_pins(const std::string& text, const std::string& source) {
  if (auto refusal = refuse_unsafe_toml(text)) throw damaged(source, refusal->line, refusal->reason);
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw damaged(source, static_cast<int>(e.source().begin.line),
                  fmt::format("{} (column {})", e.description(), e.source().begin.column));
  }
  std::vector<PinEntry> entries;
  const toml::node* list = root.get("pin");
  if (!list) return entries;
  const toml::array* rows = list->as_array();
  if (!rows) throw damaged(source, static_cast<int>(list->source().begin.line), "'pin' is not an array of tables");
  for (const toml::node& node : *rows) {
    const toml::table* row = node.as_table();
    const int line = static_cast<int>(node.source().begin.line);
    if (!row) throw damaged(source, line, "a [[pin]] entry is not a table");
    PinEntry entry;
    entry.label = text_of(*row, "label", source);
    entry.host = text_of(*row, "host", source);
    entry.cn = text_of(*row, "cn", source);
    entry.pin = text_of(*row, "pin", source);
    entry.fingerprint = text_of(*row, "fingerprint", source);
    entry.expires = time_of(*row, "expires", source);
    entry.source = text_of(*row, "source", source);
    entry.added_at = time_of(*row, "added_at", source);
    if (entry.label.empty()) throw damaged(source, line, "a [[pin]] entry has no label");
    if (!is_pin(entry.pin)) throw damaged(source, line, fmt::format("the pin of '{}' is not base64 of 32 bytes", entry.label));
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string serialize_pins(const std::vector<PinEntry>& entries, TimePoint now) {
  std::ostringstream out;
  out << "# certcli's pin table: one [[pin]] per pinned public key (base64 of the SHA-256 of its DER\n"
         "# SubjectPublicKeyInfo, RFC 7469). Written by `certcli pin`; status is recomputed when read.\n";
  for (const auto& entry : entries) {
    toml::table row;
    auto put = [&](std::string_view key, const std::string& value) {
      if (!value.empty()) row.insert_or_assign(key, value);
    };
    put("label", entry.label);
    put("host", entry.host);
    put("cn", entry.cn);
    put("pin", entry.pin);
    put("fingerprint", entry.fingerprint);
    if (entry.expires) put("expires", format_rfc3339(*entry.expires));
    put("source", entry.source);
    put("status", to_string(status_of(entry, now)));
    if (entry.added_at) put("added_at", format_rfc3339(*entry.added_at));
    out << "\n[[pin]]\n" << row << "\n";
  }
  return out.str();
}

std::vector<std::string> parse_pin_list(const std::string& text, const std::string& source) {
  std::vector<std::string> pins;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  auto refuse = [&](const std::string& value) {
    return Error(ErrorKind::invalid_input,
                 fmt::format("{}:{}: '{}' is not a pin (base64 of a 32-byte SHA-256)", source, number, value),
                 "give one pin per line, or pin-sha256=\"...\" values as an HPKP header lists them", source);
  };
  auto keep = [&](const std::string& pin) {
    if (!is_pin(pin)) throw refuse(pin);
    if (std::find(pins.begin(), pins.end(), pin) == pins.end()) pins.push_back(pin);
  };
  while (std::getline(lines, line)) {
    ++number;
    std::string content = trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;
    // "Public-Key-Pins:" as copied from a header is allowed in front.
    if (auto colon = content.find(':'); colon != std::string::npos && content.find("pin-sha256") != std::string::npos &&
                                        colon < content.find("pin-sha256"))
      content = trim(content.substr(colon + 1));
    if (content.find("pin-sha256") == std::string::npos) {
      keep(content);
      continue;
    }
    // RFC 7469 section 2.1: directives separated by ';', pin-sha256 values quoted.
    std::istringstream directives(content);
    std::string directive;
    while (std::getline(directives, directive, ';')) {
      directive = trim(directive);
      if (!directive.starts_with("pin-sha256")) continue;  // max-age, includeSubDomains, report-uri
      auto equals = directive.find('=');
      if (equals == std::string::npos) throw refuse(directive);
      std::string value = trim(directive.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      keep(value);
    }
  }
  return pins;
}

}  // namespace certcli::pin
