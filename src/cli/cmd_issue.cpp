// certcli issue NAME
#include "cli/cli.hpp"
#include "cli/order_args.hpp"

#include <certcli/files.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>

namespace certcli::cli {

void register_issue_command(CLI::App& app, Context& context) {
  struct IssueArgs {
    std::string name;
    std::vector<std::string> emails;
    bool agree_tos = false;
    std::string account_key_type = "ec256";
    ChallengeArgs challenge;
    bool skip_preflight = false;
    int timeout_seconds = 180;
    std::string deploy_hook;
    AccountArgs account;
  };
  auto args = std::make_shared<IssueArgs>();
  CLI::App* issue = app.add_subcommand("issue", "Obtain a certificate for an added domain from the CA");
  issue->add_option("name", args->name, "The domain's primary name")->required();
  issue->add_option("--email", args->emails, "Contact e-mail for a new account (repeatable)");
  issue->add_flag("--agree-tos", args->agree_tos, "Agree to the CA's terms of service when an account is created");
  issue->add_option("--account-key-type", args->account_key_type,
                    "Key for a new account: ec256 (ES256, default), ec384 (ES384), rsa2048/3072/4096 (RS256)")
      ->check(offers(key_type_names()));
  add_account_options(issue, args->account, /*with_eab=*/true);
  add_challenge_options(issue, args->challenge);
  issue->add_flag("--skip-preflight", args->skip_preflight,
                  "Do not check DNS, HTTP reachability, CAA and ownership before ordering (for a setup where "
                  "certcli cannot see what the CA sees)");
  issue->add_option("--timeout", args->timeout_seconds, "Seconds this run may wait on the CA in all (validation, issuance, Retry-After)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  issue->add_option("--deploy-hook", args->deploy_hook,
                    "Shell command run after the certificate is installed (saved for renewals; CERTCLI_* variables set)");
  issue->add_flag("--json", context.options().json,
                  "Print the domain as status --json shows it, with what this run did (account, requests, elapsed)");
  auto order_args = std::make_shared<OrderArgs>();
  add_order_options(issue, *order_args, /*with_reuse_key=*/true,
                    "Use the live certificate's key for this certificate instead of a new one");
  auto csr_file = std::make_shared<std::string>();
  issue->add_option("--csr", *csr_file,
                    "Order for this PKCS#10 request (PEM or DER): its names must be the domain's; the key stays "
                    "yours and renewals send the same request");
  auto ignore_limits = std::make_shared<bool>(false);
  issue->add_flag("--ignore-limits", *ignore_limits,
                  "Order even when certcli's count says the CA's rate limit would refuse it (see certcli limits)");
  auto force = std::make_shared<bool>(false);
  issue->add_flag("--force", *force,
                  "Issue even when the new certificate's key would match no pin of the pin table (see certcli pin)");
  issue->callback([&context, args, ignore_limits, order_args, csr_file, force, issue_command = issue] {
    lifecycle::IssueRequest request;
    request.name = args->name;
    request.limits = limit_settings(*ignore_limits);
    request.ca = context.ca();
    // Precedence: command line > domain record > config.toml > built-in.
    const config::Config& config = context.config();
    request.contacts = args->emails.empty() ? config.account_emails : args->emails;
    if (config.ca_name) request.default_ca = lifecycle::select_ca(*config.ca_name, "", false);
    if (config.ca_directory) request.default_ca = lifecycle::select_ca("", *config.ca_directory, false);
    request.default_challenge = context.default_challenge();
    request.environment = context.challenge_environment();
    request.environment.skip_preflight = args->skip_preflight;
    if (!args->deploy_hook.empty()) request.deploy_hook = args->deploy_hook;
    request.default_deploy_hook = config.deploy_hook.value_or("");
    request.deploy_hook_timeout = config.deploy_hook_timeout;
    request.agree_to_terms = args->agree_tos;
    auto account_key_type = crypto::parse_key_type(args->account_key_type);
    if (!account_key_type)
      throw Error(ErrorKind::usage, fmt::format("--account-key-type '{}' is not a key type", args->account_key_type),
                  "use one of ec256, ec384, rsa2048, rsa3072, rsa4096");
    request.account_key_type = *account_key_type;
    if (config.account_key_type && issue_command->count("--account-key-type") == 0)
      request.account_key_type = *config.account_key_type;
    request.time_budget = std::chrono::seconds{args->timeout_seconds};
    request.challenge = args->challenge.settings();
    request.account_name = args->account.account_name;
    request.profile = order_args->profile_given();
    request.preferred_profile = order_args->preferred_profile_given();
    request.preferred_chain = order_args->preferred_chain_given();
    request.reuse_key = order_args->reuse_key;
    request.break_pins = *force;
    if (!csr_file->empty()) {
      try {
        request.csr = files::read_file(*csr_file);
      } catch (const Error& error) {
        throw Error(ErrorKind::invalid_input, fmt::format("cannot read the CSR {}: {}", *csr_file, error.what()),
                    "give --csr the path of a PKCS#10 request this user can read", *csr_file);
      }
    }
    request.eab = args->account.eab;
    const auto started = std::chrono::steady_clock::now();
    auto result =
        lifecycle::issue_certificate(context.store(), context.clock(), context.http(), request, context.progress());
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const auto& cert = result.certificate;
    if (context.options().json) {
      // One shape per thing: the domain as `status NAME --json` prints it (certificate nested),
      // then what only this run knows.
      nlohmann::json out = domain_json(lifecycle::domain_status(context.store(), result.record.name).front(),
                                       context.clock().now());
      out["account"] = result.account_url;
      out["account_created"] = result.account_created;
      out["order_resumed"] = result.order_resumed;
      out["acme_requests"] = result.acme_requests;
      out["elapsed_seconds"] = std::round(elapsed * 10) / 10;
      out["hook"] = result.hook ? nlohmann::json{{"succeeded", result.hook->succeeded}, {"detail", result.hook->detail}}
                                : nlohmann::json();
      print_json(std::move(out));
    } else {
      fmt::print("Certificate issued for {}\n", result.record.name);
      fmt::print("  subject:  CN={}\n", cert.subject_common_name);
      fmt::print("  names:    {}\n", fmt::join(cert.sans, ", "));
      fmt::print("  expires:  {}\n", describe_time(cert.not_after, context.clock().now()));
      fmt::print("  issuer:   {}\n", cert.issuer);
      fmt::print("  serial:   {}\n", cert.serial_hex);
      if (result.record.order.csr.empty())
        fmt::print("  files:    {}/{{cert,chain,fullchain,key}}.pem\n", result.live_location);
      else
        fmt::print("  files:    {}/{{cert,chain,fullchain}}.pem (no key.pem: the key is the CSR's, yours)\n",
                   result.live_location);
      fmt::print("  account:  {}{}\n", result.account_url, result.account_created ? " (new)" : "");
      if (result.hook) fmt::print("  hook:     {}\n", result.hook->succeeded ? "ok" : result.hook->detail);
    }
    if (result.hook && !result.hook->succeeded)
      context.report_partial_failure(ErrorKind::hook_failed,
                                     fmt::format("the deploy hook for {} {}", result.record.name, result.hook->detail),
                                     "the new certificate is installed; fix the hook and run it by hand");
  });
}

}  // namespace certcli::cli
