// certcli renew [NAME...] and certcli check: what a timer runs.
#include "cli/cli.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>

namespace certcli::cli {
namespace {

// `with_challenges`: renew needs the solvers' settings and environment; check does not (and so
// reads no resolver configuration).
lifecycle::RenewSettings settings_from(Context& context, bool with_challenges) {
  const config::Config& config = context.config();
  lifecycle::RenewSettings settings;
  if (with_challenges) {
    settings.default_challenge = context.default_challenge();
    settings.environment = context.challenge_environment();
  }
  settings.buffer_days = config.renewal_buffer_days;
  settings.deploy_hook = config.deploy_hook.value_or("");
  settings.deploy_hook_timeout = config.deploy_hook_timeout;
  settings.alerts.webhook_url = config.alert_webhook.value_or("");
  settings.alerts.days = config.alert_days;
  return settings;
}

nlohmann::json time_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
}

// `state`: the domain as `status --json` shows it after this run (null when it cannot be read).
nlohmann::json to_json(const lifecycle::RenewOutcome& outcome, nlohmann::json state) {
  nlohmann::json out = {{"domain", outcome.domain},
                        {"action", lifecycle::to_string(outcome.action)},
                        {"reason", outcome.reason},
                        {"next_attempt_at", time_or_null(outcome.next_attempt_at)},
                        {"due_at", time_or_null(outcome.due_at)},
                        {"new_expiry", time_or_null(outcome.new_expiry)}};
  out["hook"] = outcome.hook ? nlohmann::json{{"succeeded", outcome.hook->succeeded}, {"detail", outcome.hook->detail}}
                             : nlohmann::json();
  if (outcome.error) {
    out["error"] = error_json(*outcome.error);
    if (out["error"]["subject"].is_null()) out["error"]["subject"] = outcome.domain;
  } else {
    out["error"] = nullptr;
  }
  out["state"] = std::move(state);
  return out;
}

std::string describe(const lifecycle::RenewOutcome& outcome, TimePoint now) {
  using lifecycle::RenewAction;
  switch (outcome.action) {
    case RenewAction::renewed:
      return fmt::format("renewed ({}); expires {}{}", outcome.reason, describe_time(*outcome.new_expiry, now),
                         outcome.hook ? (outcome.hook->succeeded ? "; deploy hook ok" : "; deploy hook FAILED: " + outcome.hook->detail)
                                      : "");
    case RenewAction::failed:
      if (outcome.unreadable || !outcome.next_attempt_at) return fmt::format("FAILED: {}", outcome.reason);
      return fmt::format("FAILED: {}; next attempt {}", outcome.reason, describe_time(*outcome.next_attempt_at, now));
    case RenewAction::backed_off:
      return fmt::format("backing off: {}", outcome.reason);
    case RenewAction::skipped:
      return outcome.due_at ? fmt::format("not due ({}); due {}", outcome.reason, describe_time(*outcome.due_at, now))
                            : fmt::format("skipped: {}", outcome.reason);
  }
  return outcome.reason;
}

}  // namespace

