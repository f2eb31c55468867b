// certcli config show|set|unset|path
#include "cli/cli.hpp"

#include <certcli/config.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

namespace certcli::cli {
namespace {

// The process environment, for $ENV: references.
std::optional<std::string> environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// KEY, VALUE, SOURCE columns; an unset value is "-". A long value (a deploy hook) runs past its
// column rather than widening every row.
void print_settings(const std::vector<config::Setting>& settings, bool header) {
  std::size_t key_width = 4, value_width = 5;
  for (const auto& s : settings) {
    key_width = std::max(key_width, s.key.size());
    value_width = std::max(value_width, std::min<std::size_t>(s.value.size(), 40));
  }
  if (header) fmt::print("{:<{}}  {:<{}}  {}\n", "KEY", key_width, "VALUE", value_width, "SOURCE");
  for (const auto& s : settings)
    fmt::print("{:<{}}  {:<{}}  {}\n", s.key, key_width, s.value.empty() ? "-" : s.value, value_width, s.source);
}

nlohmann::json to_json(const config::Setting& s) {
  return {{"key", s.key},
          {"value", s.value.empty() ? nlohmann::json() : nlohmann::json(s.value)},
          {"source", s.source},
          {"secret", s.secret}};
}

}  // namespace

void register_config_command(CLI::App& app, Context& context) {
  CLI::App* command = app.add_subcommand("config", "Show or change the defaults in config.toml in the state directory");
  command->require_subcommand(1);
  std::string keys = fmt::format("Keys: {}.\n", fmt::join(config::known_keys(), ", "));

  CLI::App* show =
      command->add_subcommand("show", "Show every setting: its value, and whether config.toml or a built-in gives it");
  show->add_flag("--json", context.options().json, "Print {\"settings\": [{key, value, source, secret}]}");
  show->callback([&context] {
    auto settings =
        config::effective_settings(config::load_config(config::config_file(context.home()), environment_variable));
    if (context.options().json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : settings) out.push_back(to_json(s));
      print_json({{"settings", out}});
      return;
    }
    print_settings(settings, true);
  });

  struct SetArgs {
    std::string key;
    std::string value;
  };
  auto args = std::make_shared<SetArgs>();
  CLI::App* set = command->add_subcommand("set", "Set KEY to VALUE in config.toml, after checking both");
  set->add_option("key", args->key, "The key, such as renewal.buffer_days")->required()->check(offers(config::known_keys()));
  set->add_option("value", args->value,
                  "The value: a number, text, a comma-separated list (account.email, alerts.days), or a reference "
                  "$ENV:VAR or $FILE:/path, stored as written")
      ->required();
  set->footer(keys);
  set->callback([&context, args] {
    // Checked before the lock is taken, so that a refused value creates nothing.
    config::check_value(args->key, args->value, environment_variable);
    auto lock = context.store().lock(std::chrono::seconds{30});
    print_settings(
        {config::set_value(config::config_file(context.home()), args->key, args->value, environment_variable)}, false);
  });

  auto unset_key = std::make_shared<std::string>();
  CLI::App* unset = command->add_subcommand("unset", "Remove KEY from config.toml, so that its built-in applies again");
  unset->add_option("key", *unset_key, "The key, such as renewal.buffer_days")->required()->check(offers(config::known_keys()));
  unset->footer(keys);
  unset->callback([&context, unset_key] {
    config::check_key(*unset_key);
    auto lock = context.store().lock(std::chrono::seconds{30});
    print_settings({config::unset_value(config::config_file(context.home()), *unset_key)}, false);
  });

  CLI::App* path = command->add_subcommand("path", "Print where config.toml is (it need not exist)");
  path->callback([&context] { fmt::print("{}\n", config::config_file(context.home()).string()); });
}

}  // namespace certcli::cli
