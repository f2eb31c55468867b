// The rate-limit budget (README "Rate limits"): the window arithmetic as pure functions of the
// ledger, the limits and a time, and the few steps that read and append the ledger through the
// store. Let's Encrypt counts in sliding windows: an issuance is allowed when fewer than the
// limit were counted in the window that ends now, and each counted one frees its place exactly
// one window after it happened.
#include <certcli/limits.hpp>

#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>
#include <certcli/store.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace certcli::limits {
namespace {

using namespace std::chrono_literals;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Whether `entry` counts against `limit` for `subject`.
bool counts(const Entry& entry, Scope scope, const std::string& subject) {
  switch (scope) {
    case Scope::registered_domain: {
      if (entry.event != Event::certificate) return false;
      auto domains = registered_domains(entry.names);
      return std::find(domains.begin(), domains.end(), subject) != domains.end();
    }
    case Scope::exact_names: return entry.event == Event::certificate && joined(entry.names) == subject;
    case Scope::account: return entry.event == Event::order && entry.account == subject;
  }
  return false;
}

Budget measure(const std::vector<Entry>& entries, const Limit& limit, const std::string& subject, TimePoint now) {
  std::vector<TimePoint> times;
  for (const auto& entry : entries)
    if (entry.time > now - limit.window && counts(entry, limit.scope, subject)) times.push_back(entry.time);
  std::sort(times.begin(), times.end());
  Budget budget;
  budget.limit = limit;
  budget.subject = subject;
  budget.used = static_cast<int>(times.size());
  budget.left = std::max(0, limit.count - budget.used);
  if (!times.empty()) budget.frees_at = times.front() + limit.window;
  // One more fits once used - count + 1 of them have left the window.
  if (budget.used >= limit.count && limit.count > 0)
    budget.fits_at = times[static_cast<size_t>(budget.used - limit.count)] + limit.window;
  return budget;
}

std::vector<std::string> subjects_of(const Entry& entry, Scope scope) {
  switch (scope) {
    case Scope::registered_domain:
      return entry.event == Event::certificate ? registered_domains(entry.names) : std::vector<std::string>{};
    case Scope::exact_names:
      return entry.event == Event::certificate ? std::vector<std::string>{joined(entry.names)} : std::vector<std::string>{};
    case Scope::account:
      return entry.event == Event::order ? std::vector<std::string>{entry.account} : std::vector<std::string>{};
  }
  return {};
}

std::string window_text(std::chrono::seconds window) {
  if (window.count() % 86400 == 0) return fmt::format("{} day{}", window.count() / 86400, window.count() == 86400 ? "" : "s");
  if (window.count() % 3600 == 0) return fmt::format("{} hour{}", window.count() / 3600, window.count() == 3600 ? "" : "s");
  return fmt::format("{} s", window.count());
}

std::string what_counts(const Budget& budget) {
  switch (budget.limit.scope) {
    case Scope::registered_domain: return fmt::format("certificates for names under {}", budget.subject);
    case Scope::exact_names: return fmt::format("certificates for exactly {}", budget.subject);
    case Scope::account: return fmt::format("new orders by the account {}", budget.subject);
  }
  return "";
}

std::string describe(const Budget& budget, const std::string& source) {
  return fmt::format("{} {} in the last {}; {} allows {}", budget.used, what_counts(budget),
                     window_text(budget.limit.window), source.empty() ? "the CA" : source, budget.limit.count);
}

}  // namespace

std::string to_string(Scope scope) {
  switch (scope) {
    case Scope::registered_domain: return "registered_domain";
    case Scope::exact_names: return "exact_names";
    case Scope::account: return "account";
  }
  return "";
}

CaLimits published_limits(const std::string& ca_name) {
  // https://letsencrypt.org/docs/rate-limits/ and /docs/staging-environment/ (as of 2025).
  if (ca_name == "letsencrypt")
    return {"Let's Encrypt", {{Scope::registered_domain, 50, std::chrono::days{7}},
                              {Scope::exact_names, 5, std::chrono::days{7}},
                              {Scope::account, 300, 3h}}};
  if (ca_name == "letsencrypt-staging")
    return {"Let's Encrypt staging", {{Scope::registered_domain, 30000, std::chrono::days{7}},
                                      {Scope::exact_names, 30000, std::chrono::days{7}},
                                      {Scope::account, 1500, 3h}}};
  return {};
}

std::vector<std::string> registered_domains(const std::vector<std::string>& names) {
  std::set<std::string> domains;
  for (const auto& name : names) {
    try {
      domains.insert(registered_domain(name));
    } catch (const std::exception&) {
      domains.insert(name);  // not a DNS name (an IP address): Let's Encrypt counts it by itself
    }
  }
  return {domains.begin(), domains.end()};
}

