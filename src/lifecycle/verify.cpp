// verify: the checks that must hold before a certificate is ordered (issue #18), the pure rules
// they apply (CAA per RFC 8659, the dns-01 delegation status), and `certcli verify` storing what
// it found. Every lookup goes through the caller's resolver; nothing here asks the CA.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>
#include <certcli/verify.hpp>

#include "lifecycle/steps.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

namespace certcli::lifecycle {
namespace {

constexpr auto kOwnershipTokenLifetime = std::chrono::hours{24 * 30};
constexpr std::string_view kOwnershipPrefix = "certcli-verify=";
// The solver's own limit for one update.
constexpr auto kUpdateProbeTimeout = std::chrono::seconds{10};

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

// A DNS name as the resolver writes it: lowercase, no trailing dot.
std::string dns_name(std::string name) {
  name = lowercase(trim(name));
  while (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

std::string without_wildcard(const std::string& name) { return is_wildcard(name) ? name.substr(2) : name; }

// `_acme-challenge.example.com. TXT "value"`: a record written out the way a zone file has it.
std::string txt_record(const std::string& owner, const std::string& value) {
  return fmt::format("{}. TXT \"{}\"", owner, value);
}

std::string cname_record(const std::string& owner, const std::string& target) {
  return fmt::format("{}. CNAME {}.", owner, target);
}

std::string joined_txt_records(const std::string& owner, const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) out += (out.empty() ? "`" : ", `") + txt_record(owner, value) + "`";
  return out;
}

CheckResult failed(std::string check, std::string status, std::string message, std::string fix) {
  return CheckResult{std::move(check), false, false, std::move(status), std::move(message), std::move(fix)};
}

// A lookup that could not be made is a failed check, not a failed run: the other checks still
// tell the user what else is wrong. A stop request still stops.
template <class Check>
CheckResult guarded(const std::string& check, Check&& run) {
  try {
    return run();
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::interrupted) throw;
    return failed(check, "error", error.what(), error.hint());
  }
}

bool is_known_caa_tag(const std::string& tag) {
  // RFC 8659 issue/issuewild/iodef, RFC 9495 issuemail, and issuevmc (BIMI): a CA knows these.
  static const std::array<std::string_view, 5> known = {"issue", "issuewild", "iodef", "issuemail", "issuevmc"};
  return std::find(known.begin(), known.end(), tag) != known.end();
}

// RFC 8659 4.2: the issuer-domain-name is what comes before the first ';', trimmed.
std::string issuer_domain(const std::string& value) { return dns_name(value.substr(0, value.find(';'))); }

CheckResult address_check(const std::string& name, const dns::Resolver& resolver) {
  return guarded("address", [&] {
    if (is_ip_address(name))
      return CheckResult{"address", true, false, "valid", fmt::format("{} is an IP address: nothing to look up", name), ""};
    auto addresses = resolver.addresses(name);
    if (addresses.empty())
      return failed("address", "no-address", fmt::format("{} has no A or AAAA record", name),
                    fmt::format("create an A or AAAA record for {} with this server's address", name));
    return CheckResult{"address", true, false, "valid", fmt::format("{} resolves to {}", name, fmt::join(addresses, ", ")), ""};
  });
}

CheckResult http01_check(const std::string& name, const challenge::Settings& effective,
                         const ChallengeEnvironment& environment, const HttpSolverFor& http_solver) {
  return guarded("http-01", [&] {
    challenge::Solver& solver = http_solver(effective.http);
    auto result = challenge::http01_preflight(solver, name, *environment.resolver, environment.http01_port);
    if (!result.ok()) return failed("http-01", challenge::to_string(result.cause), result.message, result.hint);
    // The probe's own token is noise to the reader: the directory is what the CA fetches from.
    std::string where = result.url.substr(0, result.url.find("/.well-known/acme-challenge/"));
    CheckResult check{"http-01", true, false, "valid",
                      fmt::format("{}/.well-known/acme-challenge/ reaches certcli ({})", where.empty() ? "http://" + name : where,
                                  solver.describe()),
                      ""};
    if (!result.warnings.empty()) {
      check.warning = true;
      check.message += fmt::format("; {}", fmt::join(result.warnings, "; "));
    }
    return check;
  });
}

CheckResult dns01_check(const std::string& name, const challenge::DnsSettings& dns, const dns::Resolver& resolver) {
  return guarded("dns-01", [&] {
    if (!dns.configured())
      return failed("dns-01", "no-provider", fmt::format("{} needs dns-01, and no way to publish its TXT record is configured", name),
                    "give the domain a dns-01 provider: RFC 2136 updates, a hook program, or manual");
    ChallengeRecordFound found;
    found.record_name = challenge::dns01_record_name(name);
    dns::Answer answer = resolver.lookup(found.record_name, dns::RecordType::TXT);
    if (answer.rcode != 0 && answer.rcode != 3)
      return failed("dns-01", "error", fmt::format("the resolver answered RCODE {} for {} TXT", answer.rcode, found.record_name),
                    "check the resolver certcli uses and the zone's servers");
    found.cname = dns_name(answer.cname);
    // Values seen through a CNAME belong to its target, not to the name itself.
    if (found.cname.empty()) found.txt = answer.values;
    CheckResult check = classify_challenge_record(found, dns.alias);
    if (!check.ok) return check;
    // The zone the solver will update: the alias's, or where a CNAME leads, or the name's own.
    std::string target = !dns.alias.empty()     ? dns_name(dns.alias)
                         : !found.cname.empty() ? resolver.follow_cnames(found.record_name)
                                                : found.record_name;
    try {
      std::string zone = dns.zone.empty() ? resolver.find_zone(target) : dns_name(dns.zone);
      check.message += fmt::format(" (zone {})", zone);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::interrupted) throw;
      return failed("dns-01", "no-zone", fmt::format("no zone holds {}: {}", target, error.what()),
                    error.hint().empty() ? fmt::format("make sure {} lies in a zone the resolver can see", target) : error.hint());
    }
    return check;
  });
}

// The zone the RFC 2136 solver updates for `name`: the configured one, else the zone holding the
// end of the CNAME chain at _acme-challenge.NAME, where the solver writes the record.
std::string update_zone(const std::string& name, const challenge::DnsSettings& dns, const dns::Resolver& resolver) {
  if (!dns.zone.empty()) return dns_name(dns.zone);
  return resolver.find_zone(resolver.follow_cnames(challenge::dns01_record_name(name)));
}

// Whether the RFC 2136 server takes updates of `zone` with the configured key, by an update
// that changes nothing (dns::check_update_access): a wrong key, secret or ACL found now, not
// after an order was placed.
CheckResult dns_update_check(const std::string& zone, const challenge::DnsSettings& dns,
                             const ChallengeEnvironment& environment) {
  return guarded("dns-update", [&]() -> CheckResult {
    dns::ServerAddress server = dns::parse_server_address(dns.rfc2136_server, "--dns-rfc2136");
    std::optional<dns::TsigKey> key;
    if (!dns.tsig_key.empty()) {
      dns::TsigKey tsig;
      tsig.name = dns.tsig_key;
      if (!dns.tsig_algorithm.empty()) tsig.algorithm = dns.tsig_algorithm;
      // As the solver does: the environment's getenv, else the process's.
      tsig.secret = challenge::resolve_secret(
          dns.tsig_secret, environment.getenv ? environment.getenv : [](const char* variable) {
            return static_cast<const char*>(std::getenv(variable));
          });
      key = std::move(tsig);
    }
    try {
      dns::check_update_access(server, zone, key, kUpdateProbeTimeout);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::interrupted) throw;
      return failed("dns-update", error.kind() == ErrorKind::challenge ? "rejected" : "error", error.what(), error.hint());
    }
    return CheckResult{"dns-update", true, false, "valid",
                       fmt::format("{} accepts updates for zone {} {}", server.to_string(), zone,
                                   key ? "signed with key " + dns_name(key->name) : std::string("without a key")),
                       ""};
  });
}

