// certcli verify NAME [--json] [--require-ownership]
#include "cli/cli.hpp"

#include <certcli/verify.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {
namespace {

nlohmann::json to_json(const lifecycle::VerifyReport& report) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& name : report.names) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& check : name.checks)
      checks.push_back({{"check", check.check},
                        {"ok", check.ok},
                        {"warning", check.warning},
                        {"status", check.status},
                        {"message", check.message},
                        {"fix", check.fix.empty() ? nlohmann::json() : nlohmann::json(check.fix)}});
    names.push_back({{"name", name.name}, {"challenge_type", name.challenge_type}, {"ok", name.ok()}, {"checks", checks}});
  }
  return {{"domain", report.domain},
          {"ok", report.ok()},
          {"names", names},
          {"ownership_token_renewed", report.ownership_token_renewed}};
}

void print_report(const lifecycle::VerifyReport& report) {
  for (const auto& name : report.names) {
    fmt::print("{} ({})\n", name.name, name.challenge_type);
    for (const auto& check : name.checks) {
      const char* mark = !check.ok ? "FAIL" : check.warning ? "warn" : "ok";
      fmt::print("  {:<4}  {:<10} {}\n", mark, check.check, check.message);
      if (!check.fix.empty()) fmt::print("        {:<10} fix: {}\n", "", check.fix);
    }
  }
  if (report.ownership_token_renewed)
    fmt::print("A new ownership token was made (the old one had expired, or there was none): "
               "the ownership fix above names the TXT record to publish\n");
  if (report.ok())
    fmt::print("{}: every check holds; certcli issue {} may order\n", report.domain, report.domain);
}

}  // namespace

void register_verify_command(CLI::App& app, Context& context) {
  struct VerifyArgs {
    std::string name;
    bool require_ownership = false;
  };
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* verify = app.add_subcommand(
      "verify", "Check what must hold before a certificate is ordered: DNS, HTTP reachability, CAA, ownership");
  verify->add_option("name", args->name, "The domain's primary name")->required();
  verify->add_flag("--require-ownership", args->require_ownership,
                   "Check the _certcli-verify TXT record this run, even when the domain does not require it");
  verify->add_flag("--json", context.options().json,
                   "Print {domain, ok, names: [{name, challenge_type, ok, checks}], ownership_token_renewed}");
  verify->callback([&context, args] {
    lifecycle::VerifyRequest request;
    request.name = args->name;
    request.ca = context.ca();
    const config::Config& config = context.config();
    if (config.ca_name) request.default_ca = lifecycle::select_ca(*config.ca_name, "", false);
    if (config.ca_directory) request.default_ca = lifecycle::select_ca("", *config.ca_directory, false);
    request.default_challenge = context.default_challenge();
    request.environment = context.challenge_environment();
    request.environment.require_ownership = request.environment.require_ownership || args->require_ownership;
    auto report = lifecycle::verify_domain(context.store(), context.clock(), request);

    if (context.options().json) {
      print_json(to_json(report));
    } else {
      print_report(report);
    }
    if (!report.ok()) {
      int failures = report.failures();
      context.report_partial_failure(
          ErrorKind::preflight,
          fmt::format("{} check{} for {} failed", failures, failures == 1 ? "" : "s", report.domain),
          "fix what each failure names, then run certcli verify again");
    }
  });
}

}  // namespace certcli::cli
