// certcli account register|show|update|rollover|deactivate
#include "cli/cli.hpp"

#include <certcli/accounts.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {

void add_account_options(CLI::App* command, AccountArgs& args, bool with_eab) {
  command->add_option("--account", args.account_name,
                      "A named account at the CA (1-32 of a-z 0-9 - _) instead of its default one");
  if (!with_eab) return;
  command->add_option("--eab-kid", args.eab.kid, "External Account Binding key identifier, for a new account");
  command->add_option("--eab-hmac-key", args.eab.hmac_key,
                      "External Account Binding HMAC key (base64url), or '$ENV:VAR' / '$FILE:/path'; never stored");
  command->add_option("--eab-alg", args.eab.algorithm, "External Account Binding MAC: HS256 (default), HS384, HS512")
      ->check(CLI::IsMember({"HS256", "HS384", "HS512"}));
}

namespace {

lifecycle::CaSelection chosen_ca(Context& context) {
  if (auto ca = context.ca()) return *ca;
  const config::Config& config = context.config();
  if (config.ca_name) return lifecycle::select_ca(*config.ca_name, "", false);
  if (config.ca_directory) return lifecycle::select_ca("", *config.ca_directory, false);
  return lifecycle::select_ca("", "", false);
}

lifecycle::AccountSelector selector(Context& context, const AccountArgs& args) {
  return {chosen_ca(context), args.account_name, std::chrono::seconds{180}};
}

crypto::KeyType key_type_of(const std::string& name) {
  auto type = crypto::parse_key_type(name);
  if (!type)
    throw Error(ErrorKind::usage, fmt::format("--key-type '{}' is not a key type", name),
                "use one of ec256, ec384, rsa2048, rsa3072, rsa4096");
  return *type;
}

nlohmann::json account_json(const lifecycle::AccountInfo& info) {
  auto time = [](const std::optional<TimePoint>& t) { return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(); };
  const auto& r = info.record;
  return {{"ca", info.ca_name},
          {"directory_url", r.directory_url},
          {"account_name", info.account_name.empty() ? nlohmann::json() : nlohmann::json(info.account_name)},
          {"url", r.url},
          {"status", r.status},
          {"contacts", r.contacts},
          {"key_type", info.key_type},
          {"key_thumbprint", info.key_thumbprint},
          {"eab_kid", r.eab_kid.empty() ? nlohmann::json() : nlohmann::json(r.eab_kid)},
          {"created_at", time(r.created_at)},
          {"key_changed_at", time(r.key_changed_at)},
          {"deactivated_at", time(r.deactivated_at)},
          {"location", info.location},
          {"created", info.created},
          {"old_keys", info.old_keys},
          {"acme_requests", info.acme_requests}};
}

void print_account(Context& context, const lifecycle::AccountInfo& info, const std::string& headline) {
  if (context.options().json) {
    print_json(account_json(info));
    return;
  }
  const auto& r = info.record;
  fmt::print("{}\n", headline);
  fmt::print("  url:      {}\n", r.url);
  fmt::print("  ca:       {} ({})\n", info.ca_name, r.directory_url);
  if (!info.account_name.empty()) fmt::print("  name:     {}\n", info.account_name);
  fmt::print("  status:   {}{}\n", r.status, r.deactivated_at ? " since " + format_rfc3339(*r.deactivated_at) : "");
  fmt::print("  contacts: {}\n", r.contacts.empty() ? "(none)" : fmt::format("{}", fmt::join(r.contacts, ", ")));
  fmt::print("  key:      {} (thumbprint {})\n", info.key_type, info.key_thumbprint);
  if (!r.eab_kid.empty()) fmt::print("  eab kid:  {}\n", r.eab_kid);
  if (r.created_at) fmt::print("  created:  {}\n", format_rfc3339(*r.created_at));
  if (r.key_changed_at) fmt::print("  rollover: {}\n", format_rfc3339(*r.key_changed_at));
  for (const auto& old : info.old_keys) fmt::print("  old key:  {}\n", old);
  fmt::print("  files:    {}/{}/\n", context.home().string(), info.location);
}

}  // namespace