// The CAA records found for a name, by the name the climb starts at: `example.com` and
// `*.example.com` start at the same one (RFC 8659 3), so a wildcard order looks up once.
struct CaaFound {
  std::vector<dns::CaaRecord> records;
  std::string found_at;
};
using CaaCache = std::map<std::string, CaaFound>;

CheckResult caa_check(const std::string& name, const ChallengeEnvironment& environment, CaaCache& cache) {
  return guarded("caa", [&] {
    // CAA records live in DNS names' zones; none governs an IP address (RFC 8738 7).
    if (is_ip_address(name))
      return CheckResult{"caa", true, false, "valid", "CAA does not apply to an IP address", ""};
    const std::string start = is_wildcard(name) ? name.substr(2) : name;
    auto cached = cache.find(start);
    if (cached == cache.end()) {
      CaaFound found;
      found.records = environment.resolver->relevant_caa(start, &found.found_at);
      cached = cache.emplace(start, std::move(found)).first;
    }
    const std::string& found_at = cached->second.found_at;
    const auto& records = cached->second.records;
    if (records.empty()) return CheckResult{"caa", true, false, "valid", "no CAA records: any CA may issue", ""};
    bool wildcard = is_wildcard(name);
    CaaVerdict verdict = evaluate_caa(records, environment.caa_identities, wildcard);
    if (verdict.allowed)
      return CheckResult{"caa", true, false, "valid", fmt::format("CAA at {} {}", found_at, verdict.allows), ""};
    if (environment.caa_identities.empty())
      return failed("caa", "forbidden",
                    fmt::format("CAA at {} {}, and the CA's CAA identity is not known", found_at, verdict.allows),
                    "set ca.caa_identity in config.toml to the CA's CAA identity (e.g. letsencrypt.org)");
    bool uses_issuewild = wildcard && std::any_of(records.begin(), records.end(), [](const dns::CaaRecord& r) {
                            return r.tag == "issuewild";
                          });
    return failed("caa", "forbidden", fmt::format("CAA at {} {}: {}", found_at, verdict.allows, verdict.reason),
                  fmt::format("add `{}. CAA 0 {} \"{}\"`", found_at, uses_issuewild ? "issuewild" : "issue",
                              environment.caa_identities.front()));
  });
}

