// certcli domain add|list|show|set|remove|restore
#include "cli/cli.hpp"
#include "cli/order_args.hpp"

#include <certcli/names.hpp>
#include <certcli/renewal.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace certcli::cli {
namespace {

// Purging cannot be undone: a person confirms on a terminal, a script says --yes.
void confirm_purge(const std::string& name) {
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDERR_FILENO) != 1)
    throw Error(ErrorKind::usage,
                fmt::format("domain remove --purge deletes {} for good and there is no terminal to confirm it on", name),
                "pass --yes to confirm it from a script, or leave out --purge to keep the files under removed/");
  fmt::print(stderr,
             "Delete {} for good: its record, keys, every archived certificate and every removed copy? "
             "This cannot be undone. [y/N] ",
             name);
  std::fflush(stderr);
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes")
    throw Error(ErrorKind::usage, fmt::format("nothing of {} was deleted: the purge was not confirmed", name),
                "answer y to delete, or leave out --purge to keep the files under removed/");
}

nlohmann::json time_json(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
}

// Where the settings are, never a secret: the TSIG secret is stored only as a reference.
nlohmann::json challenge_json(const challenge::Settings& c) {
  auto text = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
  auto number = [](const std::optional<int>& n) { return n ? nlohmann::json(*n) : nlohmann::json(); };
  return {{"description", challenge::describe(c)},
          {"http_listen", text(c.http.listen)},
          {"webroot", text(c.http.webroot)},
          {"http_serve", c.http.serve},
          {"dns",
           {{"provider", text(c.dns.provider())},
            {"rfc2136_server", text(c.dns.rfc2136_server)},
            {"hook", text(c.dns.hook)},
            {"tsig_key", text(c.dns.tsig_key)},
            {"tsig_secret_reference", text(c.dns.tsig_secret)},
            {"tsig_algorithm", text(c.dns.tsig_algorithm)},
            {"zone", text(c.dns.zone)},
            {"alias", text(c.dns.alias)},
            {"propagation", text(c.dns.propagation)},
            {"propagation_timeout", number(c.dns.propagation_timeout_seconds)},
            {"propagation_interval", number(c.dns.propagation_interval_seconds)},
            {"ttl", number(c.dns.ttl)},
            {"hook_timeout", number(c.dns.hook_timeout_seconds)}}}};
}

nlohmann::json details_json(const lifecycle::DomainDetails& details, const renewal::DueDecision& due, TimePoint now) {
  const auto& r = details.status.record;
  nlohmann::json out = domain_json(details.status, now);
  out["created_at"] = time_json(r.created_at);
  out["challenge_settings"] = challenge_json(r.challenge);
  nlohmann::json names = nlohmann::json::array();
  for (const auto& n : details.names)
    names.push_back({{"name", n.name},
                     {"covered", n.covered ? nlohmann::json(*n.covered) : nlohmann::json()},
                     {"challenge_type", n.check ? nlohmann::json(n.check->challenge_type) : nlohmann::json()},
                     {"dns_status", n.check && !n.check->dns_status.empty() ? nlohmann::json(n.check->dns_status)
                                                                           : nlohmann::json()},
                     {"verified_ok", n.check ? nlohmann::json(n.check->ok) : nlohmann::json()}});
  out["name_details"] = names;
  auto text_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
  out["order"] = {{"profile", text_or_null(r.order.profile)},
                  {"preferred_profile", text_or_null(r.order.preferred_profile)},
                  {"preferred_chain", text_or_null(r.order.preferred_chain)},
                  {"reuse_key", r.order.reuse_key},
                  {"own_csr", !r.order.csr.empty()}};
  const auto& rs = r.renewal;
  out["renewal"] = {{"buffer_days", rs.buffer_days ? nlohmann::json(*rs.buffer_days) : nlohmann::json()},
                    {"deploy_hook", rs.deploy_hook.empty() ? nlohmann::json() : nlohmann::json(rs.deploy_hook)},
                    {"failures", rs.failures},
                    {"next_attempt_at", time_json(rs.next_attempt_at)},
                    {"ari_window_start", time_json(rs.ari_window_start)},
                    {"ari_window_end", time_json(rs.ari_window_end)},
                    {"ari_renew_at", time_json(rs.ari_renew_at)},
                    {"due", due.due},
                    {"due_at", time_json(due.due_at)},
                    {"reason", due.reason}};
  nlohmann::json archive = nlohmann::json::array();
  for (const auto& v : details.archive) {
    nlohmann::json entry = {{"version", v.version}, {"live", v.live}};
    if (v.certificate) {
      entry["serial"] = v.certificate->serial_hex;
      entry["names"] = v.certificate->sans;
      entry["not_before"] = format_rfc3339(v.certificate->not_before);
      entry["not_after"] = format_rfc3339(v.certificate->not_after);
    } else {
      entry["error"] = v.error;
    }
    archive.push_back(entry);
  }
  out["archive"] = archive;
  return out;
}

