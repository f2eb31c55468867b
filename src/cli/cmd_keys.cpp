// certcli keys encrypt|decrypt: converts every private key of the state directory, and where
// the passphrase comes from (--passphrase-file, $CERTCLI_PASSPHRASE, config.toml keys.passphrase).
#include "cli/cli.hpp"

#include <certcli/crypto.hpp>
#include <certcli/files.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

namespace certcli::cli {
namespace {

const char* const kPassphraseHint =
    "set CERTCLI_PASSPHRASE or pass --passphrase-file (config.toml: keys.passphrase = \"$FILE:/path\" or "
    "\"$ENV:VARIABLE\")";

// A passphrase file holds the passphrase and, maybe, one line end (as `echo` writes it).
std::string read_passphrase_file(const std::string& path, const std::string& origin) {
  std::string text;
  try {
    text = files::read_file(path);
  } catch (const Error& e) {
    throw Error(ErrorKind::invalid_input, fmt::format("the passphrase file {} ({}) cannot be read: {}", path, origin, e.what()),
                "make the file readable by certcli's user (and by no one else)", path);
  }
  if (text.ends_with('\n')) text.pop_back();
  if (text.ends_with('\r')) text.pop_back();
  if (text.empty())
    throw Error(ErrorKind::invalid_input, fmt::format("the passphrase file {} ({}) is empty", path, origin),
                "write the passphrase into the file", path);
  return text;
}

std::string config_passphrase(const std::string& reference) {
  const std::string origin = "config.toml keys.passphrase";
  if (reference.starts_with("$ENV:")) {
    std::string variable = reference.substr(5);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0')
      throw Error(ErrorKind::invalid_input, fmt::format("the passphrase comes from ${} ({}), which is not set", variable, origin),
                  fmt::format("export {} in the environment certcli runs in", variable));
    return value;
  }
  return read_passphrase_file(reference.substr(reference.find(':') + 1), origin);
}

}  // namespace

store::KeyProtection key_protection(Context& context) {
  store::KeyProtection keys;
  // config.toml is optional here: a command that needs it reports a broken file itself, and
  // `config set` must still be able to repair one.
  const config::Config* config = nullptr;
  try {
    config = &context.config();
  } catch (const Error&) {
  }
  if (config != nullptr) keys.plain_live_key = config->plain_live_key;
  if (!context.options().passphrase_file.empty())
    keys.passphrase = read_passphrase_file(context.options().passphrase_file, "--passphrase-file");
  else if (const char* env = std::getenv("CERTCLI_PASSPHRASE"); env != nullptr && *env != '\0')
    keys.passphrase = env;
  else if (config != nullptr && config->key_passphrase)
    keys.passphrase = config_passphrase(*config->key_passphrase);
  return keys;
}

bool command_reads_keys(const std::string& command) {
  return command == "issue" || command == "renew" || command == "download" || command == "upload" ||
         command.starts_with("keys") || command == "revoke" || command.starts_with("account") ||
         command == "pin backup-key";
}

void register_keys_command(CLI::App& app, Context& context) {
  CLI::App* keys = app.add_subcommand("keys", "Encrypt or decrypt every private key in the state directory");
  keys->require_subcommand(1);
  for (bool encrypt : {true, false}) {
    CLI::App* command = keys->add_subcommand(
        encrypt ? "encrypt" : "decrypt",
        encrypt ? "Rewrite every private key encrypted with the passphrase (scrypt, AES-256-CBC)"
                : "Rewrite every private key in clear (needs the passphrase they were encrypted with)");
    command->add_flag("--json", context.options().json, "Print {\"rewritten\": [files]}");
    command->callback([&context, encrypt] {
      store::Store& store = context.store();
      store::KeyProtection keys = key_protection(context);
      bool has_passphrase = !keys.passphrase.empty();
      crypto::wipe(keys.passphrase);
      if (encrypt && !has_passphrase)
        throw Error(ErrorKind::usage, "no passphrase to encrypt the keys with", kPassphraseHint);
      auto lock = store.lock(std::chrono::seconds{30});
      std::vector<std::string> rewritten = store.convert_keys(encrypt);
      store.append_activity({{"time", format_rfc3339(context.clock().now())},
                             {"event", encrypt ? "keys.encrypted" : "keys.decrypted"},
                             {"files", rewritten.size()}});
      if (context.options().json) {
        print_json(nlohmann::json{{"rewritten", rewritten}});
        return;
      }
      for (const auto& file : rewritten) fmt::print("{} {}\n", encrypt ? "encrypted" : "decrypted", file);
      fmt::print("{} key file{} {}\n", rewritten.size(), rewritten.size() == 1 ? "" : "s",
                 rewritten.empty() ? "needed no change" : "rewritten");
    });
  }
}

}  // namespace certcli::cli