CheckResult ownership_check(const std::string& name, const store::VerificationState& state, const dns::Resolver& resolver) {
  return guarded("ownership", [&] {
    // An IP address has no DNS name to hold the token: only http-01 on the address itself, which
    // the CA checks anyway, shows control of it (RFC 8738 7).
    if (is_ip_address(name))
      return CheckResult{"ownership", true, false, "not-applicable",
                         fmt::format("{} is an IP address: no DNS name can hold an ownership token, and http-01 on "
                                     "the address itself shows control of it",
                                     name),
                         ""};
    std::string owner = ownership_record_name(name);
    if (state.ownership_token.empty())
      return failed("ownership", "missing", "the domain has no ownership token yet",
                    "run certcli verify for the domain: it makes one and names the TXT record to create");
    std::string expected = std::string(kOwnershipPrefix) + state.ownership_token;
    std::string create = txt_record(owner, expected);
    auto answer = resolver.lookup(owner, dns::RecordType::TXT);
    std::vector<std::string> ours;
    for (const auto& value : answer.values)
      if (value.starts_with(kOwnershipPrefix)) ours.push_back(value);
    if (std::find(ours.begin(), ours.end(), expected) != ours.end())
      return CheckResult{"ownership", true, false, "valid", fmt::format("{} holds the ownership token", owner), ""};
    if (ours.empty())
      return failed("ownership", "missing", fmt::format("{} has no certcli-verify TXT record", owner),
                    fmt::format("create `{}`", create));
    return failed("ownership", "wrong",
                  fmt::format("{} holds {} but not the current token", owner, fmt::join(ours, ", ")),
                  fmt::format("replace {} with `{}`", joined_txt_records(owner, ours), create));
  });
}

}  // namespace

