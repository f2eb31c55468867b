// certcli activity [--domain NAME] [--since DATE|DURATION] [--json]: what every certcli run
// recorded in activity.jsonl (and its rotated files), oldest first.
#include "cli/cli.hpp"

#include <certcli/activity.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace certcli::cli {
namespace {

// "7d" (before now), "2026-11-25T16:38:16Z" or "2026-11-25" (midnight UTC).
TimePoint parse_since(const std::string& text, TimePoint now) {
  if (!text.empty() && text.front() >= '0' && text.front() <= '9' && text.find('-') == std::string::npos)
    return now - parse_duration(text, "--since", std::chrono::days{3650});
  try {
    return parse_rfc3339(text.size() == 10 ? text + "T00:00:00Z" : text);
  } catch (const Error&) {
    throw Error(ErrorKind::usage, fmt::format("--since '{}' is neither a date nor a duration", text),
                "write a date (2026-11-25, 2026-11-25T16:00:00Z) or how long ago (90m, 12h, 7d)");
  }
}

// The fields every event has are columns; the rest is its detail ("serial=01ab names=a,b").
std::string detail_of(const nlohmann::json& event) {
  static const std::array<std::string_view, 5> kColumns = {"time", "event", "domain", "uid", "command"};
  std::string detail;
  for (const auto& [key, value] : event.items()) {
    if (std::find(kColumns.begin(), kColumns.end(), key) != kColumns.end()) continue;
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_array()) {
      for (const auto& item : value) text += (text.empty() ? "" : ",") + (item.is_string() ? item.get<std::string>() : item.dump());
    } else {
      text = value.dump();
    }
    detail += fmt::format("{}{}={}", detail.empty() ? "" : " ", key, text);
  }
  return detail;
}

std::string field(const nlohmann::json& event, const char* key) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_table(const std::vector<nlohmann::json>& events) {
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"TIME", "DOMAIN", "EVENT", "BY", "DETAIL"});
  for (const auto& e : events) {
    std::string by = field(e, "command");
    if (e.contains("uid")) by += fmt::format(" (uid {})", field(e, "uid"));
    rows.push_back({field(e, "time"), field(e, "domain"), field(e, "event"), by, detail_of(e)});
  }
  std::array<std::size_t, 4> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows)
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], width[0], row[1], width[1], row[2], width[2], row[3],
               width[3], row[4]);
}

}  // namespace

void register_activity_command(CLI::App& app, Context& context) {
  struct ActivityArgs {
    std::string domain;
    std::string since;
  };
  auto args = std::make_shared<ActivityArgs>();
  CLI::App* activity =
      app.add_subcommand("activity", "Show the activity log: every change certcli made, when, by whom, with what outcome");
  activity->add_option("--domain", args->domain, "Only the events of this domain")->check(offers_domains());
  activity->add_option("--since", args->since, "Only events since a date (2026-11-25, RFC 3339) or for a while (12h, 7d)");
  activity->add_flag("--json", context.options().json, "Print {\"events\": [the events, oldest first]}");
  activity->callback([&context, args] {
    lifecycle::ActivityFilter filter;
    if (!args->domain.empty()) filter.domain = normalize_name(args->domain);
    if (!args->since.empty()) filter.since = parse_since(args->since, context.clock().now());
    auto log = lifecycle::read_activity(context.home(), filter);
    if (!log.damaged.empty() && !context.options().quiet)
      fmt::print(stderr, "certcli: warning: skipped {} damaged line{} of the activity log ({}{})\n", log.damaged.size(),
                 log.damaged.size() == 1 ? "" : "s", log.damaged.front(), log.damaged.size() > 1 ? ", ..." : "");
    if (context.options().json) {
      print_json({{"events", log.events}});
      return;
    }
    if (log.events.empty()) {
      if (!context.options().quiet)
        fmt::print(stderr, "certcli: no activity recorded{}\n",
                   filter.domain.empty() && !filter.since ? "" : " that matches");
      return;
    }
    print_table(log.events);
  });
}

}  // namespace certcli::cli
