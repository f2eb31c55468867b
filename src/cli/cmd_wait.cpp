// certcli wait NAME [--timeout DURATION] [--interval DURATION] [--json]: blocks until another
// certcli has made the domain ready (exit 0) or failed (the recorded error's exit code), or
// --timeout passes (exit 14). Reads the record only; never talks to the CA.
#include "cli/cli.hpp"

#include <certcli/activity.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {

void register_wait_command(CLI::App& app, Context& context) {
  struct WaitArgs {
    std::string name;
    std::string timeout;
    std::string interval = "1";
  };
  auto args = std::make_shared<WaitArgs>();
  CLI::App* wait = app.add_subcommand(
      "wait", "Wait until a domain is ready (exit 0) or failed (its error's exit code), as another certcli issues it");
  wait->add_option("name", args->name, "The domain")->required();
  wait->add_option("--timeout", args->timeout, "Give up after this long (90, 30m, 2h), exit 14; default: no limit");
  wait->add_option("--interval", args->interval, "How often to read the record again (default 1 s)");
  wait->add_flag("--json", context.options().json,
                 "Print {\"domain\", \"outcome\": ready|failed|timed_out, \"status\", \"waited_seconds\", \"error\"}");
  wait->callback([&context, args] {
    std::optional<std::chrono::seconds> timeout;
    if (!args->timeout.empty()) timeout = parse_duration(args->timeout, "--timeout");
    std::chrono::seconds interval = parse_duration(args->interval, "--interval", std::chrono::hours{1});
    if (interval.count() == 0)
      throw Error(ErrorKind::usage, "--interval '0' is too short", "read the record at most once a second: --interval 1");
    auto result =
        lifecycle::wait_for_domain(context.store(), context.clock(), args->name, timeout, interval, context.progress());
    const store::DomainRecord& r = result.record;

    if (context.options().json) {
      nlohmann::json out = {{"domain", r.name},
                            {"outcome", lifecycle::to_string(result.outcome)},
                            {"status", store::to_string(r.status)},
                            {"waited_seconds", result.waited.count()}};
      out["error"] = r.error && result.outcome == lifecycle::WaitOutcome::failed
                         ? recorded_error_json(*r.error, r.name)
                         : nlohmann::json();
      print_json(std::move(out));
    }
    switch (result.outcome) {
      case lifecycle::WaitOutcome::ready:
        if (!context.options().json) {
          std::string until = r.expires_at ? fmt::format(" (certificate valid until {})", format_rfc3339(*r.expires_at)) : "";
          fmt::print("{} is ready{}\n", r.name, until);
        }
        return;
      case lifecycle::WaitOutcome::failed: {
        ErrorKind kind = ErrorKind::internal;  // nothing more was recorded than that it failed
        if (r.error)
          if (auto recorded = lifecycle::kind_of_recorded_error(r.error->type)) kind = *recorded;
        std::string detail = r.error ? r.error->detail : "no error was recorded";
        std::string hint = r.error && !r.error->hint.empty() ? r.error->hint
                                                              : fmt::format("certcli status {} shows the record", r.name);
        context.report_partial_failure(kind, fmt::format("{} failed: {}", r.name, detail), hint);
        return;
      }
      case lifecycle::WaitOutcome::timed_out:
        context.report_partial_failure(
            ErrorKind::timed_out,
            fmt::format("{} is still {} after {} s", r.name, store::to_string(r.status), result.waited.count()),
            r.status == store::CertificateStatus::pending
                ? fmt::format("nothing is issuing it: run certcli issue {} (or let the renew timer run)", r.name)
                : fmt::format("certcli status {} shows where it is; wait again with a longer --timeout", r.name));
        return;
    }
  });
}

}  // namespace certcli::cli