bool NameReport::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.ok; });
}

bool VerifyReport::ok() const {
  return std::all_of(names.begin(), names.end(), [](const NameReport& n) { return n.ok(); });
}

int VerifyReport::failures() const {
  int count = 0;
  for (const auto& name : names)
    for (const auto& check : name.checks) count += check.ok ? 0 : 1;
  return count;
}

std::string ownership_record_name(const std::string& name) { return "_certcli-verify." + without_wildcard(name); }

bool ownership_token_expired(const store::VerificationState& state, TimePoint now) {
  return state.ownership_token.empty() || !state.ownership_token_expires_at || *state.ownership_token_expires_at <= now;
}

void new_ownership_token(store::DomainRecord& record, TimePoint now) {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw Error(ErrorKind::crypto, "the system's random source gave no bytes for an ownership token");
  record.verification.ownership_token =
      crypto::base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  record.verification.ownership_token_expires_at = now + kOwnershipTokenLifetime;
  record.verification.ownership_verified_at.reset();
}

std::vector<std::string> known_caa_identities(const std::string& directory_url) {
  struct Known {
    std::string_view host;
    std::string_view identity;
  };
  // The CAs' published CAA identities (each CA's CPS, section 4.2.4).
  static constexpr Known known[] = {
      {"acme-v02.api.letsencrypt.org", "letsencrypt.org"},  {"acme-staging-v02.api.letsencrypt.org", "letsencrypt.org"},
      {"acme.zerossl.com", "sectigo.com"},                  {"dv.acme-v02.api.pki.goog", "pki.goog"},
      {"dv.acme-v02.test-api.pki.goog", "pki.goog"},        {"api.buypass.com", "buypass.com"},
      {"api.test4.buypass.no", "buypass.com"},
  };
  std::string_view rest = directory_url;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) rest.remove_prefix(scheme + 3);
  std::string host = lowercase(std::string(rest.substr(0, rest.find_first_of("/:"))));
  for (const auto& entry : known)
    if (entry.host == host) return {std::string(entry.identity)};
  return {};
}

CaaVerdict evaluate_caa(const std::vector<dns::CaaRecord>& records, const std::vector<std::string>& identities,
                        bool wildcard) {
  if (records.empty()) return {true, "sets no CAA records: any CA may issue", ""};
  // RFC 8659 4.1: a critical property the CA does not understand forbids issuance.
  for (const auto& record : records)
    if ((record.flags & 128) != 0 && !is_known_caa_tag(lowercase(record.tag)))
      return {false, fmt::format("has a critical property '{}'", record.tag),
              fmt::format("RFC 8659 forbids issuance on a critical property the CA does not know ('{}' with flag 128)",
                          record.tag)};
  // RFC 8659 4.3: for a wildcard name, issuewild properties replace issue ones when there are any;
  // for any other name they are ignored.
  bool any_issuewild = std::any_of(records.begin(), records.end(), [](const dns::CaaRecord& r) {
    return lowercase(r.tag) == "issuewild";
  });
  std::string tag = wildcard && any_issuewild ? "issuewild" : "issue";
  std::vector<std::string> issuers;
  bool any = false;
  for (const auto& record : records) {
    if (lowercase(record.tag) != tag) continue;
    any = true;
    std::string issuer = issuer_domain(record.value);
    if (!issuer.empty() && std::find(issuers.begin(), issuers.end(), issuer) == issuers.end()) issuers.push_back(issuer);
  }
  if (!any) return {true, fmt::format("has no {} property: any CA may issue", tag), ""};
  std::string allows = issuers.empty() ? fmt::format("forbids every CA ({} \";\")", tag)
                                       : fmt::format("allows {} ({})", fmt::join(issuers, ", "), tag);
  for (const auto& identity : identities)
    if (std::find(issuers.begin(), issuers.end(), dns_name(identity)) != issuers.end()) return {true, allows, ""};
  if (identities.empty()) return {false, allows, "the CA's CAA identity is not known"};
  return {false, allows, fmt::format("the CA is {}", fmt::join(identities, ", "))};
}

