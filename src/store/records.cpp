// TOML (de)serialisation of DomainRecord and AccountRecord. Unknown keys are kept out of the
// structs but never rejected, so a newer certcli's files still load in an older one.
#include "store/records.hpp"

#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/toml_guard.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace certcli::store {
namespace {

// "<file>:<line>: <what>", the way compilers name a place, so that an editor can jump to it.
// `line` is 0 when nothing in the file marks the place (a key that is missing).
Error damaged(const std::string& source, int line, const std::string& why) {
  std::string place = line > 0 ? fmt::format("{}:{}", source, line) : source;
  std::string fix = line > 0 ? fmt::format("fix line {} by hand", line) : "fix it by hand";
  return Error(ErrorKind::state, fmt::format("{}: {}", place, why),
               fmt::format("the file is damaged: restore it from a backup, or {} and run the command again; certcli "
                           "changes nothing in it until then",
                           fix),
               source);
}

Error corrupt(const std::string& source, const std::string& why, const toml::node* at = nullptr) {
  return damaged(source, at ? static_cast<int>(at->source().begin.line) : 0, why);
}

toml::date_time to_toml_time(TimePoint t) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{t - days};
  return toml::date_time{
      toml::date{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())},
      toml::time{static_cast<unsigned>(hms.hours().count()), static_cast<unsigned>(hms.minutes().count()),
                 static_cast<unsigned>(hms.seconds().count())},
      toml::time_offset{}};
}

std::optional<TimePoint> time_of(const toml::table& table, std::string_view key, const std::string& source) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  auto dt = node->value<toml::date_time>();
  if (!dt) throw corrupt(source, fmt::format("'{}' is not a date-time", key), node);
  using namespace std::chrono;
  auto days = sys_days{year{dt->date.year} / month{dt->date.month} / day{dt->date.day}};
  TimePoint t = time_point_cast<seconds>(days) + hours{dt->time.hour} + minutes{dt->time.minute} +
                seconds{dt->time.second};
  if (dt->offset) t -= minutes{dt->offset->minutes};
  return t;
}

void put_time(toml::table& table, std::string_view key, const std::optional<TimePoint>& t) {
  if (t) table.insert_or_assign(key, to_toml_time(*t));
}

void put_string(toml::table& table, std::string_view key, const std::string& value) {
  if (!value.empty()) table.insert_or_assign(key, value);
}

std::string string_of(const toml::table& table, std::string_view key, const std::string& source,
                      bool required = false) {
  const toml::node* node = table.get(key);
  if (!node) {
    if (required) throw corrupt(source, fmt::format("'{}' is missing", key), &table);
    return {};
  }
  auto value = node->value<std::string>();
  if (!value) throw corrupt(source, fmt::format("'{}' is not a string", key), node);
  return *value;
}

std::optional<int> int_of(const toml::table& table, std::string_view key, const std::string& source) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  auto value = node->value_exact<int64_t>();
  if (!value || *value < 0 || *value > 1000000) throw corrupt(source, fmt::format("'{}' is not a small whole number", key), node);
  return static_cast<int>(*value);
}

toml::array to_array(const std::vector<std::string>& values) {
  toml::array array;
  for (const auto& v : values) array.push_back(v);
  return array;
}

std::vector<std::string> strings_of(const toml::table& table, std::string_view key, const std::string& source) {
  std::vector<std::string> values;
  const toml::node* node = table.get(key);
  if (!node) return values;
  const toml::array* array = node->as_array();
  if (!array) throw corrupt(source, fmt::format("'{}' is not a list", key), node);
  for (const toml::node& item : *array) {
    auto value = item.value<std::string>();
    if (!value) throw corrupt(source, fmt::format("'{}' holds a value that is not a string", key), &item);
    values.push_back(*value);
  }
  return values;
}

// Values certcli acts on are checked again when a record is loaded: a name is sent to a CA and
// becomes a path, a webroot is written under, a URL is fetched. A hand-edited or planted
// domain.toml is outside input like any other, refused with its line, never used.