void print_details(const lifecycle::DomainDetails& details, const renewal::DueDecision& due, TimePoint now) {
  const auto& status = details.status;
  const auto& r = status.record;
  auto when = [&](const std::optional<TimePoint>& t) { return t ? describe_time(*t, now) : std::string("-"); };
  auto at = [](const std::optional<TimePoint>& t) { return t ? format_rfc3339(*t) : std::string("-"); };
  fmt::print("{}\n", r.name);
  fmt::print("  status:     {}{}{}\n", store::to_string(r.status),
             r.phase == store::IssuePhase::none ? "" : fmt::format(" (phase {})", store::to_string(r.phase)),
             status.interrupted ? fmt::format(" — interrupted; `certcli issue {}` resumes it", r.name) : "");
  if (r.error) {
    fmt::print("  error:      {}\n", r.error->detail);
    if (!r.error->hint.empty()) fmt::print("  fix:        {}\n", r.error->hint);
  }
  fmt::print("  names:\n");
  for (const auto& n : details.names) {
    std::string coverage = !n.covered ? "no certificate yet" : *n.covered ? "covered" : "not covered";
    std::string dns = !n.check ? "not verified"
                               : fmt::format("{} {}", n.check->challenge_type,
                                             n.check->dns_status.empty() ? (n.check->ok ? "ok" : "failed") : n.check->dns_status);
    fmt::print("    {:<40} {:<19} {}\n", n.name, coverage, dns);
  }
  if (!status.uncovered_names.empty())
    fmt::print("  names not covered: {} (`certcli renew {}` orders a certificate with them)\n",
               fmt::join(status.uncovered_names, ", "), r.name);
  fmt::print("  challenge:  {}\n", challenge::describe(r.challenge));
  fmt::print("  key type:   {}{}\n", r.key_type,
             !r.order.csr.empty() ? " (not used: ordered with your CSR, whose key is yours)"
             : r.order.reuse_key  ? " (the live key is kept for each new certificate)"
                                  : "");
  if (!r.live_key.empty()) fmt::print("  live key:   {} (this domain's keys.live_key)\n", r.live_key);
  if (!r.order.profile.empty() || !r.order.preferred_profile.empty())
    fmt::print("  profile:    {}\n", !r.order.profile.empty() ? r.order.profile : r.order.preferred_profile + " (preferred)");
  if (!r.order.preferred_chain.empty()) fmt::print("  chain:      preferred issuer {}\n", r.order.preferred_chain);
  fmt::print("  ca:         {}\n", r.directory_url.empty() ? "- (chosen at the first issue)" : r.directory_url);
  fmt::print("  created:    {}\n", at(r.created_at));
  fmt::print("  issued:     {}\n", at(r.issued_at));
  fmt::print("  expires:    {}\n", when(r.expires_at));
  fmt::print("  updated:    {}\n", at(r.last_updated_at));
  if (status.live) fmt::print("  files:      {}/\n", status.live_location);
  if (!r.order_url.empty()) fmt::print("  order:      {} (resumed by the next `certcli issue`)\n", r.order_url);
  const auto& rs = r.renewal;
  fmt::print("  renewal:    {}{}\n", due.due ? "due now: " : fmt::format("due {}: ", when(due.due_at)), due.reason);
  fmt::print("  buffer:     {}\n", rs.buffer_days ? fmt::format("{} days", *rs.buffer_days) : "config.toml's, else a third of the lifetime");
  fmt::print("  hook:       {}\n", rs.deploy_hook.empty() ? "none of its own" : rs.deploy_hook);
  if (rs.failures > 0)
    fmt::print("  failures:   {} in a row; next attempt {}\n", rs.failures, when(rs.next_attempt_at));
  if (rs.ari_window_start && rs.ari_window_end)
    fmt::print("  ari window: {} .. {}{}\n", format_rfc3339(*rs.ari_window_start), format_rfc3339(*rs.ari_window_end),
               rs.ari_renew_at ? fmt::format(", renewing at {}", format_rfc3339(*rs.ari_renew_at)) : "");
  fmt::print("  archive:    {}\n", details.archive.empty() ? "empty" : "");
  for (const auto& v : details.archive) {
    if (v.certificate)
      fmt::print("    {:<20} serial {}  expires {}{}\n", v.version, v.certificate->serial_hex,
                 format_rfc3339(v.certificate->not_after), v.live ? "  (live)" : "");
    else
      fmt::print("    {:<20} unreadable: {}{}\n", v.version, v.error, v.live ? "  (live)" : "");
  }
}

}  // namespace

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
  add->add_option("name", args->name, "Primary name, e.g. example.com")->required()->check(offers_nothing());
  add->add_option("--san", args->sans, "Another name the certificate must cover (repeatable)");
  add->add_option("--key-type", args->key_type, "Certificate key: ec256 (default), ec384, rsa2048, rsa3072, rsa4096")
      ->check(offers(key_type_names()));
  add->add_flag("--wildcard", args->wildcard, "Add *.NAME too (validated by dns-01)");
  add->add_flag("--require-ownership", args->require_ownership,
                "Require the TXT record _certcli-verify.NAME with a token of certcli's (shown by verify) before issuing");
  add_challenge_options(add, args->challenge);
  add->add_option("--buffer-days", args->buffer_days, "Renew when fewer days than this are left (1-365)");
  add->add_option("--deploy-hook", args->deploy_hook,
                  "Shell command run after this domain's certificate changes (CERTCLI_* variables set)");
  auto add_order = std::make_shared<OrderArgs>();
  add_order_options(add, *add_order, /*with_reuse_key=*/true,
                    "Each new certificate keeps the live certificate's key instead of a new one");
  add->callback([&context, args, add, add_order] {
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
    request.order.profile = add_order->profile;
    request.order.preferred_profile = add_order->preferred_profile;
    request.order.preferred_chain = add_order->preferred_chain;
    request.order.reuse_key = add_order->reuse_key;
    auto result = lifecycle::add_domain(context.store(), context.clock(), request);
    if (!result.restored_from.empty()) {
      fmt::print("Restored {} ({}) from {}: its certificate is valid until {}, so nothing was ordered\n",
                 result.record.name, fmt::join(result.record.names, ", "), result.restored_from,
                 result.record.expires_at ? format_rfc3339(*result.record.expires_at) : "-");
      return;
    }
    if (!result.added_names.empty()) {
      fmt::print("Added to {}: {} (not covered until the next certificate: certcli renew {})\n", result.record.name,
                 fmt::join(result.added_names, ", "), result.record.name);
      return;
    }
    // An internationalized name shows in Unicode, then (in the list) as stored and sent to the CA:
    // "Added bücher.example.test (xn--bcher-kva.example.test)".
    fmt::print("{} {} ({})\n", result.created ? "Added" : "Already added, unchanged:", unicode_name(result.record.name),
               fmt::join(result.record.names, ", "));
    if (result.created) fmt::print("Next: certcli issue {}\n", result.record.name);
  });

  CLI::App* list = domain->add_subcommand("list", "List the domains, one per line: name, status, names");
  list->add_flag("--json", context.options().json,
                 "Print {\"domains\": [{domain, status, names, management, expires_at}]}");
  list->callback([&context] {
    std::vector<store::UnreadableDomain> unreadable;
    auto statuses = lifecycle::domain_status(context.store(), "", &unreadable);
    if (context.options().json) {
      // The listing's few fields, named as in the domain object of status --json.
      nlohmann::json domains = nlohmann::json::array();
      for (const auto& status : statuses) {
        const auto& r = status.record;
        domains.push_back({{"domain", r.name},
                           {"status", store::to_string(r.status)},
                           {"interrupted", status.interrupted},
                           {"names", r.names},
                           {"management", r.management},
                           {"expires_at", r.expires_at ? nlohmann::json(format_rfc3339(*r.expires_at)) : nlohmann::json()}});
      }
      print_json({{"domains", domains}});
      report_unreadable_domains(context, unreadable);
      return;
    }
    if (statuses.empty() && unreadable.empty() && !context.options().quiet)
      fmt::print(stderr, "certcli: no domains yet; add one: certcli domain add example.com\n");
    for (const auto& status : statuses)
      fmt::print("{}\t{}\t{}\n", status.record.name, store::to_string(status.record.status),
                 fmt::join(status.record.names, ","));
    report_unreadable_domains(context, unreadable);
  });

  struct RemoveArgs {
    std::string name;
    bool purge = false;
    bool yes = false;
  };
  auto remove_args = std::make_shared<RemoveArgs>();
  CLI::App* remove = domain->add_subcommand(
      "remove", "Stop managing a domain; its files are moved under removed/ in the state directory, not deleted");
  remove->add_option("name", remove_args->name, "The domain's primary name")->required();
  auto* purge = remove->add_flag("--purge", remove_args->purge,
                                 "Delete its files and every removed copy for good (asks first on a terminal)");
  remove->add_flag("--yes", remove_args->yes, "Confirm --purge without asking (for scripts)")->needs(purge);
  remove->callback([&context, remove_args] {
    if (!remove_args->purge) {
      std::string moved_to = lifecycle::remove_domain(context.store(), context.clock(), remove_args->name);
      fmt::print("Removed {}; its files are kept in {}\n", remove_args->name, moved_to);
      return;
    }
    if (!remove_args->yes) confirm_purge(remove_args->name);
    auto deleted = lifecycle::purge_domain(context.store(), context.clock(), remove_args->name);
    fmt::print("Deleted {} for good:\n", remove_args->name);
    for (const auto& path : deleted) fmt::print("  {}\n", path);
  });

  auto restore_name = std::make_shared<std::string>();
  CLI::App* restore = domain->add_subcommand("restore", "Bring back the most recently removed copy of a domain");
  restore->add_option("name", *restore_name, "The domain's primary name")->required();
  restore->callback([&context, restore_name] {
    auto result = lifecycle::restore_domain(context.store(), context.clock(), *restore_name);
    fmt::print("Restored {} ({}), status {}, from {}\n", result.record.name, fmt::join(result.record.names, ", "),
               store::to_string(result.record.status), result.restored_from);
  });

  struct ShowArgs {
    std::string name;
  };
  auto show_args = std::make_shared<ShowArgs>();
  CLI::App* show = domain->add_subcommand("show", "Show everything certcli knows about one domain");
  show->add_option("name", show_args->name, "The domain's primary name")->required();
  show->add_flag("--json", context.options().json, "Print one JSON object");
  show->callback([&context, show_args] {
    auto details = lifecycle::domain_details(context.store(), show_args->name);
    const TimePoint now = context.clock().now();
    const auto& record = details.status.record;
    renewal::Policy policy{record.renewal.buffer_days ? record.renewal.buffer_days : context.config().renewal_buffer_days};
    const renewal::DueDecision due = renewal::renewal_due(record, now, policy);
    if (context.options().json)
      print_json(details_json(details, due, now));
    else
      print_details(details, due, now);
  });

  struct SetArgs {
    std::string name;
    std::string key_type;
    std::string live_key;
    ChallengeArgs challenge;
    int buffer_days = 0;
    std::string deploy_hook;
  };
  auto set_args = std::make_shared<SetArgs>();
  CLI::App* set = domain->add_subcommand("set", "Change a domain's settings; they apply from its next certificate on");
  set->add_option("name", set_args->name, "The domain's primary name")->required();
  set->add_option("--key-type", set_args->key_type, "Certificate key: ec256, ec384, rsa2048, rsa3072, rsa4096")
      ->check(offers(key_type_names()));
  set->add_option("--live-key", set_args->live_key,
                  "With a passphrase: plain keeps this domain's live key in clear (for a web server), encrypted "
                  "does not, default follows config.toml's keys.live_key; applied to the live key at once")
      ->check(offers({"plain", "encrypted", "default"}));
  add_challenge_options(set, set_args->challenge);
  set->add_option("--buffer-days", set_args->buffer_days,
                  "Renew when fewer days than this are left (1-365; 0: config.toml's or a third of the lifetime)");
  set->add_option("--deploy-hook", set_args->deploy_hook,
                  "Shell command run after this domain's certificate changes (\"\": none)");
  auto set_order = std::make_shared<OrderArgs>();
  add_order_options(set, *set_order, /*with_reuse_key=*/false, "");
  auto reuse_key_value = std::make_shared<bool>(false);
  auto* reuse_key = set->add_flag("--reuse-key,!--no-reuse-key", *reuse_key_value,
                                  "Keep the live key for each new certificate, or not");
  auto no_csr_value = std::make_shared<bool>(false);
  auto* no_csr = set->add_flag("--no-csr", *no_csr_value,
                               "Stop ordering with the CSR given to issue --csr: certcli makes the key again");
  set->callback([&context, set_args, set, set_order, reuse_key, reuse_key_value, no_csr, no_csr_value] {
    lifecycle::SetDomainRequest request;
    request.name = set_args->name;
    if (set->count("--key-type") != 0) request.key_type = set_args->key_type;
    if (set->count("--live-key") != 0) request.live_key = set_args->live_key;
    request.challenge = set_args->challenge.settings();
    request.default_challenge = context.default_challenge();
    if (set->count("--buffer-days") != 0) request.buffer_days = set_args->buffer_days;
    if (set->count("--deploy-hook") != 0) request.deploy_hook = set_args->deploy_hook;
    request.profile = set_order->profile_given();
    request.preferred_profile = set_order->preferred_profile_given();
    request.preferred_chain = set_order->preferred_chain_given();
    if (reuse_key->count() != 0) request.reuse_key = *reuse_key_value;
    request.drop_csr = no_csr->count() != 0 && *no_csr_value;
    const bool order_given = request.profile || request.preferred_profile || request.preferred_chain ||
                             request.reuse_key || request.drop_csr;
    if (!request.key_type && !request.live_key && !request.challenge && !request.buffer_days && !request.deploy_hook &&
        !order_given)
      throw Error(ErrorKind::usage, "domain set needs a setting to change",
                  "give --key-type, --live-key, a challenge option (--webroot, --http-listen, --dns-...), --buffer-days, "
                  "--deploy-hook, --profile, --preferred-profile, --preferred-chain, --reuse-key or --no-csr");
    auto result = lifecycle::set_domain(context.store(), context.clock(), request);
    if (result.changes.empty()) {
      fmt::print("{}: unchanged, the settings were as given already\n", result.record.name);
      return;
    }
    for (const auto& change : result.changes)
      fmt::print("{}: {} {} -> {}\n", result.record.name, change.setting, change.before, change.after);
  });
}

}  // namespace certcli::cli