Decision decide(const std::vector<Entry>& entries, const CaLimits& limits, const Planned& next, TimePoint now) {
  std::vector<Entry> at_ca;
  for (const auto& entry : entries)
    if (entry.ca == next.ca) at_ca.push_back(entry);
  const std::vector<std::string> names = sorted(next.names);
  // Let's Encrypt calls an issuance a renewal when a certificate for the same exact names was
  // issued before; the ledger may know one the domain record does not (a removed domain).
  const bool renewal = next.renewal || std::any_of(at_ca.begin(), at_ca.end(), [&](const Entry& e) {
                         return e.event == Event::certificate && sorted(e.names) == names;
                       });
  Decision decision;
  for (const Limit& limit : limits.limits) {
    std::vector<std::string> subjects;
    if (limit.scope == Scope::registered_domain) subjects = registered_domains(names);
    if (limit.scope == Scope::exact_names) subjects = {joined(names)};
    if (limit.scope == Scope::account && !next.account.empty()) subjects = {next.account};
    for (const auto& subject : subjects) {
      Budget budget = measure(at_ca, limit, subject, now);
      budget.exempt = next.ari || (renewal && limit.scope != Scope::exact_names);
      if (!budget.exempt) {
        if (budget.used + 1 > limit.count) {
          decision.verdict = Verdict::refused;
          if (budget.fits_at && (!decision.retry_at || *budget.fits_at > *decision.retry_at))
            decision.retry_at = budget.fits_at;
        } else if (limit.count - budget.used - 1 <= std::max(1, limit.count / 10) &&
                   decision.verdict == Verdict::ok) {
          decision.verdict = Verdict::close;
        }
      }
      decision.budgets.push_back(std::move(budget));
    }
  }
  return decision;
}

std::vector<Budget> budgets(const std::vector<Entry>& entries, const CaLimits& limits, const std::string& ca,
                            TimePoint now) {
  std::vector<Budget> out;
  for (const Limit& limit : limits.limits) {
    std::set<std::string> subjects;
    for (const auto& entry : entries)
      if (entry.ca == ca && entry.time > now - limit.window)
        for (auto& subject : subjects_of(entry, limit.scope)) subjects.insert(subject);
    for (const auto& subject : subjects) out.push_back(measure(entries, limit, subject, now));
  }
  // Entries of other CAs never reach measure() through a subject of this one, except an
  // account URL two CAs could share: recount on this CA's entries alone.
  std::vector<Entry> at_ca;
  for (const auto& entry : entries)
    if (entry.ca == ca) at_ca.push_back(entry);
  for (auto& budget : out) budget = measure(at_ca, budget.limit, budget.subject, now);
  return out;
}

std::vector<Entry> prune(std::vector<Entry> entries, TimePoint now) {
  std::erase_if(entries, [&](const Entry& e) { return e.time <= now - kRetention || e.time > now + std::chrono::days{1}; });
  return entries;
}

namespace {

nlohmann::json entry_json(const Entry& e) {
  return {{"time", format_rfc3339(e.time)},
          {"event", e.event == Event::order ? "order" : "certificate"},
          {"ca", e.ca},
          {"account", e.account},
          {"names", e.names},
          {"renewal", e.renewal},
          {"ari", e.ari}};
}

}  // namespace

std::string serialize_entry(const Entry& entry) { return entry_json(entry).dump() + "\n"; }

std::string serialize(const std::vector<Entry>& entries) {
  std::string text;
  for (const auto& e : entries) text += serialize_entry(e);
  return text;
}

std::vector<Entry> parse(const std::string& text, const std::string& file) {
  auto damaged = [&](const std::string& what) {
    return Error(ErrorKind::state, fmt::format("{}: {}", file, what),
                 "the rate-limit ledger is damaged: delete it, and certcli counts anew from the next order "
                 "(the CA's own count is unaffected)",
                 file);
  };
  auto entry_from = [&](const nlohmann::json& item) {
    try {
      Entry e;
      e.time = parse_rfc3339(item.at("time").get<std::string>());
      const std::string event = item.at("event").get<std::string>();
      if (event != "order" && event != "certificate") throw damaged(fmt::format("unknown event '{}'", event));
      e.event = event == "order" ? Event::order : Event::certificate;
      e.ca = item.at("ca").get<std::string>();
      e.account = item.value("account", std::string());
      e.names = sorted(item.at("names").get<std::vector<std::string>>());
      e.renewal = item.value("renewal", false);
      e.ari = item.value("ari", false);
      return e;
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw damaged(fmt::format("an entry is malformed ({})", e.what()));
    }
  };
  std::vector<Entry> entries;
  // The first format ({"version": 1, "entries": [...]}, rewritten whole for every event) is still
  // read; the next write replaces it with lines.
  nlohmann::json whole = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (whole.is_object() && whole.contains("entries")) {
    if (!whole["entries"].is_array()) throw damaged("not a certcli rate-limit ledger");
    for (const auto& item : whole["entries"]) entries.push_back(entry_from(item));
    return entries;
  }
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json item = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!item.is_object()) {
      // A last line without its newline is an append a crash cut short: the CA counted that
      // event or not, and the next append starts on a line of its own.
      if (end == std::string::npos && line_number > 1) break;
      throw damaged(line_number == 1 ? std::string("not a certcli rate-limit ledger")
                                     : fmt::format("line {} is not a ledger entry", line_number));
    }
    entries.push_back(entry_from(item));
  }
  return entries;
}

