// certcli upload NAME --cert FILE [--key FILE] [--chain FILE] [--key-passphrase-file F] [--yes]
// [--json]: installs an operator's own certificate after checking it, and makes the domain
// self-managed (renew skips it; status and alerts still watch it).
#include "cli/cli.hpp"

#include <certcli/crypto.hpp>
#include <certcli/files.hpp>
#include <certcli/transfer.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace certcli::cli {
namespace {

struct UploadArgs {
  std::string name;
  std::string cert;
  std::string key;
  std::string chain;
  std::string key_passphrase_file;
  bool yes = false;
};

lifecycle::UploadInput read_input(const std::string& path, const char* option) {
  try {
    return {files::read_file(path), path};
  } catch (const Error& e) {
    throw Error(ErrorKind::invalid_input, fmt::format("{} {} cannot be read: {}", option, path, e.what()),
                "check the path and that this user may read the file", path);
  }
}

bool confirm_on_terminal(const std::string& name, const std::vector<std::string>& added,
                         const std::vector<std::string>& removed) {
  fmt::print(stderr, "The certificate's names differ from the live certificate of {}:\n", name);
  for (const auto& n : added) fmt::print(stderr, "  + {}\n", n);
  for (const auto& n : removed) fmt::print(stderr, "  - {}\n", n);
  fmt::print(stderr, "Replace the live certificate? [y/N] ");
  std::fflush(stderr);
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

void register_upload_command(CLI::App& app, Context& context) {
  auto args = std::make_shared<UploadArgs>();
  CLI::App* upload = app.add_subcommand(
      "upload", "Install your own certificate (checked: key, expiry, names, chain); the domain becomes self-managed");
  upload->add_option("name", args->name, "The domain (added, with the certificate's names, when new: needs --yes)")->required();
  upload->add_option("--cert", args->cert, "The certificate, PEM or DER; may hold the whole chain")->required();
  upload->add_option("--key", args->key,
                     "Its private key: PKCS#8, PKCS#1 or SEC1, PEM or DER, maybe encrypted (default: the live key)");
  upload->add_option("--chain", args->chain, "The intermediate certificates, PEM or DER, in any order");
  upload->add_option("--key-passphrase-file", args->key_passphrase_file, "File whose first line opens an encrypted --key");
  upload->add_flag("--yes", args->yes, "Confirm a change of names, or adding a new domain, without asking");
  upload->add_flag("--json", context.options().json,
                   "Print {\"domain\", \"created\", \"version\", \"previous_version\", \"serial\", \"names\", "
                   "\"expires_at\", \"names_added\", \"names_removed\", \"chain_reordered\", \"notes\", \"warnings\"}");
  upload->callback([&context, args] {
    lifecycle::UploadRequest request;
    request.name = args->name;
    request.certificate = read_input(args->cert, "--cert");
    if (!args->key.empty()) request.key = read_input(args->key, "--key");
    if (!args->chain.empty()) request.chain = read_input(args->chain, "--chain");
    if (!args->key_passphrase_file.empty()) {
      std::string text = read_input(args->key_passphrase_file, "--key-passphrase-file").bytes;
      if (text.ends_with('\n')) text.pop_back();
      if (text.ends_with('\r')) text.pop_back();
      request.key_passphrase = std::move(text);
    }
    request.yes = args->yes;
    if (::isatty(STDIN_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1)
      request.confirm = [name = args->name](const auto& added, const auto& removed) {
        return confirm_on_terminal(name, added, removed);
      };
    lifecycle::UploadResult result;
    try {
      result = lifecycle::upload_certificate(context.store(), context.clock(), request);
    } catch (...) {
      crypto::wipe(request.key_passphrase);
      throw;
    }
    crypto::wipe(request.key_passphrase);
    const auto& info = result.certificate;
    if (context.options().json) {
      auto text_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
      print_json(nlohmann::json{{"domain", result.record.name},
                                {"created", result.created},
                                {"management", result.record.management},
                                {"version", result.version},
                                {"previous_version", text_or_null(result.previous_version)},
                                {"serial", info.serial_hex},
                                {"names", info.sans},
                                {"not_before", format_rfc3339(info.not_before)},
                                {"expires_at", format_rfc3339(info.not_after)},
                                {"names_added", result.added_names},
                                {"names_removed", result.removed_names},
                                {"chain_reordered", result.reordered},
                                {"notes", result.notes},
                                {"warnings", result.warnings},
                                {"live", result.live_location}});
    }
    if (!context.options().quiet) {
      for (const auto& note : result.notes) fmt::print(stderr, "certcli: note: {}\n", note);
      if (result.reordered) fmt::print(stderr, "certcli: note: the chain was out of order; it is stored leaf first, then each issuer\n");
      for (const auto& warning : result.warnings) fmt::print(stderr, "certcli: warning: {}\n", warning);
    }
    if (context.options().json) return;
    const TimePoint now = context.clock().now();
    fmt::print("Certificate uploaded for {}{}\n", result.record.name, result.created ? " (added, self-managed)" : " (now self-managed)");
    fmt::print("  names:    {}\n", fmt::join(info.sans, ", "));
    fmt::print("  expires:  {}\n", describe_time(info.not_after, now));
    fmt::print("  issuer:   {}\n", info.issuer);
    fmt::print("  serial:   {}\n", info.serial_hex);
    if (!result.added_names.empty()) fmt::print("  added:    {}\n", fmt::join(result.added_names, ", "));
    if (!result.removed_names.empty()) fmt::print("  removed:  {}\n", fmt::join(result.removed_names, ", "));
    if (!result.previous_version.empty()) fmt::print("  previous: archive/{} (kept)\n", result.previous_version);
    fmt::print("  files:    {}/{{cert,chain,fullchain,key}}.pem\n", result.live_location);
    fmt::print("certcli renew leaves it alone; upload its successor before it expires (alerts still warn)\n");
  });
}

}  // namespace certcli::cli
