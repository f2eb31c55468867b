// certcli status [NAME] [--json | --timeline]
#include "cli/cli.hpp"
#include "cli/terminal.hpp"

#include <certcli/names.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {
namespace {

// What the last `certcli verify` found; null when it never ran.
nlohmann::json verification_json(const store::VerificationState& v) {
  if (!v.checked_at) return nullptr;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& n : v.names)
    names.push_back({{"name", n.name},
                     {"challenge_type", n.challenge_type},
                     {"dns_status", n.dns_status.empty() ? nlohmann::json() : nlohmann::json(n.dns_status)},
                     {"ok", n.ok},
                     {"detail", n.detail}});
  return {{"verified", v.verified}, {"checked_at", format_rfc3339(*v.checked_at)}, {"names", names}};
}

// "yes (2026-11-28 10:00 UTC)", "no (...)", "never checked ...".
std::string describe_verification(const store::DomainRecord& r) {
  const auto& v = r.verification;
  if (!v.checked_at) return fmt::format("never checked (`certcli verify {}` checks DNS, HTTP and CAA)", r.name);
  return fmt::format("{} ({:%Y-%m-%d %H:%M} UTC)", v.verified ? "yes" : "no", *v.checked_at);
}

}  // namespace

// The one JSON shape of a domain; `domain show --json` adds to it.
namespace {

// "revoked" while a revoked certificate is still the live one (until a renewal replaces it).
std::string shown_status(const store::DomainRecord& r) {
  if (r.revoked_at && r.status == store::CertificateStatus::ready) return "revoked";
  return store::to_string(r.status);
}

}  // namespace

nlohmann::json domain_json(const lifecycle::DomainStatus& status, TimePoint now) {
  const auto& r = status.record;
  nlohmann::json out = {{"domain", r.name},
                        {"names", r.names},
                        {"management", r.management},
                        {"status", shown_status(r)},
                        {"phase", r.phase == store::IssuePhase::none ? nlohmann::json() : nlohmann::json(store::to_string(r.phase))},
                        {"challenge", r.challenge.type_for(r.name)},
                        {"solver", challenge::describe(r.challenge)},
                        {"ca", r.directory_url.empty() ? nlohmann::json() : nlohmann::json(r.directory_url)},
                        {"key_type", r.key_type}};
  auto put_time = [&](const char* key, const std::optional<TimePoint>& t) {
    out[key] = t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
  };
  put_time("issued_at", r.issued_at);
  put_time("expires_at", r.expires_at);
  put_time("last_updated_at", r.last_updated_at);
  put_time("revoked_at", r.revoked_at);
  out["revocation_reason"] = r.revocation_reason.empty() ? nlohmann::json() : nlohmann::json(r.revocation_reason);
  // The shape of a failure's error (kind, message, hint, subject), plus the CA's acme_type.
  out["error"] = r.error ? recorded_error_json(*r.error, r.name) : nlohmann::json();
  out["order_url"] = r.order_url.empty() ? nlohmann::json() : nlohmann::json(r.order_url);
  out["interrupted"] = status.interrupted;
  out["verification"] = verification_json(r.verification);
  out["names_not_covered"] = status.uncovered_names;
  if (status.live) {
    out["certificate"] = {{"serial", status.live->serial_hex},
                          {"names", status.live->sans},
                          {"issuer", status.live->issuer},
                          {"not_before", format_rfc3339(status.live->not_before)},
                          {"not_after", format_rfc3339(status.live->not_after)},
                          {"fingerprint_sha256", status.live->sha256_fingerprint},
                          {"live", status.live_location},
                          // Whatever the status says of the last run, whether this one still serves.
                          {"valid_now", !r.revoked_at && status.live->not_before <= now && now < status.live->not_after}};
  } else {
    out["certificate"] = nullptr;
  }
  return out;
}

