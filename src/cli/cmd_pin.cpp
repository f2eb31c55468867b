// certcli pin: SPKI pins (RFC 7469) of certificate files, keys and live hosts; the pin table;
// live checks; trust-store checks; backup keys for pin-safe renewal. Parses, calls pin::, prints
// (a table for people, --json from the same structs).
#include "cli/cli.hpp"

#include <certcli/files.hpp>
#include <certcli/pin.hpp>
#include <certcli/spki.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace certcli::cli {
namespace {

constexpr const char* kOpensslPipeline =
    "The same pin by hand, with OpenSSL:\n"
    "  certificate: openssl x509 -in FILE -pubkey -noout | openssl pkey -pubin -outform der |\n"
    "               openssl dgst -sha256 -binary | base64\n"
    "  (a DER certificate: add -inform der to openssl x509)\n"
    "  private key: openssl pkey -in FILE -pubout -outform der | openssl dgst -sha256 -binary | base64\n";

nlohmann::json time_json(const std::optional<TimePoint>& t) { return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(); }

nlohmann::json entry_json(const pin::PinEntry& e, TimePoint now) {
  return {{"label", e.label},   {"host", e.host},
          {"cn", e.cn},         {"pin", e.pin},
          {"fingerprint", e.fingerprint}, {"expires", time_json(e.expires)},
          {"source", e.source}, {"status", pin::to_string(pin::status_of(e, now))},
          {"added_at", time_json(e.added_at)}};
}

nlohmann::json certificate_json(const crypto::ChainCertificate& c, std::size_t index) {
  return {{"index", index},
          {"cn", c.info.subject_common_name},
          {"issuer", c.info.issuer_common_name.empty() ? c.info.issuer : c.info.issuer_common_name},
          {"not_after", format_rfc3339(c.info.not_after)},
          {"pin", c.pin},
          {"fingerprint", c.info.sha256_fingerprint},
          {"recommended", index == 0}};
}

nlohmann::json trust_json(const crypto::TrustVerdict& v) {
  return {{"trusted", v.trusted}, {"anchor", v.anchor}, {"detail", v.detail}};
}

std::string describe_trust(const crypto::TrustVerdict& v, const std::string& ca_bundle) {
  if (v.trusted) return fmt::format("the chain validates against {}", v.anchor);
  return fmt::format("the chain does NOT validate against {}: {}", ca_bundle.empty() ? "the system trust store" : ca_bundle,
                     v.detail);
}

// The chain as served, leaf first, each with what an operator chooses a pin by.
void print_chain(const pin::HostChain& chain, std::size_t chosen, TimePoint now) {
  fmt::print("{}:{} ({}, {}) serves {} certificate{}:\n", chain.target.host, chain.target.port, chain.served.address,
             chain.served.protocol, chain.certificates.size(), chain.certificates.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < chain.certificates.size(); ++i) {
    const auto& c = chain.certificates[i];
    std::string marks = i == 0 ? " (recommended: the server's own key)" : "";
    if (i == chosen) marks += " <- pinned";
    fmt::print("  [{}] CN={}{}\n      issuer: {}\n      expires: {}\n      pin: {}\n", i,
               c.info.subject_common_name.empty() ? "(none)" : c.info.subject_common_name, marks,
               c.info.issuer_common_name.empty() ? c.info.issuer : c.info.issuer_common_name,
               describe_time(c.info.not_after, now), c.pin);
  }
}

std::string read_input(const std::string& path, const char* option) {
  try {
    return files::read_file(path);
  } catch (const Error& e) {
    throw Error(ErrorKind::invalid_input, fmt::format("cannot read {} {}: {}", option, path, e.what()),
                "give a file this user can read", path);
  }
}

std::string passphrase_from(const std::string& file) {
  if (file.empty()) return {};
  std::string text = read_input(file, "--key-passphrase-file");
  return text.substr(0, text.find('\n'));
}

TimePoint parse_expires(const std::string& text) {
  try {
    return parse_rfc3339(text.size() == 10 ? text + "T00:00:00Z" : text);
  } catch (const Error&) {
    throw Error(ErrorKind::usage, fmt::format("--expires '{}' is not a date", text),
                "give YYYY-MM-DD or an RFC 3339 time (2027-02-23T16:40:00Z)");
  }
}

struct AddArgs {
  std::string cert;
  std::string key;
  std::string host;
  std::string pin;
  std::size_t chain_index = 0;
  std::string cn;
  std::string expires;
  std::string label;
  std::string for_host;
  std::string server_name;
  std::string timeout = "10";
  std::string key_passphrase_file;
};

void print_added(Context& context, const std::vector<pin::AddOutcome>& outcomes, nlohmann::json extra) {
  const TimePoint now = context.clock().now();
  if (context.options().json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& o : outcomes) {
      nlohmann::json item = entry_json(o.entry, now);
      item["added"] = o.added;
      list.push_back(item);
    }
    extra["pins"] = list;
    print_json(extra);
    return;
  }
  for (const auto& o : outcomes) {
    if (o.added)
      fmt::print("added pin {} as '{}' ({})\n", o.entry.pin, o.entry.label, pin::to_string(pin::status_of(o.entry, now)));
    else
      fmt::print("pin {} is in the table already, as '{}'\n", o.entry.pin, o.existing_label);
  }
}