CaLimits limits_for(const lifecycle::CaSelection& ca, const Settings& settings) {
  return settings.custom ? *settings.custom : published_limits(ca.name);
}

CaLimits parse_custom_limits(const std::string& text) {
  CaLimits limits{"the test limits (CERTCLI_TEST_LIMITS)", {}};
  std::optional<std::chrono::seconds> window;
  std::vector<std::pair<std::string, int>> given;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() + 1 : end + 1;
    auto eq = item.find('=');
    int value = -1;
    if (eq != std::string::npos) std::from_chars(item.data() + eq + 1, item.data() + item.size(), value);
    const std::string key = eq == std::string::npos ? item : item.substr(0, eq);
    if (value < 0 || (key != "certificates_per_domain" && key != "duplicates" && key != "orders" && key != "window"))
      throw Error(ErrorKind::usage, fmt::format("CERTCLI_TEST_LIMITS: '{}' is not KEY=NUMBER", item),
                  "give certificates_per_domain=N,duplicates=N,orders=N[,window=SECONDS] (tests only)");
    if (key == "window")
      window = std::chrono::seconds{value};
    else
      given.emplace_back(key, value);
  }
  for (const auto& [key, value] : given) {
    if (key == "certificates_per_domain")
      limits.limits.push_back({Scope::registered_domain, value, window.value_or(std::chrono::days{7})});
    if (key == "duplicates") limits.limits.push_back({Scope::exact_names, value, window.value_or(std::chrono::days{7})});
    if (key == "orders") limits.limits.push_back({Scope::account, value, window.value_or(std::chrono::hours{3})});
  }
  return limits;
}

namespace {

std::vector<Entry> read_ledger(const store::Store& store) {
  auto text = store.load_ledger();
  return text ? parse(*text, store.ledger_location()) : std::vector<Entry>{};
}

}  // namespace

Planned plan_for(const store::Store& store, const lifecycle::CaSelection& ca, const std::string& account_id,
                 const store::DomainRecord& record, bool ari) {
  Planned planned;
  planned.ca = ca.directory_url;
  planned.names = sorted(record.names);
  planned.ari = ari;
  try {
    if (auto account = store.load_account(account_id)) planned.account = account->url;
  } catch (const Error&) {
    // An account record that cannot be read stops the run later, with its own message.
  }
  planned.renewal = !record.live_version.empty() && record.directory_url == ca.directory_url &&
                    sorted(record.covered_names) == planned.names;
  return planned;
}

namespace {

// A decision as text: empty when the order fits with room to spare, a warning when a budget is
// close (or passed while `settings.ignore`); LimitReached when a budget would be passed.
std::string judge(const Decision& decision, const CaLimits& limits, const store::DomainRecord& record, TimePoint now,
                  const Settings& settings) {
  if (decision.verdict == Verdict::ok) return {};
  std::vector<const Budget*> tight;
  for (const auto& budget : decision.budgets)
    if (!budget.exempt && (decision.verdict == Verdict::close ? budget.left <= std::max(1, budget.limit.count / 10) + 1
                                                              : budget.used + 1 > budget.limit.count))
      tight.push_back(&budget);
  std::string detail;
  for (const Budget* budget : tight) detail += (detail.empty() ? "" : "; ") + describe(*budget, limits.source);
  if (decision.verdict == Verdict::close)
    return fmt::format("close to the CA's rate limit: {} (certcli limits shows every budget)", detail);
  const std::string when = decision.retry_at ? format_rfc3339(*decision.retry_at) : std::string("later");
  if (settings.ignore)
    return fmt::format("past the CA's rate limit, ordering anyway (--ignore-limits): {}", detail);
  throw LimitReached(
      fmt::format("a certificate for {} now would pass the CA's rate limit: {}", record.name, detail),
      fmt::format("wait until {}, when the budget has room again (certcli limits shows every budget); the CA would "
                  "refuse the order until then. Renewing the same names, or an ARI renewal, is exempt from some "
                  "limits; --ignore-limits orders anyway",
                  when),
      record.name, decision.retry_at.value_or(now + std::chrono::hours{1}));
}

}  // namespace

