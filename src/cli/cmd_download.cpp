// certcli download NAME [--out DIR] [--format files|tar|p12|der] [--stdout PART] [--version V]
// [--force] [--p12-password-file F] [--p12-legacy] [--json]: a certificate and its key (in
// clear) out of the state directory, for another server or an appliance.
#include "cli/cli.hpp"

#include <certcli/crypto.hpp>
#include <certcli/files.hpp>
#include <certcli/transfer.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <termios.h>
#include <unistd.h>

namespace certcli::cli {
namespace {

struct DownloadArgs {
  std::string name;
  std::string out;
  std::string format = "files";
  std::string stdout_part;
  std::string version;
  bool force = false;
  std::string p12_password_file;
  bool p12_legacy = false;
};

// One line from the terminal with echo off; the terminal is restored whatever happens.
std::string read_hidden_line(const char* prompt) {
  fmt::print(stderr, "{}", prompt);
  std::fflush(stderr);
  termios saved{};
  bool restore = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  fmt::print(stderr, "\n");
  return line;
}

std::string p12_password(const DownloadArgs& args) {
  if (!args.p12_password_file.empty()) {
    std::string text;
    try {
      text = files::read_file(args.p12_password_file);
    } catch (const Error& e) {
      throw Error(ErrorKind::invalid_input, fmt::format("the password file {} cannot be read: {}", args.p12_password_file, e.what()),
                  "make the file readable by this user (and by no one else)", args.p12_password_file);
    }
    if (text.ends_with('\n')) text.pop_back();
    if (text.ends_with('\r')) text.pop_back();
    if (text.empty())
      throw Error(ErrorKind::invalid_input, fmt::format("the password file {} is empty", args.p12_password_file),
                  "write the PKCS#12 password into it", args.p12_password_file);
    return text;
  }
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDERR_FILENO) != 1)
    throw Error(ErrorKind::usage, "a PKCS#12 file needs a password, and there is no terminal to ask for one on",
                "pass --p12-password-file FILE (the password on its first line)");
  std::string first = read_hidden_line("PKCS#12 password: ");
  if (first.empty()) throw Error(ErrorKind::usage, "the PKCS#12 password is empty", "give a password; it protects the key");
  std::string second = read_hidden_line("The same password again: ");
  if (first != second) {
    crypto::wipe(first);
    crypto::wipe(second);
    throw Error(ErrorKind::usage, "the two passwords differ; nothing was written", "run the command again");
  }
  crypto::wipe(second);
  return first;
}

}  // namespace

void register_download_command(CLI::App& app, Context& context) {
  auto args = std::make_shared<DownloadArgs>();
  CLI::App* download = app.add_subcommand(
      "download", "Write a certificate and its key (in clear) as files, a .tar.gz, a PKCS#12 or DER, or print one part");
  download->add_option("name", args->name, "The domain")->required();
  download->add_option("--out", args->out, "Directory to write into (default: the current directory; created 0700)");
  download->add_option("--format", args->format,
                       "files (certificate.crt, private.key, ca_bundle.crt, fullchain.pem; the default), tar (the four "
                       "in NAME.tar.gz), p12 (NAME.p12) or der (the leaf, NAME.der)")
      ->check(offers({"files", "tar", "p12", "der"}));
  download->add_option("--stdout", args->stdout_part, "Print one part as PEM instead of writing files: cert, key, chain or fullchain")
      ->check(offers({"cert", "key", "chain", "fullchain"}));
  download->add_option("--version", args->version, "An archived version (as `certcli domain show` lists) instead of the live one");
  download->add_flag("--force", args->force, "Replace files that exist");
  download->add_option("--p12-password-file", args->p12_password_file,
                       "File whose first line is the PKCS#12 password (else it is asked on the terminal)");
  download->add_flag("--p12-legacy", args->p12_legacy,
                     "PKCS#12 with the old algorithms (PBE-SHA1-3DES, SHA-1 MAC) for appliances that know no others");
  download->add_flag("--json", context.options().json, "Print {\"domain\", \"version\", \"format\", \"serial\", \"files\": [{path, secret}]}");
  download->callback([&context, args] {
    auto format = lifecycle::parse_export_format(args->format);
    if (!format)
      throw Error(ErrorKind::usage, fmt::format("--format '{}' is not one of files, tar, p12, der", args->format),
                  "choose one of files, tar, p12, der");
    const std::string& part = args->stdout_part;
    if (!part.empty() && part != "cert" && part != "key" && part != "chain" && part != "fullchain")
      throw Error(ErrorKind::usage, fmt::format("--stdout '{}' is not one of cert, key, chain, fullchain", part),
                  "choose one of cert, key, chain, fullchain");
    if (!part.empty() && (!args->out.empty() || *format != lifecycle::ExportFormat::files))
      throw Error(ErrorKind::usage, "--stdout prints one part as PEM; it takes neither --out nor --format",
                  "leave out --out and --format, or leave out --stdout");
    if ((args->p12_legacy || !args->p12_password_file.empty()) && *format != lifecycle::ExportFormat::p12)
      throw Error(ErrorKind::usage, "--p12-password-file and --p12-legacy go with --format p12", "add --format p12");

    store::Store& store = context.store();
    lifecycle::CertificateExport exported = lifecycle::load_export(store, args->name, args->version);
    if (!part.empty()) {
      const auto& f = exported.files;
      const std::string& text = part == "cert" ? f.certificate : part == "key" ? f.private_key : part == "chain" ? f.chain : f.fullchain;
      fmt::print("{}", text);
      lifecycle::log_download(store, context.clock(), exported, "stdout:" + part, {});
      return;
    }
    lifecycle::ExportOptions options;
    options.directory = args->out;
    options.format = *format;
    options.force = args->force;
    options.p12_legacy = args->p12_legacy;
    if (*format == lifecycle::ExportFormat::p12) options.p12_password = p12_password(*args);
    std::vector<lifecycle::WrittenFile> written;
    try {
      written = lifecycle::write_export(exported, options, context.clock().now());
    } catch (...) {
      crypto::wipe(options.p12_password);
      throw;
    }
    crypto::wipe(options.p12_password);
    lifecycle::log_download(store, context.clock(), exported, lifecycle::to_string(*format), written);
    if (context.options().json) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& file : written) files.push_back({{"path", file.path}, {"secret", file.secret}});
      print_json(nlohmann::json{{"domain", exported.domain},
                                {"version", exported.version},
                                {"live", exported.live},
                                {"format", lifecycle::to_string(*format)},
                                {"serial", exported.certificate.serial_hex},
                                {"files", files}});
      return;
    }
    for (const auto& file : written) fmt::print("{}{}\n", file.path, file.secret ? "  (private key, 0600)" : "");
  });
}

}  // namespace certcli::cli
