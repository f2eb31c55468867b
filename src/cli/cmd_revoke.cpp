// certcli revoke NAME [--reason R] [--with-cert-key]
#include "cli/cli.hpp"

#include <certcli/accounts.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {

void register_revoke_command(CLI::App& app, Context& context) {
  struct RevokeArgs {
    std::string name;
    std::string reason;
    bool with_cert_key = false;
    AccountArgs account;
  };
  auto args = std::make_shared<RevokeArgs>();
  CLI::App* revoke = app.add_subcommand("revoke", "Revoke a domain's live certificate at the CA; the next renew replaces it");
  revoke->add_option("name", args->name, "The domain's primary name")->required();
  revoke->add_option("--reason", args->reason, "keyCompromise, superseded, cessationOfOperation or affiliationChanged")
      ->check(CLI::IsMember({"keyCompromise", "superseded", "cessationOfOperation", "affiliationChanged", "unspecified"}));
  revoke->add_flag("--with-cert-key", args->with_cert_key,
                   "Sign with the certificate's own private key instead of the account key");
  add_account_options(revoke, args->account, false);
  revoke->add_flag("--json", context.options().json, "Print the result as JSON");
  revoke->callback([&context, args] {
    lifecycle::RevokeRequest request;
    request.name = args->name;
    request.reason = args->reason;
    request.with_certificate_key = args->with_cert_key;
    request.account_name = args->account.account_name;
    request.ca = context.ca();
    auto result = lifecycle::revoke_certificate(context.store(), context.clock(), context.http(), request);
    const auto& r = result.record;
    if (context.options().json) {
      nlohmann::json out = {{"domain", r.name},
                            {"status", "revoked"},
                            {"serial", result.serial},
                            {"revoked_at", r.revoked_at ? format_rfc3339(*r.revoked_at) : ""},
                            {"revocation_reason", r.revocation_reason},
                            {"signed_with", args->with_cert_key ? "certificate-key" : "account-key"},
                            {"acme_requests", result.acme_requests}};
      print_json(out);
      return;
    }
    fmt::print("Certificate of {} revoked\n", r.name);
    fmt::print("  serial:   {}\n", result.serial);
    fmt::print("  reason:   {}\n", r.revocation_reason);
    fmt::print("  signed:   with the {}\n", args->with_cert_key ? "certificate's own key" : "account key");
    fmt::print("  next:     `certcli renew {}` replaces it (it is due now)\n", r.name);
  });
}

}  // namespace certcli::cli