void register_add(CLI::App* pin_command, Context& context) {
  auto args = std::make_shared<AddArgs>();
  CLI::App* add = pin_command->add_subcommand(
      "add", "Add a pin to the table: of a certificate (--cert), a key (--key), a live host's chain (--host), or by hand (--pin)");
  auto* cert = add->add_option("--cert", args->cert, "Certificate file, PEM or DER (.pem, .crt, .cer)");
  auto* key = add->add_option("--key", args->key, "Private or public key file, PEM or DER");
  auto* host = add->add_option("--host", args->host,
                               "HOST[:PORT] (443 by default): connect with SNI, show the served chain leaf first and pin the "
                               "leaf (the recommended one) or --chain-index's");
  auto* by_hand = add->add_option("--pin", args->pin, "A pin by hand: base64 of the SHA-256 of a DER SubjectPublicKeyInfo");
  cert->excludes(key, host, by_hand);
  key->excludes(host, by_hand);
  host->excludes(by_hand);
  add->add_option("--chain-index", args->chain_index, "With --host: pin the certificate at this index (0, the leaf, by default)")
      ->needs(host);
  add->add_option("--cn", args->cn, "With --pin: the CN of the certificate it belongs to")->needs(by_hand);
  add->add_option("--expires", args->expires, "With --pin: when that certificate expires (YYYY-MM-DD or RFC 3339)")
      ->needs(by_hand);
  add->add_option("--label", args->label, "The entry's label (default: the host, the CN or the file's name)");
  add->add_option("--for", args->for_host, "The host this pin is for (default: --host's; else it applies through its CN)");
  add->add_option("--server-name", args->server_name, "With --host: the SNI to send (default: the host when it is a name)")
      ->needs(host);
  add->add_option("--timeout", args->timeout, "With --host: how long to wait for the connection and the handshake (10s)")
      ->needs(host);
  add->add_option("--key-passphrase-file", args->key_passphrase_file, "File whose first line opens an encrypted --key or --cert");
  add->add_flag("--json", context.options().json,
                "Print {\"pins\": [{label, host, cn, pin, fingerprint, expires, source, status, added_at, added}]} "
                "(with --host also \"chain\" and \"trust\")");
  add->callback([&context, args] {
    if (args->cert.empty() && args->key.empty() && args->host.empty() && args->pin.empty())
      throw Error(ErrorKind::usage, "pin add needs what to pin", "give --cert FILE, --key FILE, --host HOST[:PORT] or --pin BASE64");
    pin::PinEntry entry;
    nlohmann::json extra = nlohmann::json::object();
    if (!args->host.empty()) {
      net::TlsTarget target = net::parse_tls_target(args->host, 443, "--host");
      target.server_name = args->server_name;
      pin::HostChain chain = pin::inspect_host(target, parse_duration(args->timeout, "--timeout", std::chrono::minutes{10}),
                                               context.options().ca_bundle,
                                               pin::managed_bundle(context.store()));
      entry = pin::entry_for(chain, args->chain_index);
      if (context.options().json) {
        nlohmann::json list = nlohmann::json::array();
        for (std::size_t i = 0; i < chain.certificates.size(); ++i) list.push_back(certificate_json(chain.certificates[i], i));
        extra["chain"] = list;
        extra["trust"] = trust_json(chain.trust);
      } else {
        print_chain(chain, args->chain_index, context.clock().now());
        fmt::print("{}\n", describe_trust(chain.trust, context.options().ca_bundle));
      }
    } else if (!args->pin.empty()) {
      if (!pin::is_pin(args->pin))
        throw Error(ErrorKind::invalid_input, fmt::format("'{}' is not a pin (base64 of a 32-byte SHA-256)", args->pin),
                    "a pin is 44 characters of base64 ending in '='; certcli pin generate FILE computes one");
      entry.pin = args->pin;
      entry.cn = args->cn;
      if (!args->expires.empty()) entry.expires = parse_expires(args->expires);
      entry.label = !args->cn.empty() ? args->cn : "pin";
      entry.source = "manual";
    } else {
      const std::string& path = !args->cert.empty() ? args->cert : args->key;
      crypto::PinnedObject object =
          crypto::pinned_object(read_input(path, !args->cert.empty() ? "--cert" : "--key"),
                                passphrase_from(args->key_passphrase_file), path);
      entry.pin = object.pin;
      if (object.certificate) {
        entry.cn = object.certificate->subject_common_name;
        entry.fingerprint = object.certificate->sha256_fingerprint;
        entry.expires = object.certificate->not_after;
      }
      entry.label = !entry.cn.empty() ? entry.cn : std::filesystem::path(path).filename().string();
      entry.source = fmt::format("{}:{}", object.kind == "certificate" ? "cert" : "key", path);
    }
    if (!args->label.empty()) entry.label = args->label;
    if (!args->for_host.empty()) entry.host = net::parse_tls_target(args->for_host, 443, "--for").host;
    print_added(context, pin::add_pins(context.store(), context.clock(), {entry}), extra);
  });
}