CheckResult classify_challenge_record(const ChallengeRecordFound& found, const std::string& alias_setting) {
  const std::string& owner = found.record_name;
  std::string cname = dns_name(found.cname);
  if (alias_setting.empty()) {
    if (!cname.empty())
      return {"dns-01", true, false, "valid", fmt::format("{} is delegated to {}; certcli writes the record there", owner, cname), ""};
    if (!found.txt.empty())
      return {"dns-01", true, true, "valid",
              fmt::format("{} holds {} TXT value(s) left from an earlier validation", owner, found.txt.size()),
              fmt::format("they do no harm; to tidy up, delete {}", joined_txt_records(owner, found.txt))};
    return {"dns-01", true, false, "valid", fmt::format("{} is free for certcli's TXT record", owner), ""};
  }
  std::string alias = dns_name(alias_setting);
  std::string create = cname_record(owner, alias);
  if (cname == alias) return {"dns-01", true, false, "valid", fmt::format("{} is delegated to {}", owner, alias), ""};
  if (!cname.empty())
    return failed("dns-01", "wrong", fmt::format("{} is a CNAME to {}, not to {}", owner, cname, alias),
                  fmt::format("change `{}` to `{}`", cname_record(owner, cname), create));
  if (!found.txt.empty())
    return failed("dns-01", "duplicate",
                  fmt::format("{} holds TXT records where the CNAME to {} should be", owner, alias),
                  fmt::format("delete {}, then create `{}`", joined_txt_records(owner, found.txt), create));
  return failed("dns-01", "missing", fmt::format("{} has no CNAME to {}", owner, alias), fmt::format("create `{}`", create));
}

VerifyReport run_checks(const store::DomainRecord& record, const challenge::Settings& effective,
                        const ChallengeEnvironment& environment, const HttpSolverFor& http_solver) {
  if (environment.resolver == nullptr) throw Error(ErrorKind::internal, "run_checks called without a resolver");
  const dns::Resolver& resolver = *environment.resolver;
  VerifyReport report;
  report.domain = record.name;
  bool require_ownership = environment.require_ownership || record.verification.require_ownership;
  std::set<std::string> update_zones;  // zones whose dns-update check has run
  CaaCache caa_found;
  for (const auto& name : record.names) {
    NameReport checks{name, effective.type_for(name), {}};
    if (checks.challenge_type == "http-01") {
      checks.checks.push_back(address_check(name, resolver));
      if (checks.checks.back().ok && http_solver) checks.checks.push_back(http01_check(name, effective, environment, http_solver));
    } else {
      checks.checks.push_back(dns01_check(name, effective.dns, resolver));
      // Once per zone: the first name whose record lies there reports whether the server takes
      // the key. Only after dns-01 holds: with a delegation still missing, the zone is not yet
      // the one the solver will write to.
      if (checks.checks.back().ok && effective.dns.provider() == "rfc2136") {
        std::optional<CheckResult> update;
        try {
          std::string zone = update_zone(name, effective.dns, resolver);
          if (update_zones.insert(zone).second) update = dns_update_check(zone, effective.dns, environment);
        } catch (const Error& error) {
          if (error.kind() == ErrorKind::interrupted) throw;
          update = failed("dns-update", "no-zone", error.what(), error.hint());
        }
        if (update) checks.checks.push_back(std::move(*update));
      }
    }
    checks.checks.push_back(caa_check(name, environment, caa_found));
    if (require_ownership) checks.checks.push_back(ownership_check(name, record.verification, resolver));
    report.names.push_back(std::move(checks));
  }
  return report;
}