std::string check_budget(const store::Store& store, TimePoint now, const lifecycle::CaSelection& ca,
                         const std::string& account_id, const store::DomainRecord& record, bool ari,
                         const Settings& settings) {
  const CaLimits limits = limits_for(ca, settings);
  if (limits.limits.empty()) return {};
  return judge(decide(read_ledger(store), limits, plan_for(store, ca, account_id, record, ari), now), limits, record,
               now, settings);
}

std::string RunLedger::check_and_hold(TimePoint now, const lifecycle::CaSelection& ca, const std::string& account_id,
                                      const store::DomainRecord& record, bool ari, const Settings& settings) {
  const CaLimits limits = limits_for(ca, settings);
  if (limits.limits.empty()) return {};
  const Planned planned = plan_for(store_, ca, account_id, record, ari);
  std::lock_guard guard(mutex_);
  if (!read_) read_ = read_ledger(store_);
  std::vector<Entry> entries = *read_;
  for (const auto& [domain, held] : held_) entries.insert(entries.end(), held.begin(), held.end());
  std::string warning = judge(decide(entries, limits, planned, now), limits, record, now, settings);
  // What record_event will write for it: the order, then the certificate.
  Entry order{now, Event::order, planned.ca, planned.account.empty() ? planned.ca : planned.account, planned.names,
              planned.renewal, ari};
  Entry certificate = order;
  certificate.event = Event::certificate;
  held_[record.name] = {std::move(order), std::move(certificate)};
  return warning;
}

void RunLedger::release_certificate(const std::string& domain) {
  std::lock_guard guard(mutex_);
  auto it = held_.find(domain);
  if (it == held_.end()) return;
  std::erase_if(it->second, [](const Entry& e) { return e.event == Event::certificate; });
}

std::string record_event(store::Store& store, TimePoint now, Event event, const std::string& ca,
                         const std::string& account, const store::DomainRecord& record, bool ari) noexcept {
  try {
    Entry entry;
    entry.time = now;
    entry.event = event;
    entry.ca = ca;
    entry.account = account.empty() ? ca : account;
    entry.names = sorted(record.names);
    entry.renewal = !record.live_version.empty() && sorted(record.covered_names) == entry.names;
    entry.ari = ari;
    auto lock = store.lock(std::chrono::seconds{60});  // the ledger is shared by every domain
    // The first event a process records in a ledger rewrites it without what is past every
    // window (and in lines, if it was in the first format); later ones append a line, so that a
    // run renewing thousands of certificates writes each event once, not the whole ledger again.
    static std::mutex compacted_mutex;
    static std::set<std::string> compacted;
    std::unique_lock guard(compacted_mutex);
    if (compacted.insert(store.ledger_location()).second) {
      guard.unlock();
      std::vector<Entry> entries = prune(read_ledger(store), now);
      entries.push_back(std::move(entry));
      store.save_ledger(serialize(entries));
    } else {
      guard.unlock();
      store.append_ledger(serialize_entry(entry));
    }
    return {};
  } catch (const std::exception& e) {
    return fmt::format("the rate-limit ledger was not updated: {}", e.what());
  }
}

std::vector<CaReport> report(const store::Store& store, TimePoint now, const lifecycle::CaSelection* ca,
                             const Settings& settings) {
  const std::vector<Entry> entries = prune(read_ledger(store), now);
  std::vector<std::string> directories;
  if (ca) {
    directories.push_back(ca->directory_url);
  } else {
    for (const auto& entry : entries)
      if (std::find(directories.begin(), directories.end(), entry.ca) == directories.end())
        directories.push_back(entry.ca);
  }
  std::vector<CaReport> out;
  for (const auto& directory : directories) {
    CaReport r;
    lifecycle::CaSelection selection = ca ? *ca : lifecycle::select_ca("", directory, false);
    r.name = selection.name;
    r.directory_url = directory;
    r.limits = limits_for(selection, settings);
    // A CA without known limits: its counts, over Let's Encrypt's windows, with nothing to pass.
    CaLimits counted = r.limits;
    if (counted.limits.empty())
      counted.limits = {{Scope::registered_domain, 0, std::chrono::days{7}},
                        {Scope::exact_names, 0, std::chrono::days{7}},
                        {Scope::account, 0, 3h}};
    r.budgets = budgets(entries, counted, directory, now);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace certcli::limits