namespace {

// The table's STATUS word. An issuing run with no certcli behind it (killed) still says issuing,
// as JSON's status does, with JSON's interrupted flag in parentheses.
std::string table_status(const lifecycle::DomainStatus& s) {
  return s.interrupted ? shown_status(s.record) + " (interrupted)" : shown_status(s.record);
}

void print_detail(const lifecycle::DomainStatus& status, TimePoint now) {
  const auto& r = status.record;
  fmt::print("{}\n", display_name(r.name));
  fmt::print("  status:   {}{}{}\n", shown_status(r),
             // The phase says where an unfinished or failed run stopped; for ready it is noise.
             r.phase == store::IssuePhase::none || r.status == store::CertificateStatus::ready
                 ? ""
                 : fmt::format(" ({})", store::to_string(r.phase)),
             status.interrupted ? fmt::format(" — interrupted; `certcli issue {}` resumes it", r.name) : "");
  // A failed renewal must not read as "no certificate": the installed one still serves.
  if (r.revoked_at)
    fmt::print("  revoked:  {}{} (`certcli renew {}` replaces it)\n", format_rfc3339(*r.revoked_at),
               r.revocation_reason.empty() ? "" : ", reason " + r.revocation_reason, r.name);
  if (r.status != store::CertificateStatus::ready && !r.revoked_at && status.live && now < status.live->not_after)
    fmt::print("  serving:  the installed certificate is still valid until {}\n", format_rfc3339(status.live->not_after));
  std::vector<std::string> shown_names;
  for (const auto& n : r.names) shown_names.push_back(display_name(n));
  fmt::print("  names:    {}\n", fmt::join(shown_names, ", "));
  if (!status.uncovered_names.empty())
    fmt::print("  names not covered: {} (added since the certificate was issued; `certcli renew {}` orders one with them)\n",
               fmt::join(status.uncovered_names, ", "), r.name);
  fmt::print("  verified: {}\n", describe_verification(r));
  for (const auto& n : r.verification.names)
    if (!n.dns_status.empty())
      fmt::print("            {} ({}): {}{}\n", n.name, n.challenge_type, n.dns_status, n.ok ? "" : " — " + n.detail);
  if (r.management != "managed")
    fmt::print("  managed:  no: {} (uploaded; renew leaves it alone, alerts still warn before it expires)\n", r.management);
  fmt::print("  solver:   {}\n", challenge::describe(r.challenge));
  if (!r.directory_url.empty()) fmt::print("  ca:       {}\n", r.directory_url);
  if (r.error) {
    fmt::print("  error:    {}\n", r.error->detail);
    if (!r.error->hint.empty()) fmt::print("  fix:      {}\n", r.error->hint);
  }
  if (status.live) {
    fmt::print("  expires:  {}\n", describe_time(status.live->not_after, now));
    fmt::print("  serial:   {}\n", status.live->serial_hex);
    fmt::print("  files:    {}/\n", status.live_location);
  }
  if (r.issued_at) fmt::print("  issued:   {}\n", format_rfc3339(*r.issued_at));
  if (r.last_updated_at) fmt::print("  updated:  {}\n", format_rfc3339(*r.last_updated_at));
  if (!r.order_url.empty()) fmt::print("  order:    {} (resumed by the next `certcli issue`)\n", r.order_url);
}

}  // namespace

void report_unreadable_domains(Context& context, const std::vector<store::UnreadableDomain>& unreadable) {
  for (const auto& damaged : unreadable)
    context.report_partial_failure(ErrorKind::state, fmt::format("{}; the other domains are shown", damaged.error.what()),
                                   damaged.error.hint());
}

void register_status_command(CLI::App& app, Context& context) {
  struct StatusArgs {
    std::string name;
    bool timeline = false;
  };
  auto args = std::make_shared<StatusArgs>();
  CLI::App* status = app.add_subcommand("status", "Show each domain's certificate status (or one domain's)");
  status->add_option("name", args->name, "Only this domain");
  status->add_flag("--json", context.options().json,
                   "Print JSON: the domain's object for one domain, {\"domains\": [...]} for all");
  status->add_flag("--timeline", args->timeline,
                   "Draw each certificate as a bar of its lifetime with today, the renewal point and expiry marked");
  status->callback([&context, args] {
    std::vector<store::UnreadableDomain> unreadable;
    auto statuses = lifecycle::domain_status(context.store(), args->name, &unreadable);
    TimePoint now = context.clock().now();
    if (context.options().json) {
      if (args->name.empty())
        print_json_list("domains", statuses.size(), [&](std::size_t i) { return domain_json(statuses[i], now); });
      else
        print_json(domain_json(statuses.front(), now));
      report_unreadable_domains(context, unreadable);
      return;
    }
    if (statuses.empty() && unreadable.empty()) {
      fmt::print("No domains yet. Add one: certcli domain add example.com\n");
      return;
    }
    const bool color = context.color();
    if (args->timeline) {
      const std::optional<int> buffer_days = context.config().renewal_buffer_days;
      for (const auto& s : statuses) {
        // The policy renew applies: the domain's own buffer, else config.toml's.
        renewal::Policy policy{s.record.renewal.buffer_days ? s.record.renewal.buffer_days : buffer_days};
        fmt::print("{}\n", timeline_line(s.record, now, policy, 80, color));
      }
      fmt::print("{}\n", timeline_legend(color));
      report_unreadable_domains(context, unreadable);
      return;
    }
    if (!args->name.empty()) {
      print_detail(statuses.front(), now);
      return;
    }
    fmt::print("{:<40} {:<21} {}\n", "DOMAIN", "STATUS", "EXPIRES");
    for (const auto& s : statuses) {
      const Health health = s.record.status == store::CertificateStatus::ready && !s.record.revoked_at ? Health::ok
                            : s.record.status == store::CertificateStatus::failed || s.record.revoked_at ? Health::bad
                                                                                                        : Health::due;
      // Padded before it is painted: escape bytes take no columns.
      fmt::print("{:<40} {} {}\n", display_name(s.record.name), paint(fmt::format("{:<21}", table_status(s)), health, color),
                 s.live ? describe_time(s.live->not_after, now) : "-");
    }
    report_unreadable_domains(context, unreadable);
  });
}

}  // namespace certcli::cli
