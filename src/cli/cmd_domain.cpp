// certcli domain add|list|remove
#include "cli/cli.hpp"

#include <fmt/format.h>

namespace certcli::cli {

void register_domain_commands(CLI::App& app, Context& context) {
  CLI::App* domain = app.add_subcommand("domain", "Manage the domains certcli keeps certificates for");
  domain->require_subcommand(1);

  struct AddArgs {
    std::string name;
    std::vector<std::string> sans;
    std::string key_type = "ec256";
    bool wildcard = false;
    bool require_ownership = false;
    ChallengeArgs challenge;
    int buffer_days = 0;
    std::string deploy_hook;
  };
  auto args = std::make_shared<AddArgs>();
  CLI::App* add = domain->add_subcommand("add", "Add a domain (and more names for the same certificate)");
  add->add_option("name", args->name, "Primary name, e.g. example.com")->required();
  add->add_option("--san", args->sans, "Another name the certificate must cover (repeatable)");
  add->add_option("--key-type", args->key_type, "Certificate key: ec256 (default), ec384, rsa2048, rsa3072, rsa4096");
  add->add_flag("--wildcard", args->wildcard, "Add *.NAME too (validated by dns-01)");
  add->add_flag("--require-ownership", args->require_ownership,
                "Require the TXT record _certcli-verify.NAME with a token of certcli's (shown by verify) before issuing");
  add_challenge_options(add, args->challenge);
  add->add_option("--buffer-days", args->buffer_days, "Renew when fewer days than this are left (1-365)");
  add->add_option("--deploy-hook", args->deploy_hook,
                  "Shell command run after this domain's certificate changes (CERTCLI_* variables set)");
  add->callback([&context, args, add] {
    lifecycle::AddDomainRequest request;
    request.name = args->name;
    request.extra_names = args->sans;
    request.key_type = args->key_type;
    // Precedence: the command line, else config.toml's certificate.key_type, else ec256.
    if (add->count("--key-type") == 0 && context.config().certificate_key_type)
      request.key_type = crypto::key_type_name(*context.config().certificate_key_type);
    request.wildcard = args->wildcard;
    request.require_ownership = args->require_ownership;
    request.challenge = args->challenge.settings().value_or(challenge::Settings{});
    request.default_challenge = context.default_challenge();
    if (args->buffer_days != 0) request.buffer_days = args->buffer_days;
    request.deploy_hook = args->deploy_hook;
    auto result = lifecycle::add_domain(context.store(), context.clock(), request);
    fmt::print("{} {} ({})\n", result.created ? "Added" : "Already added, unchanged:", result.record.name,
               fmt::join(result.record.names, ", "));
    if (result.created) fmt::print("Next: certcli issue {}\n", result.record.name);
  });

  CLI::App* list = domain->add_subcommand("list", "List the domains, one per line: name, status, names");
  list->callback([&context] {
    auto statuses = lifecycle::domain_status(context.store(), "");
    if (statuses.empty()) fmt::print(stderr, "certcli: no domains yet; add one: certcli domain add example.com\n");
    for (const auto& status : statuses)
      fmt::print("{}\t{}\t{}\n", status.record.name, store::to_string(status.record.status),
                 fmt::join(status.record.names, ","));
  });

  auto remove_name = std::make_shared<std::string>();
  CLI::App* remove = domain->add_subcommand(
      "remove", "Stop managing a domain; its files are moved under removed/ in the state directory, not deleted");
  remove->add_option("name", *remove_name, "The domain's primary name")->required();
  remove->callback([&context, remove_name] {
    std::string moved_to = lifecycle::remove_domain(context.store(), context.clock(), *remove_name);
    fmt::print("Removed {}; its files are kept in {}\n", *remove_name, moved_to);
  });
}

}  // namespace certcli::cli
