// certcli covers HOST [--json]: which managed certificates cover a host, and whether each is
// valid now. Exit 0 only when a valid one does (so a script can ask "is this host served?").
#include "cli/cli.hpp"

#include <certcli/transfer.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {

void register_covers_command(CLI::App& app, Context& context) {
  auto host = std::make_shared<std::string>();
  CLI::App* covers = app.add_subcommand(
      "covers", "Which managed certificates cover a host name (exact wildcard rules); exit 0 only when a valid one does");
  covers->add_option("host", *host, "The host name (or IP address)")->required();
  covers->add_flag("--json", context.options().json,
                   "Print {\"host\", \"covered\", \"certificates\": [{domain, name, status, management, serial, "
                   "not_before, not_after, valid_now}]}");
  covers->callback([&context, host] {
    const TimePoint now = context.clock().now();
    lifecycle::CoversReport report = lifecycle::find_covering(context.store(), context.clock(), *host);
    auto time = [](const std::optional<TimePoint>& t) { return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(); };
    if (context.options().json) {
      nlohmann::json certificates = nlohmann::json::array();
      for (const auto& m : report.matches)
        certificates.push_back({{"domain", m.domain},
                                {"name", m.certificate_name},
                                {"status", m.status},
                                {"management", m.management},
                                {"serial", m.serial},
                                {"not_before", time(m.not_before)},
                                {"not_after", time(m.not_after)},
                                {"valid_now", m.valid_now}});
      print_json(nlohmann::json{{"host", report.host}, {"covered", report.covered()}, {"certificates", certificates}});
    } else {
      for (const auto& m : report.matches) {
        std::string validity = !m.not_after              ? "no validity recorded"
                               : m.valid_now             ? fmt::format("valid, expires {}", describe_time(*m.not_after, now))
                               : now >= *m.not_after     ? fmt::format("EXPIRED {}", describe_time(*m.not_after, now))
                                                         : fmt::format("not valid before {}", describe_time(*m.not_before, now));
        fmt::print("{}\t{}\t{}{}\t{}\n", m.domain, m.certificate_name, m.status,
                   m.management == "managed" ? "" : fmt::format(" ({})", m.management), validity);
      }
    }
    if (!report.covered()) {
      std::string message = report.matches.empty()
                                ? fmt::format("no managed certificate covers {}", report.host)
                                : fmt::format("no certificate that covers {} is valid now", report.host);
      std::string hint = report.matches.empty()
                             ? fmt::format("a wildcard covers one label only, never its apex; `certcli domain add {}` "
                                           "manages a certificate for it",
                                           report.host)
                             : "renew or upload a valid certificate for it";
      // Reported without throwing, so that --json output stays one document.
      context.report_partial_failure(ErrorKind::not_found, message, hint);
    }
  });
}

}  // namespace certcli::cli