void require_passed(const VerifyReport& report) {
  for (const auto& name : report.names)
    for (const auto& check : name.checks) {
      if (check.ok) continue;
      int others = report.failures() - 1;
      std::string more = others > 0 ? fmt::format(" ({} other check{} failed too; certcli verify {} lists them)", others,
                                                  others == 1 ? "" : "s", report.domain)
                                    : "";
      throw Error(ErrorKind::preflight, fmt::format("{}: {} check failed: {}{}", name.name, check.check, check.message, more),
                  check.fix, name.name);
    }
}

VerifyReport verify_domain(store::Store& store, const Clock& clock, const VerifyRequest& request) {
  store::DomainRecord listed = require_domain(store, request.name);
  auto domain_lock = store.lock_domain(listed.name, std::chrono::seconds{60});
  store::DomainRecord record = require_domain(store, listed.name);  // as it is now, under the lock
  const TimePoint now = clock.now();

  ChallengeEnvironment environment = request.environment;
  environment.require_ownership = environment.require_ownership || record.verification.require_ownership;
  bool renewed = false;
  if (environment.require_ownership && ownership_token_expired(record.verification, now)) {
    new_ownership_token(record, now);
    renewed = true;
  }
  std::string directory_url = request.ca                     ? request.ca->directory_url
                              : !record.directory_url.empty() ? record.directory_url
                              : request.default_ca            ? request.default_ca->directory_url
                                                              : select_ca("", "", false).directory_url;
  for (auto& identity : known_caa_identities(directory_url))
    if (std::find(environment.caa_identities.begin(), environment.caa_identities.end(), identity) ==
        environment.caa_identities.end())
      environment.caa_identities.push_back(std::move(identity));
  // One solver for the run, made when the first http-01 name needs it.
  std::unique_ptr<challenge::Solver> solver;
  HttpSolverFor http_solver = [&solver, &environment](const challenge::HttpSettings& settings) -> challenge::Solver& {
    if (!solver) solver = challenge::make_http_solver(settings, environment.http01_directory);
    return *solver;
  };
  VerifyReport report = run_checks(record, challenge::merge_settings(record.challenge, request.default_challenge),
                                   environment, http_solver);
  report.ownership_token_renewed = renewed;

  auto& state = record.verification;
  state.verified = report.ok();
  state.checked_at = now;
  state.names.clear();
  bool ownership_held = environment.require_ownership;
  for (const auto& checked : report.names) {
    store::NameCheck stored{checked.name, checked.challenge_type, "", checked.ok(), ""};
    for (const auto& check : checked.checks) {
      if (check.check == checked.challenge_type || check.check == "address") stored.dns_status = check.status;
      if (check.check == "ownership" && !check.ok) ownership_held = false;
    }
    auto first_failed = std::find_if(checked.checks.begin(), checked.checks.end(), [](const CheckResult& c) { return !c.ok; });
    if (first_failed != checked.checks.end())
      stored.detail = first_failed->fix.empty() ? first_failed->message
                                                : fmt::format("{}; fix: {}", first_failed->message, first_failed->fix);
    else if (!checked.checks.empty())
      stored.detail = checked.checks.front().message;
    state.names.push_back(std::move(stored));
  }
  if (ownership_held) state.ownership_verified_at = now;
  record.last_updated_at = now;
  store.save_domain(record);

  nlohmann::json details = {{"ok", report.ok()}, {"failed_checks", report.failures()}};
  if (renewed) details["ownership_token_renewed"] = true;
  steps::log_event(store, clock, report.ok() ? "domain.verified" : "domain.verify_failed", record.name, std::move(details));
  return report;
}

}  // namespace certcli::lifecycle