void register_list(CLI::App* pin_command, Context& context) {
  CLI::App* list = pin_command->add_subcommand("list", "List the pin table: label, status, expiry, pin, host/CN, source");
  list->add_flag("--json", context.options().json,
                 "Print {\"pins\": [{label, host, cn, pin, fingerprint, expires, source, status, added_at}]}");
  list->callback([&context] {
    const TimePoint now = context.clock().now();
    std::vector<pin::PinEntry> entries = pin::load_pins(context.store());
    if (context.options().json) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& e : entries) items.push_back(entry_json(e, now));
      print_json(nlohmann::json{{"pins", items}});
      return;
    }
    if (entries.empty()) {
      // On stderr, as `domain list` does: a script reading the table gets no line, a person a hint.
      if (!context.options().quiet)
        fmt::print(stderr, "No pins yet. Add one: certcli pin add --host example.com (or --cert FILE, --key FILE)\n");
      return;
    }
    for (const auto& e : entries)
      fmt::print("{}\t{}\t{}\t{}\t{}\t{}\n", e.label, pin::to_string(pin::status_of(e, now)),
                 e.expires ? format_rfc3339(*e.expires) : "-", e.pin,
                 !e.host.empty() ? e.host : !e.cn.empty() ? "CN=" + e.cn : "-", e.source);
  });
}

