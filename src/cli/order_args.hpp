// The order options shared by `domain add`, `domain set` and `issue`: certificate profile,
// preferred chain, key reuse. Parsed here; checked and decided in lifecycle/.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace certcli::cli {

struct OrderArgs {
  std::string profile;
  std::string preferred_profile;
  std::string preferred_chain;
  bool reuse_key = false;
  CLI::Option* profile_option = nullptr;
  CLI::Option* preferred_profile_option = nullptr;
  CLI::Option* preferred_chain_option = nullptr;

  // The value given on the command line, or nullopt when the option was not given ("" clears).
  static std::optional<std::string> given(const CLI::Option* option, const std::string& value) {
    if (option == nullptr || option->count() == 0) return std::nullopt;
    return value;
  }
  std::optional<std::string> profile_given() const { return given(profile_option, profile); }
  std::optional<std::string> preferred_profile_given() const { return given(preferred_profile_option, preferred_profile); }
  std::optional<std::string> preferred_chain_given() const { return given(preferred_chain_option, preferred_chain); }
};

// `remembered`: the text says the setting is kept with the domain.
inline void add_order_options(CLI::App* command, OrderArgs& args, bool with_reuse_key, const char* reuse_key_help) {
  args.profile_option = command->add_option(
      "--profile", args.profile,
      "Certificate profile the CA must offer (its directory's meta.profiles), sent with each order; remembered");
  args.preferred_profile_option = command->add_option(
      "--preferred-profile", args.preferred_profile,
      "Certificate profile to ask for when the CA offers it, else the CA's default (with a note); remembered");
  args.preferred_chain_option = command->add_option(
      "--preferred-chain", args.preferred_chain,
      "Keep the CA's chain (default or alternate) whose top certificate is issued by, or is, this common name, "
      "e.g. \"ISRG Root X1\"; remembered");
  if (with_reuse_key) command->add_flag("--reuse-key", args.reuse_key, reuse_key_help);
}

}  // namespace certcli::cli