// A value for a message: quoted, control characters as \xNN (a name may hold an escape
// sequence, "\u001b[2J" in TOML), cut after 64 characters.
std::string shown(std::string_view value) {
  std::string out = "'";
  for (unsigned char c : value.substr(0, 64))
    out += c < 0x20 || c == 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, static_cast<char>(c));
  return out + (value.size() > 64 ? "'..." : "'");
}

// A certificate name exactly as `domain add` stores it (certcli::normalize_name's output).
void check_name(const std::string& value, std::string_view key, const std::string& source, const toml::node* at) {
  std::string normalized;
  try {
    normalized = normalize_name(value);
  } catch (const Error&) {
    throw corrupt(source, fmt::format("'{}' holds {}, which is not a name certcli can order", key, shown(value)), at);
  }
  if (normalized != value)
    throw corrupt(source, fmt::format("'{}' holds {}, which certcli stores as {}", key, shown(value), shown(normalized)),
                  at);
}

std::string name_of(const toml::table& table, std::string_view key, const std::string& source) {
  std::string value = string_of(table, key, source, true);
  check_name(value, key, source, table.get(key));
  return value;
}

std::vector<std::string> names_of(const toml::table& table, std::string_view key, const std::string& source) {
  std::vector<std::string> values = strings_of(table, key, source);
  if (const toml::array* array = table.get_as<toml::array>(key))
    for (std::size_t i = 0; i < values.size(); ++i) check_name(values[i], key, source, array->get(i));
  return values;
}