void register_remove(CLI::App* pin_command, Context& context) {
  auto selector = std::make_shared<std::string>();
  CLI::App* remove = pin_command->add_subcommand("remove", "Remove the entries with this label (or this pin value)");
  remove->add_option("label", *selector, "A label from certcli pin list, or a pin")->required();
  remove->add_flag("--json", context.options().json, "Print {\"removed\": [entries]}");
  remove->callback([&context, selector] {
    const TimePoint now = context.clock().now();
    std::vector<pin::PinEntry> removed = pin::remove_pins(context.store(), context.clock(), *selector);
    if (context.options().json) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& e : removed) items.push_back(entry_json(e, now));
      print_json(nlohmann::json{{"removed", items}});
      return;
    }
    for (const auto& e : removed) fmt::print("removed '{}' ({})\n", e.label, e.pin);
  });
}

void register_import(CLI::App* pin_command, Context& context) {
  struct Args {
    std::string file;
    std::string for_host;
    std::string label = "imported";
  };
  auto args = std::make_shared<Args>();
  CLI::App* import = pin_command->add_subcommand(
      "import", "Add the pins of a file: one per line, or HPKP-style pin-sha256=\"...\" (status unknown until pin refresh)");
  import->add_option("file", args->file, "The file (- for standard input is not read; give a path)")->required();
  import->add_option("--for", args->for_host, "The host these pins are for");
  import->add_option("--label", args->label, "Label of the entries (numbered when there are several)")->capture_default_str();
  import->add_flag("--json", context.options().json, "Print {\"pins\": [entries with \"added\"]}");
  import->callback([&context, args] {
    std::string host = args->for_host.empty() ? "" : net::parse_tls_target(args->for_host, 443, "--for").host;
    print_added(context,
                pin::import_pins(context.store(), context.clock(), read_input(args->file, "FILE"), args->file, host, args->label),
                nlohmann::json::object());
  });
}

void register_refresh(CLI::App* pin_command, Context& context) {
  auto timeout = std::make_shared<std::string>("10");
  CLI::App* refresh = pin_command->add_subcommand(
      "refresh", "Look each pin up again (its host, the managed certificates) and record its certificate's CN, fingerprint and expiry");
  refresh->add_option("--timeout", *timeout, "How long to wait for each host (10s)");
  refresh->add_flag("--json", context.options().json, "Print {\"pins\": [{label, found_in, before, after, problem}]}");
  refresh->callback([&context, timeout] {
    auto outcomes = pin::refresh_pins(context.store(), context.clock(), parse_duration(*timeout, "--timeout", std::chrono::minutes{10}),
                                      context.options().ca_bundle);
    if (context.options().json) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& o : outcomes)
        items.push_back({{"label", o.label}, {"found_in", o.found_in}, {"before", pin::to_string(o.before)},
                         {"after", pin::to_string(o.after)}, {"problem", o.problem}});
      print_json(nlohmann::json{{"pins", items}});
      return;
    }
    for (const auto& o : outcomes)
      fmt::print("{}\t{} -> {}\t{}\n", o.label, pin::to_string(o.before), pin::to_string(o.after),
                 !o.found_in.empty() ? "found in " + o.found_in : !o.problem.empty() ? o.problem : "not found");
  });
}

void register_generate(CLI::App* pin_command, Context& context) {
  struct Args {
    std::string file;
    std::string key_passphrase_file;
  };
  auto args = std::make_shared<Args>();
  CLI::App* generate = pin_command->add_subcommand(
      "generate", "Print the pin of a certificate or key file (PEM or DER): base64(SHA-256(DER SubjectPublicKeyInfo))");
  generate->add_option("file", args->file, "Certificate, private key or public key file")->required();
  generate->add_option("--key-passphrase-file", args->key_passphrase_file, "File whose first line opens an encrypted key");
  generate->add_flag("--json", context.options().json, "Print {\"file\", \"kind\", \"pin\", \"cn\", \"expires\"}");
  generate->footer(kOpensslPipeline);
  generate->callback([&context, args] {
    crypto::PinnedObject object =
        crypto::pinned_object(read_input(args->file, "FILE"), passphrase_from(args->key_passphrase_file), args->file);
    if (context.options().json) {
      nlohmann::json out = {{"file", args->file}, {"kind", object.kind}, {"pin", object.pin}};
      if (object.certificate) {
        out["cn"] = object.certificate->subject_common_name;
        out["expires"] = format_rfc3339(object.certificate->not_after);
      }
      print_json(out);
      return;
    }
    fmt::print("{}\n", object.pin);
  });
}

