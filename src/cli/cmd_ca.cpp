// certcli ca list | ca show [PRESET|URL] [--json]: the CA presets, and what one CA's directory
// says about itself (terms, External Account Binding, profiles, CAA identities, ARI). `show`
// fetches the directory and nothing else.
#include "cli/cli.hpp"

#include <certcli/acme.hpp>
#include <certcli/limits.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace certcli::cli {
namespace {

std::string limits_summary(const limits::CaLimits& known) {
  if (known.limits.empty()) return "";
  std::string text;
  for (const auto& l : known.limits) {
    const char* what = l.scope == limits::Scope::registered_domain ? "certificates per registered domain"
                       : l.scope == limits::Scope::exact_names     ? "certificates per exact set of names"
                                                                   : "new orders per account";
    const auto hours = std::chrono::duration_cast<std::chrono::hours>(l.window).count();
    text += fmt::format("{}{} {} per {}", text.empty() ? "" : "; ", l.count, what,
                        hours % 24 == 0 ? fmt::format("{} days", hours / 24) : fmt::format("{} hours", hours));
  }
  return text;
}

nlohmann::json limits_json(const limits::CaLimits& known) {
  if (known.limits.empty()) return nullptr;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& l : known.limits)
    list.push_back({{"scope", limits::to_string(l.scope)}, {"count", l.count}, {"window_seconds", l.window.count()}});
  return {{"source", known.source}, {"limits", list}};
}

// The positional PRESET or URL, else the global --ca/--directory/--staging, else letsencrypt.
lifecycle::CaSelection chosen_ca(Context& context, const std::string& which) {
  auto global = context.ca();
  if (which.empty()) return global ? *global : lifecycle::select_ca("", "", false);
  if (!context.options().ca_name.empty() || !context.options().directory_url.empty())
    throw Error(ErrorKind::usage, fmt::format("'{}' and --ca/--directory both name a CA", which), "give only one of them");
  if (which.starts_with("https://") || which.starts_with("http://")) return lifecycle::select_ca("", which, false);
  return lifecycle::select_ca(which, "", context.options().staging);
}

}  // namespace

void register_ca_commands(CLI::App& app, Context& context) {
  CLI::App* ca = app.add_subcommand("ca", "The CA presets, and what a CA's directory says about itself");
  ca->require_subcommand(1);

  CLI::App* list = ca->add_subcommand("list", "The CA presets and their staging twins");
  list->add_flag("--json", context.options().json, "Print the presets as JSON");
  list->callback([&context] {
    const auto& presets = lifecycle::ca_presets();
    if (context.options().json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& p : presets)
        out.push_back({{"name", p.name},
                       {"directory", p.directory_url},
                       {"staging", p.staging.empty() ? nlohmann::json() : nlohmann::json(p.staging)},
                       {"is_staging", p.name.ends_with("-staging")},
                       {"rate_limits", limits_json(limits::published_limits(p.name))}});
      print_json(nlohmann::json{{"cas", out}});
      return;
    }
    fmt::print("{:<20} {:<20} {}\n", "NAME", "STAGING", "DIRECTORY");
    for (const auto& p : presets)
      fmt::print("{:<20} {:<20} {}\n", p.name, p.staging.empty() ? "-" : p.staging, p.directory_url);
  });

  auto which = std::make_shared<std::string>();
  CLI::App* show = ca->add_subcommand(
      "show", "One CA: its directory, terms of service, External Account Binding, profiles, CAA identities, ARI "
              "(fetches the directory, nothing else)");
  show->add_option("ca", *which, "A preset name or a directory URL (default: --ca/--directory, else letsencrypt)")
      ->check(offers(ca_preset_names()));
  show->add_flag("--json", context.options().json, "Print the CA as JSON");
  show->callback([&context, which] {
    const lifecycle::CaSelection selection = chosen_ca(context, *which);
    acme::Client client(context.http(), context.clock(), selection.directory_url);
    const acme::Directory& directory = client.directory();
    const limits::CaLimits known = limits::published_limits(selection.name);
    std::string staging;
    for (const auto& p : lifecycle::ca_presets())
      if (p.name == selection.name) staging = p.staging;
    if (context.options().json) {
      nlohmann::json profiles = nlohmann::json::object();
      for (const auto& [name, description] : directory.profiles) profiles[name] = description;
      nlohmann::json out = {
          {"ca", selection.name},
          {"directory", selection.directory_url},
          {"staging", staging.empty() ? nlohmann::json() : nlohmann::json(staging)},
          {"terms_of_service", directory.terms_of_service.empty() ? nlohmann::json() : nlohmann::json(directory.terms_of_service)},
          {"website", directory.website.empty() ? nlohmann::json() : nlohmann::json(directory.website)},
          {"external_account_required", directory.external_account_required},
          {"profiles", profiles},
          {"caa_identities", directory.caa_identities},
          {"ari", !directory.renewal_info.empty()},
          {"renewal_info", directory.renewal_info.empty() ? nlohmann::json() : nlohmann::json(directory.renewal_info)},
          {"revoke_cert", directory.revoke_cert.empty() ? nlohmann::json() : nlohmann::json(directory.revoke_cert)},
          {"key_change", directory.key_change.empty() ? nlohmann::json() : nlohmann::json(directory.key_change)},
          {"rate_limits", limits_json(known)},
          {"acme_requests", client.request_count()}};
      print_json(out);
      return;
    }
    auto or_none = [](const std::string& text) { return text.empty() ? std::string("(none)") : text; };
    fmt::print("CA:                 {}\n", selection.name);
    fmt::print("directory:          {}\n", selection.directory_url);
    if (!staging.empty()) fmt::print("staging twin:       {}\n", staging);
    fmt::print("terms of service:   {}\n", or_none(directory.terms_of_service));
    if (!directory.website.empty()) fmt::print("website:            {}\n", directory.website);
    fmt::print("EAB required:       {}\n", directory.external_account_required ? "yes (--eab-kid, --eab-hmac-key)" : "no");
    if (directory.profiles.empty()) {
      fmt::print("profiles:           (none)\n");
    } else {
      fmt::print("profiles:\n");
      for (const auto& [name, description] : directory.profiles)
        fmt::print("  {:<18}{}\n", name, description.empty() ? "" : description);
    }
    fmt::print("CAA identities:     {}\n", directory.caa_identities.empty() ? std::string("(none)")
                                                                            : fmt::format("{}", fmt::join(directory.caa_identities, ", ")));
    fmt::print("ARI (renewalInfo):  {}\n", directory.renewal_info.empty() ? "no" : "yes, " + directory.renewal_info);
    fmt::print("rate limits:        {}\n", known.limits.empty() ? std::string("none known (counted, not enforced)")
                                                                  : limits_summary(known) + " (" + known.source + ")");
  });
}

}  // namespace certcli::cli
