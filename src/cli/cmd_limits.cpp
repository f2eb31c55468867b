// certcli limits [--json]: what is left of each rate-limit budget (README "Rate limits"), from
// certcli's own ledger; asks the CA nothing. Also where the rate-limit settings of issue and
// renew come from (--ignore-limits, and CERTCLI_TEST_LIMITS for tests).
#include "cli/cli.hpp"

#include <certcli/limits.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

namespace certcli::cli {

limits::Settings limit_settings(bool ignore_limits) {
  limits::Settings settings;
  settings.ignore = ignore_limits;
  // Test-only, like CERTCLI_TEST_NOW: lower limits for every CA, so that the integration tests
  // reach a refusal against Pebble (which publishes none) in a few issuances.
  if (const char* text = std::getenv("CERTCLI_TEST_LIMITS"); text && *text)
    settings.custom = limits::parse_custom_limits(text);
  return settings;
}

namespace {

std::string scope_title(limits::Scope scope) {
  switch (scope) {
    case limits::Scope::registered_domain: return "certificates per registered domain";
    case limits::Scope::exact_names: return "certificates per exact set of names";
    case limits::Scope::account: return "new orders per account";
  }
  return "";
}

std::string window_text(std::chrono::seconds window) {
  if (window.count() % 86400 == 0) return fmt::format("{} d", window.count() / 86400);
  if (window.count() % 3600 == 0) return fmt::format("{} h", window.count() / 3600);
  return fmt::format("{} s", window.count());
}

nlohmann::json optional_time(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
}

nlohmann::json report_json(const std::vector<limits::CaReport>& reports) {
  nlohmann::json cas = nlohmann::json::array();
  for (const auto& r : reports) {
    const bool enforced = !r.limits.limits.empty();
    nlohmann::json limit_list = nlohmann::json::array();
    for (const auto& l : r.limits.limits)
      limit_list.push_back({{"scope", limits::to_string(l.scope)}, {"count", l.count}, {"window_seconds", l.window.count()}});
    nlohmann::json budget_list = nlohmann::json::array();
    for (const auto& b : r.budgets)
      budget_list.push_back({{"scope", limits::to_string(b.limit.scope)},
                             {"subject", b.subject},
                             {"limit", enforced ? nlohmann::json(b.limit.count) : nlohmann::json()},
                             {"window_seconds", b.limit.window.count()},
                             {"used", b.used},
                             {"left", enforced ? nlohmann::json(b.left) : nlohmann::json()},
                             {"frees_at", optional_time(b.frees_at)},
                             {"fits_at", enforced ? optional_time(b.fits_at) : nlohmann::json()}});
    cas.push_back({{"ca", r.name},
                   {"directory", r.directory_url},
                   {"limits_source", enforced ? nlohmann::json(r.limits.source) : nlohmann::json()},
                   {"limits", limit_list},
                   {"budgets", budget_list}});
  }
  return {{"cas", cas}};
}

void print_report(const std::vector<limits::CaReport>& reports, TimePoint now) {
  if (reports.empty()) {
    fmt::print("Nothing counted in the last 7 days: no order or certificate certcli asked for.\n");
    return;
  }
  for (const auto& r : reports) {
    const bool enforced = !r.limits.limits.empty();
    fmt::print("{} ({})\n", r.name, r.directory_url);
    if (!enforced) {
      fmt::print("  no published limits known: counted, nothing enforced\n");
    } else {
      std::string list;
      for (const auto& l : r.limits.limits)
        list += fmt::format("{}{} {} per {}", list.empty() ? "" : "; ", l.count, scope_title(l.scope), window_text(l.window));
      fmt::print("  limits ({}): {}\n", r.limits.source, list);
    }
    if (r.budgets.empty()) fmt::print("  nothing counted in the current windows\n");
    for (const auto& b : r.budgets) {
      std::string left = enforced ? fmt::format("{} of {} left", b.left, b.limit.count) : fmt::format("{} counted", b.used);
      std::string frees;
      if (b.fits_at)
        frees = fmt::format("; room for one more at {}", describe_time(*b.fits_at, now));
      else if (b.frees_at)
        frees = fmt::format("; the oldest frees up at {}", describe_time(*b.frees_at, now));
      fmt::print("  {} {}: {} ({} window){}\n", scope_title(b.limit.scope), b.subject, left, window_text(b.limit.window),
                 frees);
    }
  }
}

}  // namespace

void register_limits_command(CLI::App& app, Context& context) {
  CLI::App* command = app.add_subcommand(
      "limits", "Show what is left of each rate-limit budget (per registered domain, name set and account), from "
                "certcli's own count; asks the CA nothing");
  command->add_flag("--json", context.options().json, "Print the budgets as JSON");
  command->callback([&context] {
    std::optional<lifecycle::CaSelection> ca = context.ca();
    const TimePoint now = context.clock().now();
    auto reports = limits::report(context.store(), now, ca ? &*ca : nullptr, limit_settings(false));
    if (context.options().json)
      print_json(report_json(reports));
    else
      print_report(reports, now);
  });
}

}  // namespace certcli::cli