void register_renew_commands(CLI::App& app, Context& context) {
  struct RenewArgs {
    std::vector<std::string> names;
    bool force = false;
    bool skip_preflight = false;
    bool dry_run = false;
    std::string random_delay = "0";
    std::string deploy_hook;
    int timeout_seconds = 180;
    int parallel = 1;
  };
  auto args = std::make_shared<RenewArgs>();
  CLI::App* renew = app.add_subcommand("renew", "Renew every certificate that is due (what a timer runs)");
  renew->add_option("names", args->names, "Only these domains");
  renew->add_flag("--force", args->force, "Renew even when not due, and despite a backoff; also when a pinned domain's new key would match no pin");
  renew->add_flag("--skip-preflight", args->skip_preflight,
                  "Do not check DNS, HTTP reachability, CAA and ownership before ordering (for a setup where "
                  "certcli cannot see what the CA sees)");
  renew->add_flag("--dry-run", args->dry_run,
                  "Run the whole flow against the CA's staging twin (or --directory) and keep nothing");
  renew->add_option("--random-delay", args->random_delay,
                    "Before the first request, wait a random time up to this (90, 30m, 2h): spreads a fleet's load");
  renew->add_option("--deploy-hook", args->deploy_hook,
                    "Shell command run after each renewed certificate (this run only; CERTCLI_* variables set)");
  renew->add_option("--timeout", args->timeout_seconds, "Seconds each renewal may wait on the CA")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  renew->add_option("--parallel", args->parallel, "Renewals at once (sharing one connection per CA)")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  renew->add_flag("--json", context.options().json, "Print {\"domains\": [one object per domain], \"acme_requests\"}");
  auto reuse_key = std::make_shared<bool>(false);
  renew->add_flag("--reuse-key", *reuse_key, "Each renewed certificate keeps its live key instead of a new one");
  auto account_args = std::make_shared<AccountArgs>();
  add_account_options(renew, *account_args, /*with_eab=*/true);
  auto ignore_limits = std::make_shared<bool>(false);
  renew->add_flag("--ignore-limits", *ignore_limits,
                  "Order even when certcli's count says the CA's rate limit would refuse it (see certcli limits)");
  renew->callback([&context, args, ignore_limits, account_args, reuse_key] {
    lifecycle::RenewRequest request;
    request.names = args->names;
    request.reuse_key = *reuse_key;
    request.account_name = account_args->account_name;
    request.eab = account_args->eab;
    request.limits = limit_settings(*ignore_limits);
    request.force = args->force;
    request.dry_run = args->dry_run;
    request.ca = context.ca();
    request.deploy_hook = args->deploy_hook;
    request.time_budget = std::chrono::seconds{args->timeout_seconds};
    request.random_delay = parse_duration(args->random_delay, "--random-delay");
    request.parallel = args->parallel;
    request.settings = settings_from(context, /*with_challenges=*/true);
    request.settings.environment.skip_preflight = args->skip_preflight;
    const bool quiet = context.options().quiet;
    auto report = lifecycle::renew_certificates(context.store(), context.clock(), context.http(), context.webhook_http(),
                                                request, context.progress());
    const TimePoint now = context.clock().now();
    if (context.options().json) {
      nlohmann::json domains = nlohmann::json::array();
      for (const auto& outcome : report.outcomes) {
        nlohmann::json state;
        // Only for a domain this run changed: the others are as `status --json` shows them, and
        // reading 10,000 unchanged records again would cost a fleet's run more than deciding.
        const bool changed =
            outcome.action == lifecycle::RenewAction::renewed || outcome.action == lifecycle::RenewAction::failed;
        if (!outcome.unreadable && changed) {
          try {
            auto statuses = lifecycle::domain_status(context.store(), outcome.domain);
            if (!statuses.empty()) state = domain_json(statuses.front(), now);
          } catch (const Error&) {
            // Removed or unreadable since the run looked at it: the outcome says what happened.
          }
        }
        domains.push_back(to_json(outcome, std::move(state)));
      }
      print_json({{"domains", domains},
                  {"acme_requests", report.acme_requests},
                  {"dry_run", args->dry_run},
                  {"alert_errors", report.alert_errors}});
    } else {
      for (const auto& outcome : report.outcomes) {
        bool news = outcome.action == lifecycle::RenewAction::renewed || outcome.action == lifecycle::RenewAction::failed;
        if (!quiet || news) fmt::print("{:<40} {}\n", outcome.domain, describe(outcome, now));
      }
      if (report.outcomes.empty() && !quiet) fmt::print("No domains yet. Add one: certcli domain add example.com\n");
    }
    if (!quiet)
      for (const auto& problem : report.alert_errors) fmt::print(stderr, "certcli: warning: {}\n", problem);

    std::vector<std::string> failed;
    std::vector<std::string> hooks;
    std::vector<std::string> locked;
    // A domain.toml that cannot be read comes first, with its file and line: the exit is 5
    // (state), as status and domain list give, and nothing of it was changed.
    for (const auto& outcome : report.outcomes)
      if (outcome.unreadable && outcome.error)
        context.report_partial_failure(ErrorKind::state,
                                       fmt::format("{}; not renewed, the other domains were", outcome.error->what()),
                                       outcome.error->hint());
    for (const auto& outcome : report.outcomes) {
      if (outcome.locked) locked.push_back(outcome.domain);
      if (outcome.action == lifecycle::RenewAction::failed && !outcome.unreadable) failed.push_back(outcome.domain);
      if (outcome.hook && !outcome.hook->succeeded) hooks.push_back(outcome.domain + " (" + outcome.hook->detail + ")");
    }
    if (!failed.empty())
      context.report_partial_failure(
          ErrorKind::renewal_failed,
          fmt::format("{} of {} renewals failed: {}", failed.size(), report.outcomes.size(), fmt::join(failed, ", ")),
          "each is retried after its backoff; `certcli status NAME` shows the error and its fix");
    if (!locked.empty())
      context.report_partial_failure(ErrorKind::state,
                                     fmt::format("another certcli is working on {}; skipped", fmt::join(locked, ", ")),
                                     "the next run renews them if they are still due");
    if (!hooks.empty())
      context.report_partial_failure(ErrorKind::hook_failed,
                                     fmt::format("the deploy hook failed for {}", fmt::join(hooks, ", ")),
                                     "the new certificates are installed; fix the hook and run it by hand");
  });

  CLI::App* check = app.add_subcommand("check", "Expiry checks and alerts only, with no request to the CA");
  check->add_flag("--json", context.options().json, "Print {\"domains\": [one object per domain]}");
  check->callback([&context] {
    std::vector<store::UnreadableDomain> unreadable;
    auto reports = lifecycle::check_expiry(context.store(), context.clock(), context.webhook_http(),
                                           settings_from(context, /*with_challenges=*/false).alerts, &unreadable);
    std::vector<std::string> problems;
    if (context.options().json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : reports)
        out.push_back({{"domain", r.domain},
                       {"status", r.status},
                       {"expires_at", time_or_null(r.expires_at)},
                       {"days_left", r.expires_at ? nlohmann::json(r.days_left) : nlohmann::json()},
                       {"alerts_posted", r.alerts_posted},
                       {"alert_error", r.alert_error.empty() ? nlohmann::json() : nlohmann::json(r.alert_error)}});
      print_json({{"domains", out}});
    } else {
      if (reports.empty() && unreadable.empty()) fmt::print("No domains yet. Add one: certcli domain add example.com\n");
      for (const auto& r : reports)
        fmt::print("{:<40} {:<8} {}{}\n", r.domain, r.status,
                   r.expires_at ? fmt::format("{} days left", r.days_left) : "no certificate",
                   r.alerts_posted.empty() ? "" : fmt::format("; alert sent ({} days)", r.alerts_posted.front()));
    }
    report_unreadable_domains(context, unreadable);
    for (const auto& r : reports)
      if (!r.alert_error.empty()) problems.push_back(r.domain + ": " + r.alert_error);
    if (!problems.empty())
      context.report_partial_failure(ErrorKind::network, fmt::format("{}", fmt::join(problems, "; ")),
                                     "the alert is posted again on the next run; check the webhook URL in config.toml");
  });
}

}  // namespace certcli::cli