void register_check(CLI::App* pin_command, Context& context) {
  struct Args {
    std::string host;
    std::string server_name;
    std::string timeout = "10";
  };
  auto args = std::make_shared<Args>();
  CLI::App* check = pin_command->add_subcommand(
      "check", "Connect to HOST[:PORT]; exit 0 only when a certificate of the served chain matches a pin for that host");
  check->add_option("host", args->host, "HOST or HOST:PORT (443 by default)")->required();
  check->add_option("--server-name", args->server_name, "The SNI to send (default: the host when it is a name)");
  check->add_option("--timeout", args->timeout, "How long to wait for the connection and the handshake (10s)");
  check->add_flag("--json", context.options().json,
                  "Print {\"host\", \"port\", \"passed\", \"matches\": [{index, label, pin}], \"chain\", \"trust\", "
                  "\"host_pins\"}");
  check->callback([&context, args] {
    net::TlsTarget target = net::parse_tls_target(args->host, 443, "HOST");
    target.server_name = args->server_name;
    pin::CheckResult result = pin::check_host(context.store(), target,
                                              parse_duration(args->timeout, "--timeout", std::chrono::minutes{10}),
                                              context.options().ca_bundle, pin::managed_bundle(context.store()));
    const TimePoint now = context.clock().now();
    if (context.options().json) {
      nlohmann::json chain = nlohmann::json::array();
      for (std::size_t i = 0; i < result.chain.certificates.size(); ++i)
        chain.push_back(certificate_json(result.chain.certificates[i], i));
      nlohmann::json matches = nlohmann::json::array();
      for (const auto& m : result.matches) matches.push_back({{"index", m.index}, {"label", m.label}, {"pin", m.pin}});
      nlohmann::json pins = nlohmann::json::array();
      for (const auto& e : result.host_pins) pins.push_back(entry_json(e, now));
      print_json(nlohmann::json{{"host", target.host}, {"port", target.port}, {"passed", result.passed()},
                                {"matches", matches}, {"chain", chain}, {"trust", trust_json(result.chain.trust)},
                                {"host_pins", pins}});
    } else {
      for (std::size_t i = 0; i < result.chain.certificates.size(); ++i) {
        const auto& c = result.chain.certificates[i];
        auto match = std::find_if(result.matches.begin(), result.matches.end(), [&](const pin::CheckMatch& m) { return m.index == i; });
        fmt::print("[{}] CN={}\t{}\t{}\n", i, c.info.subject_common_name, c.pin,
                   match != result.matches.end() ? fmt::format("matches '{}'", match->label) : "no pin");
      }
      fmt::print("{}\n", describe_trust(result.chain.trust, context.options().ca_bundle));
      if (result.passed())
        fmt::print("ok: {}:{} serves a pinned key ('{}', certificate {} of the chain)\n", target.host, target.port,
                   result.matches.front().label, result.matches.front().index);
    }
    if (!result.passed()) {
      std::string message = result.host_pins.empty()
                                ? fmt::format("the pin table has no pin for {}", target.host)
                                : fmt::format("no certificate served by {}:{} matches any of the {} pin{} for {}", target.host,
                                              target.port, result.host_pins.size(), result.host_pins.size() == 1 ? "" : "s",
                                              target.host);
      std::string hint = result.host_pins.empty()
                             ? fmt::format("certcli pin add --host {} pins what it serves now", args->host)
                             : "clients that pin these keys would refuse this server: serve a pinned key, or add and publish "
                               "the new key's pin first";
      // Reported without throwing, so that --json output stays one document.
      context.report_partial_failure(ErrorKind::not_found, message, hint);
    }
  });
}