// An http(s) URL of printable ASCII, as the CA client takes it (which refuses plain http
// unless the run allows it for a test CA); empty when absent.
std::string url_of(const toml::table& table, std::string_view key, const std::string& source, bool required = false) {
  std::string value = string_of(table, key, source, required);
  const bool printable = std::all_of(value.begin(), value.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  const bool http = value.starts_with("https://") || value.starts_with("http://");
  if (!value.empty() && (!printable || !http || value.size() > 2048))
    throw corrupt(source, fmt::format("'{}' holds {}, which is not an http(s) URL", key, shown(value)), table.get(key));
  return value;
}

// A directory certcli writes under: absolute (a timer runs from another working directory, and
// a relative path would land in whichever one that is) and free of control characters.
std::string absolute_path_of(const toml::table& table, std::string_view key, const std::string& source) {
  std::string value = string_of(table, key, source);
  const bool plain = std::none_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (!value.empty() && (!value.starts_with('/') || !plain))
    throw corrupt(source, fmt::format("'{}' holds {}, which is not an absolute path", key, shown(value)),
                  table.get(key));
  return value;
}

CertificateStatus status_from(const std::string& text, const std::string& source, const toml::node* at) {
  for (auto s : {CertificateStatus::pending, CertificateStatus::issuing, CertificateStatus::ready,
                 CertificateStatus::failed})
    if (to_string(s) == text) return s;
  throw corrupt(source, fmt::format("status '{}' is not one of pending, issuing, ready, failed", text), at);
}

IssuePhase phase_from(const std::string& text, const std::string& source, const toml::node* at) {
  if (text.empty()) return IssuePhase::none;
  for (auto p : {IssuePhase::starting, IssuePhase::dns_check, IssuePhase::ordering, IssuePhase::validating,
                 IssuePhase::finalizing, IssuePhase::completed})
    if (to_string(p) == text) return p;
  throw corrupt(source, fmt::format("phase '{}' is not known", text), at);
}

bool bool_of(const toml::table& table, std::string_view key, const std::string& source) {
  const toml::node* node = table.get(key);
  if (!node) return false;
  auto value = node->value_exact<bool>();
  if (!value) throw corrupt(source, fmt::format("'{}' is not true or false", key), node);
  return *value;
}

void put_int(toml::table& table, std::string_view key, const std::optional<int>& value) {
  if (value) table.insert_or_assign(key, *value);
}

// [challenge] holds the http-01 part, [challenge.dns] the dns-01 part. The TSIG secret is a
// reference ($ENV:/$FILE:), never the secret (challenge::check_settings refuses anything else).
// A "type" key written by certcli 0.1 is ignored: the settings themselves say which type applies.
toml::table challenge_to_toml(const challenge::Settings& c) {
  toml::table table;
  put_string(table, "http_listen", c.http.listen);
  put_string(table, "webroot", c.http.webroot);
  if (c.http.serve) table.insert("http_mode", "serve");
  toml::table dns;
  put_string(dns, "rfc2136", c.dns.rfc2136_server);
  put_string(dns, "hook", c.dns.hook);
  if (c.dns.manual) dns.insert("manual", true);
  put_string(dns, "tsig_key", c.dns.tsig_key);
  put_string(dns, "tsig_secret", c.dns.tsig_secret);
  put_string(dns, "tsig_algorithm", c.dns.tsig_algorithm);
  put_string(dns, "zone", c.dns.zone);
  put_string(dns, "alias", c.dns.alias);
  put_string(dns, "propagation", c.dns.propagation);
  put_int(dns, "propagation_timeout", c.dns.propagation_timeout_seconds);
  put_int(dns, "propagation_interval", c.dns.propagation_interval_seconds);
  put_int(dns, "ttl", c.dns.ttl);
  put_int(dns, "hook_timeout", c.dns.hook_timeout_seconds);
  if (!dns.empty()) table.insert("dns", std::move(dns));
  return table;
}

challenge::Settings challenge_from_toml(const toml::table& table, const std::string& source) {
  challenge::Settings c;
  c.http.listen = string_of(table, "http_listen", source);
  c.http.webroot = absolute_path_of(table, "webroot", source);
  // "serve": http-01 answers are published for `certcli serve` (challenge::make_http_serve_solver).
  if (std::string mode = string_of(table, "http_mode", source); !mode.empty()) {
    if (mode != "serve") throw corrupt(source, fmt::format("'http_mode' holds {}; only 'serve' is known", shown(mode)), table.get("http_mode"));
    c.http.serve = true;
  }
  if (const toml::table* dns = table["dns"].as_table()) {
    c.dns.rfc2136_server = string_of(*dns, "rfc2136", source);
    c.dns.hook = string_of(*dns, "hook", source);
    c.dns.manual = bool_of(*dns, "manual", source);
    c.dns.tsig_key = string_of(*dns, "tsig_key", source);
    c.dns.tsig_secret = string_of(*dns, "tsig_secret", source);
    c.dns.tsig_algorithm = string_of(*dns, "tsig_algorithm", source);
    c.dns.zone = string_of(*dns, "zone", source);
    c.dns.alias = string_of(*dns, "alias", source);
    c.dns.propagation = string_of(*dns, "propagation", source);
    c.dns.propagation_timeout_seconds = int_of(*dns, "propagation_timeout", source);
    c.dns.propagation_interval_seconds = int_of(*dns, "propagation_interval", source);
    c.dns.ttl = int_of(*dns, "ttl", source);
    c.dns.hook_timeout_seconds = int_of(*dns, "hook_timeout", source);
  }
  return c;
}

toml::table verification_to_toml(const VerificationState& v) {
  toml::table table;
  if (v.verified) table.insert("verified", true);
  put_time(table, "checked_at", v.checked_at);
  if (v.require_ownership) table.insert("require_ownership", true);
  put_string(table, "ownership_token", v.ownership_token);
  put_time(table, "ownership_token_expires_at", v.ownership_token_expires_at);
  put_time(table, "ownership_verified_at", v.ownership_verified_at);
  if (!v.names.empty()) {
    toml::array names;
    for (const NameCheck& check : v.names) {
      toml::table entry;
      entry.insert("name", check.name);
      put_string(entry, "challenge_type", check.challenge_type);
      put_string(entry, "dns_status", check.dns_status);
      entry.insert("ok", check.ok);
      put_string(entry, "detail", check.detail);
      names.push_back(std::move(entry));
    }
    table.insert("names", std::move(names));
  }
  return table;
}

VerificationState verification_from_toml(const toml::table& table, const std::string& source) {
  VerificationState v;
  v.verified = bool_of(table, "verified", source);
  v.checked_at = time_of(table, "checked_at", source);
  v.require_ownership = bool_of(table, "require_ownership", source);
  v.ownership_token = string_of(table, "ownership_token", source);
  v.ownership_token_expires_at = time_of(table, "ownership_token_expires_at", source);
  v.ownership_verified_at = time_of(table, "ownership_verified_at", source);
  if (const toml::node* node = table.get("names")) {
    const toml::array* names = node->as_array();
    if (!names) throw corrupt(source, "'verification.names' is not a list", node);
    for (const toml::node& item : *names) {
      const toml::table* entry = item.as_table();
      if (!entry) throw corrupt(source, "'verification.names' holds a value that is not a table", &item);
      NameCheck check;
      check.name = string_of(*entry, "name", source, true);
      check.challenge_type = string_of(*entry, "challenge_type", source);
      check.dns_status = string_of(*entry, "dns_status", source);
      check.ok = bool_of(*entry, "ok", source);
      check.detail = string_of(*entry, "detail", source);
      v.names.push_back(std::move(check));
    }
  }
  return v;
}

}  // namespace