void register_account_commands(CLI::App& app, Context& context) {
  CLI::App* account = app.add_subcommand("account", "Register, show, update, roll over or deactivate the ACME account");
  account->require_subcommand(1);

  struct RegisterArgs {
    AccountArgs account;
    std::vector<std::string> emails;
    bool agree_tos = false;
    std::string key_type = "ec256";
  };
  auto reg = std::make_shared<RegisterArgs>();
  CLI::App* register_cmd = account->add_subcommand("register", "Create the account at the CA (External Account Binding when needed)");
  register_cmd->add_option("--email", reg->emails, "Contact e-mail address (repeatable; one address each)");
  register_cmd->add_flag("--agree-tos", reg->agree_tos, "Agree to the CA's terms of service");
  register_cmd->add_option("--key-type", reg->key_type, "Account key: ec256 (ES256, default), ec384, rsa2048/3072/4096 (RS256)")
      ->check(offers(key_type_names()));
  add_account_options(register_cmd, reg->account, /*with_eab=*/true);
  register_cmd->add_flag("--json", context.options().json, "Print the account as JSON");
  register_cmd->callback([&context, reg, register_cmd] {
    lifecycle::RegisterAccountRequest request;
    request.account = selector(context, reg->account);
    request.contacts = reg->emails.empty() ? context.config().account_emails : reg->emails;
    request.agree_to_terms = reg->agree_tos;
    request.key_type = key_type_of(reg->key_type);
    if (context.config().account_key_type && register_cmd->count("--key-type") == 0)
      request.key_type = *context.config().account_key_type;
    request.eab = reg->account.eab;
    auto info = lifecycle::register_account(context.store(), context.clock(), context.http(), request, context.progress());
    print_account(context, info, info.created ? "Account registered" : "Account already registered (nothing sent)");
  });

  auto show_args = std::make_shared<AccountArgs>();
  CLI::App* show = account->add_subcommand("show", "Show the stored account (asks the CA nothing)");
  add_account_options(show, *show_args, false);
  show->add_flag("--json", context.options().json, "Print the account as JSON");
  show->callback([&context, show_args] {
    auto info = lifecycle::show_account(context.store(), selector(context, *show_args));
    print_account(context, info, "Account");
  });

  struct UpdateArgs {
    AccountArgs account;
    std::vector<std::string> emails;
    bool no_email = false;
  };
  auto upd = std::make_shared<UpdateArgs>();
  CLI::App* update = account->add_subcommand("update", "Replace the account's contact addresses at the CA");
  update->add_option("--email", upd->emails, "Contact e-mail address (repeatable; replaces all)");
  update->add_flag("--no-email", upd->no_email, "Remove every contact address");
  add_account_options(update, upd->account, false);
  update->add_flag("--json", context.options().json, "Print the account as JSON");
  update->callback([&context, upd] {
    if (upd->emails.empty() && !upd->no_email)
      throw Error(ErrorKind::usage, "account update needs --email ADDRESS (repeatable) or --no-email",
                  "certcli account update --email you@example.com");
    if (!upd->emails.empty() && upd->no_email)
      throw Error(ErrorKind::usage, "--email and --no-email contradict each other", "give one of them");
    auto info = lifecycle::update_account(context.store(), context.clock(), context.http(),
                                          selector(context, upd->account), upd->emails);
    print_account(context, info, "Account updated");
  });

  struct RolloverArgs {
    AccountArgs account;
    std::string key_type;
  };
  auto roll = std::make_shared<RolloverArgs>();
  CLI::App* rollover = account->add_subcommand("rollover", "Move the account to a new key (RFC 8555 key change); the old key is archived");
  rollover->add_option("--key-type", roll->key_type, "The new key: ec256, ec384, rsa2048/3072/4096 (default: the current type)")
      ->check(offers(key_type_names()));
  add_account_options(rollover, roll->account, false);
  rollover->add_flag("--json", context.options().json, "Print the account as JSON");
  rollover->callback([&context, roll] {
    auto sel = selector(context, roll->account);
    std::string type = roll->key_type;
    if (type.empty()) type = lifecycle::show_account(context.store(), sel).key_type;
    auto info = lifecycle::rollover_account(context.store(), context.clock(), context.http(), sel, key_type_of(type));
    print_account(context, info, "Account key rolled over");
  });

  struct DeactivateArgs {
    AccountArgs account;
    bool yes = false;
  };
  auto deact = std::make_shared<DeactivateArgs>();
  CLI::App* deactivate = account->add_subcommand("deactivate", "Deactivate the account at the CA for good");
  deactivate->add_flag("--yes", deact->yes, "Confirm: the CA never accepts a deactivated account again");
  add_account_options(deactivate, deact->account, false);
  deactivate->add_flag("--json", context.options().json, "Print the account as JSON");
  deactivate->callback([&context, deact] {
    if (!deact->yes)
      throw Error(ErrorKind::usage, "deactivating an account cannot be undone, and --yes was not given",
                  "run again with --yes to deactivate it");
    auto info = lifecycle::deactivate_account(context.store(), context.clock(), context.http(),
                                              selector(context, deact->account));
    print_account(context, info, "Account deactivated");
  });
}

}  // namespace certcli::cli