void register_trust(CLI::App* pin_command, Context& context) {
  struct Args {
    std::string file;
    bool add = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* trust = pin_command->add_subcommand(
      "trust", "Say whether a certificate (and the chain in its file) chains to the system trust store or --ca-bundle");
  trust->add_option("file", args->file, "Certificate file, PEM or DER, with its chain when it has one")->required();
  trust->add_flag("--add", args->add,
                  "Put its root into certcli's own bundle (<state>/trusted-roots.pem), which pin check and pin add --host "
                  "trust as well");
  trust->add_flag("--json", context.options().json, "Print {\"trusted\", \"anchor\", \"detail\", \"added\", \"chain\"}");
  trust->callback([&context, args] {
    pin::TrustResult result = pin::check_trust(context.store(), context.clock(), read_input(args->file, "FILE"), args->file,
                                               context.options().ca_bundle, args->add);
    if (context.options().json) {
      nlohmann::json chain = nlohmann::json::array();
      for (std::size_t i = 0; i < result.certificates.size(); ++i) chain.push_back(certificate_json(result.certificates[i], i));
      nlohmann::json out = trust_json(result.verdict);
      out["added"] = result.added;
      out["already_present"] = result.already_present;
      out["chain"] = chain;
      print_json(out);
    } else {
      fmt::print("{}\n", describe_trust(result.verdict, context.options().ca_bundle));
      if (result.added) fmt::print("added its root to {}\n", context.store().trusted_roots_location());
      if (result.already_present) fmt::print("its root is in {} already\n", context.store().trusted_roots_location());
    }
    if (!result.verdict.trusted)
      context.report_partial_failure(ErrorKind::not_found, fmt::format("{} does not chain to a trusted root", args->file),
                                     "certcli pin trust FILE --add trusts the root the file holds");
  });
}

void register_backup_key(CLI::App* pin_command, Context& context) {
  struct Args {
    std::string name;
    bool replace = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* backup = pin_command->add_subcommand(
      "backup-key", "Make a backup key for a domain ahead of time and print its pin, to publish before the next renewal uses it");
  backup->add_option("name", args->name, "The managed domain")->required();
  backup->add_flag("--replace", args->replace, "Replace an existing backup key (its pin leaves the table)");
  backup->add_flag("--json", context.options().json, "Print {\"domain\", \"pin\", \"key_type\", \"label\", \"replaced\"}");
  backup->callback([&context, args] {
    pin::BackupKeyResult result = pin::make_backup_key(context.store(), context.clock(), args->name, args->replace);
    if (context.options().json) {
      print_json(nlohmann::json{{"domain", result.domain}, {"pin", result.pin}, {"key_type", result.key_type},
                                {"label", result.label}, {"replaced", result.replaced}});
      return;
    }
    fmt::print("{}\n", result.pin);
    if (!context.options().quiet)
      fmt::print(stderr,
                 "certcli: backup key for {} ({}) made; its pin is in the table as '{}'. Publish it to your clients now: "
                 "the next renewal of {} switches to this key.\n",
                 result.domain, result.key_type, result.label, result.domain);
  });
}

}  // namespace

void register_pin_commands(CLI::App& app, Context& context) {
  CLI::App* pin_command = app.add_subcommand(
      "pin", "Certificate pinning: SPKI pins of files, keys and live hosts, the pin table, live checks, backup keys");
  pin_command->require_subcommand(1);
  pin_command->footer(kOpensslPipeline);
  register_add(pin_command, context);
  register_list(pin_command, context);
  register_remove(pin_command, context);
  register_import(pin_command, context);
  register_refresh(pin_command, context);
  register_generate(pin_command, context);
  register_check(pin_command, context);
  register_trust(pin_command, context);
  register_backup_key(pin_command, context);
}

}  // namespace certcli::cli