std::string to_string(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::pending: return "pending";
    case CertificateStatus::issuing: return "issuing";
    case CertificateStatus::ready: return "ready";
    case CertificateStatus::failed: return "failed";
  }
  return "pending";
}

std::string to_string(IssuePhase phase) {
  switch (phase) {
    case IssuePhase::none: return "";
    case IssuePhase::starting: return "starting";
    case IssuePhase::dns_check: return "dns-check";
    case IssuePhase::ordering: return "ordering";
    case IssuePhase::validating: return "validating";
    case IssuePhase::finalizing: return "finalizing";
    case IssuePhase::completed: return "completed";
  }
  return "";
}

toml::table domain_to_toml(const DomainRecord& r) {
  toml::table t;
  t.insert("name", r.name);
  t.insert("names", to_array(r.names));
  t.insert("management", r.management);
  t.insert("key_type", r.key_type);
  put_string(t, "live_key", r.live_key);

  t.insert("challenge", challenge_to_toml(r.challenge));

  toml::table cert;
  cert.insert("status", to_string(r.status));
  put_string(cert, "phase", to_string(r.phase));
  put_string(cert, "directory_url", r.directory_url);
  put_string(cert, "account_name", r.account_name);
  put_string(cert, "order_url", r.order_url);
  put_string(cert, "live_version", r.live_version);
  if (!r.covered_names.empty()) cert.insert("covered_names", to_array(r.covered_names));
  put_string(cert, "serial", r.serial);
  put_string(cert, "fingerprint", r.fingerprint);
  put_time(cert, "not_before", r.not_before);
  put_time(cert, "issued_at", r.issued_at);
  put_time(cert, "expires_at", r.expires_at);
  put_time(cert, "last_updated_at", r.last_updated_at);
  put_time(cert, "revoked_at", r.revoked_at);
  put_string(cert, "revocation_reason", r.revocation_reason);
  if (r.error) {
    toml::table error;
    error.insert("type", r.error->type);
    error.insert("detail", r.error->detail);
    put_string(error, "hint", r.error->hint);
    cert.insert("error", std::move(error));
  }
  t.insert("certificate", std::move(cert));
  toml::table renewal;
  if (r.renewal.buffer_days) renewal.insert("buffer_days", *r.renewal.buffer_days);
  put_string(renewal, "deploy_hook", r.renewal.deploy_hook);
  if (r.renewal.failures > 0) renewal.insert("failures", r.renewal.failures);
  put_time(renewal, "next_attempt_at", r.renewal.next_attempt_at);
  put_string(renewal, "ari_cert_id", r.renewal.ari_cert_id);
  put_time(renewal, "ari_window_start", r.renewal.ari_window_start);
  put_time(renewal, "ari_window_end", r.renewal.ari_window_end);
  put_time(renewal, "ari_renew_at", r.renewal.ari_renew_at);
  put_time(renewal, "ari_fetch_after", r.renewal.ari_fetch_after);
  if (!r.renewal.alerts_sent.empty()) {
    toml::array sent;
    for (int days : r.renewal.alerts_sent) sent.push_back(days);
    renewal.insert("alerts_sent", std::move(sent));
  }
  if (!renewal.empty()) t.insert("renewal", std::move(renewal));
  put_time(t, "created_at", r.created_at);
  toml::table verification = verification_to_toml(r.verification);
  if (!verification.empty()) t.insert("verification", std::move(verification));
  toml::table order;
  put_string(order, "profile", r.order.profile);
  put_string(order, "preferred_profile", r.order.preferred_profile);
  put_string(order, "preferred_chain", r.order.preferred_chain);
  if (r.order.reuse_key) order.insert("reuse_key", true);
  put_string(order, "csr", r.order.csr);
  if (!order.empty()) t.insert("order", std::move(order));
  return t;
}

DomainRecord domain_from_toml(const toml::table& t, const std::string& source) {
  DomainRecord r;
  r.name = name_of(t, "name", source);
  r.names = names_of(t, "names", source);
  if (r.names.empty()) r.names.push_back(r.name);
  r.management = string_of(t, "management", source);
  if (r.management.empty()) r.management = "managed";
  r.key_type = string_of(t, "key_type", source);
  if (r.key_type.empty()) r.key_type = "ec256";
  r.live_key = string_of(t, "live_key", source);
  if (!r.live_key.empty() && r.live_key != "plain" && r.live_key != "encrypted")
    throw Error(ErrorKind::state, fmt::format("{}: live_key '{}' is neither \"plain\" nor \"encrypted\"", source, r.live_key),
                "fix the file by hand, or run certcli domain set NAME --live-key plain|encrypted|default", source);
  r.created_at = time_of(t, "created_at", source);

  if (const toml::table* challenge = t["challenge"].as_table()) r.challenge = challenge_from_toml(*challenge, source);
  if (const toml::table* cert = t["certificate"].as_table()) {
    r.status = status_from(string_of(*cert, "status", source, true), source, cert->get("status"));
    r.phase = phase_from(string_of(*cert, "phase", source), source, cert->get("phase"));
    r.directory_url = url_of(*cert, "directory_url", source);
    r.account_name = string_of(*cert, "account_name", source);
    r.order_url = url_of(*cert, "order_url", source);
    r.live_version = string_of(*cert, "live_version", source);
    r.covered_names = strings_of(*cert, "covered_names", source);
    r.serial = string_of(*cert, "serial", source);
    r.fingerprint = string_of(*cert, "fingerprint", source);
    r.not_before = time_of(*cert, "not_before", source);
    r.issued_at = time_of(*cert, "issued_at", source);
    r.expires_at = time_of(*cert, "expires_at", source);
    r.last_updated_at = time_of(*cert, "last_updated_at", source);
    r.revoked_at = time_of(*cert, "revoked_at", source);
    r.revocation_reason = string_of(*cert, "revocation_reason", source);
    if (const toml::table* error = (*cert)["error"].as_table())
      r.error = RecordedError{string_of(*error, "type", source), string_of(*error, "detail", source),
                              string_of(*error, "hint", source)};
  }
  if (const toml::table* renewal = t["renewal"].as_table()) {
    r.renewal.buffer_days = int_of(*renewal, "buffer_days", source);
    r.renewal.deploy_hook = string_of(*renewal, "deploy_hook", source);
    r.renewal.failures = int_of(*renewal, "failures", source).value_or(0);
    r.renewal.next_attempt_at = time_of(*renewal, "next_attempt_at", source);
    r.renewal.ari_cert_id = string_of(*renewal, "ari_cert_id", source);
    r.renewal.ari_window_start = time_of(*renewal, "ari_window_start", source);
    r.renewal.ari_window_end = time_of(*renewal, "ari_window_end", source);
    r.renewal.ari_renew_at = time_of(*renewal, "ari_renew_at", source);
    r.renewal.ari_fetch_after = time_of(*renewal, "ari_fetch_after", source);
    if (const toml::node* node = renewal->get("alerts_sent")) {
      const toml::array* sent = node->as_array();
      if (!sent) throw corrupt(source, "'alerts_sent' is not a list", node);
      for (const toml::node& item : *sent) {
        auto days = item.value<int64_t>();
        if (!days || *days < 0 || *days > 100000) throw corrupt(source, "'alerts_sent' holds a value that is not a day count", &item);
        r.renewal.alerts_sent.push_back(static_cast<int>(*days));
      }
    }
  }
  if (const toml::table* verification = t["verification"].as_table())
    r.verification = verification_from_toml(*verification, source);
  if (const toml::table* order = t["order"].as_table()) {
    r.order.profile = string_of(*order, "profile", source);
    r.order.preferred_profile = string_of(*order, "preferred_profile", source);
    r.order.preferred_chain = string_of(*order, "preferred_chain", source);
    r.order.reuse_key = bool_of(*order, "reuse_key", source);
    r.order.csr = string_of(*order, "csr", source);
  }
  return r;
}

toml::table account_to_toml(const AccountRecord& r) {
  toml::table t;
  t.insert("url", r.url);
  t.insert("directory_url", r.directory_url);
  t.insert("contacts", to_array(r.contacts));
  put_string(t, "key_type", r.key_type);
  put_time(t, "created_at", r.created_at);
  if (r.status != "valid") t.insert("status", r.status);
  put_time(t, "deactivated_at", r.deactivated_at);
  put_time(t, "key_changed_at", r.key_changed_at);
  put_string(t, "eab_kid", r.eab_kid);
  return t;
}

AccountRecord account_from_toml(const toml::table& t, const std::string& source) {
  AccountRecord r;
  r.url = url_of(t, "url", source, true);
  r.directory_url = url_of(t, "directory_url", source, true);
  r.contacts = strings_of(t, "contacts", source);
  r.key_type = string_of(t, "key_type", source);
  r.created_at = time_of(t, "created_at", source);
  if (std::string status = string_of(t, "status", source); !status.empty()) r.status = status;
  r.deactivated_at = time_of(t, "deactivated_at", source);
  r.key_changed_at = time_of(t, "key_changed_at", source);
  r.eab_kid = string_of(t, "eab_kid", source);
  return r;
}

toml::table ca_timing_to_toml(const CaTimingRecord& r) {
  toml::table t;
  t.insert("validation", toml::table{{"typical_ms", r.validation_ms}, {"samples", r.validation_samples}});
  t.insert("issuance", toml::table{{"typical_ms", r.issuance_ms}, {"samples", r.issuance_samples}});
  return t;
}

CaTimingRecord ca_timing_from_toml(const toml::table& t, const std::string& source) {
  CaTimingRecord r;
  if (const toml::table* validation = t["validation"].as_table()) {
    r.validation_ms = int_of(*validation, "typical_ms", source).value_or(0);
    r.validation_samples = int_of(*validation, "samples", source).value_or(0);
  }
  if (const toml::table* issuance = t["issuance"].as_table()) {
    r.issuance_ms = int_of(*issuance, "typical_ms", source).value_or(0);
    r.issuance_samples = int_of(*issuance, "samples", source).value_or(0);
  }
  return r;
}

std::string serialize(const toml::table& table) {
  std::ostringstream out;
  out << "# Written by certcli " CERTCLI_VERSION ". Safe to read; edit only while certcli is not running.\n";
  out << table << "\n";
  return out.str();
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  // toml++ 3.3.0 has undefined behaviour on some input certcli never writes: it is refused
  // before the parser sees it (certcli/toml_guard.hpp).
  if (auto refusal = refuse_unsafe_toml(text)) throw damaged(source, refusal->line, refusal->reason);
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw damaged(source, static_cast<int>(e.source().begin.line),
                  fmt::format("{} (column {})", e.description(), e.source().begin.column));
  }
}

}  // namespace certcli::store
