// CA presets and the choice of CA for a run.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>

#include <fmt/format.h>

namespace certcli::lifecycle {

const std::vector<CaPreset>& ca_presets() {
  static const std::vector<CaPreset> presets = {
      {"letsencrypt", "https://acme-v02.api.letsencrypt.org/directory", "letsencrypt-staging"},
      {"letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory", ""},
      {"zerossl", "https://acme.zerossl.com/v2/DV90", ""},
      {"google", "https://dv.acme-v02.api.pki.goog/directory", "google-staging"},
      {"google-staging", "https://dv.acme-v02.test-api.pki.goog/directory", ""},
      {"buypass", "https://api.buypass.com/acme/directory", "buypass-staging"},
      {"buypass-staging", "https://api.test4.buypass.no/acme/directory", ""},
  };
  return presets;
}

namespace {

const CaPreset* find_preset(const std::string& name) {
  for (const auto& preset : ca_presets())
    if (preset.name == name) return &preset;
  return nullptr;
}

std::string preset_names() {
  std::string names;
  for (const auto& preset : ca_presets()) names += (names.empty() ? "" : ", ") + preset.name;
  return names;
}

}  // namespace

std::string ca_id_for_url(const std::string& directory_url) {
  std::string_view rest = directory_url;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) rest.remove_prefix(scheme + 3);
  std::string host(rest.substr(0, rest.find('/')));
  std::string id;
  for (char c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool safe = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    id.push_back(safe ? c : '_');
  }
  // The host alone is ambiguous (one host can serve several directories); a short digest of
  // the whole URL keeps the id stable and distinct.
  return fmt::format("{}-{}", id.empty() ? "ca" : id, crypto::to_hex(crypto::sha256(directory_url)).substr(0, 8));
}

CaSelection select_ca(const std::string& ca_name, const std::string& directory_url, bool staging) {
  if (!ca_name.empty() && !directory_url.empty())
    throw Error(ErrorKind::usage, "--ca and --directory both name a CA", "give only one of them");
  if (!directory_url.empty()) {
    if (!directory_url.starts_with("https://") && !directory_url.starts_with("http://"))
      throw Error(ErrorKind::usage, fmt::format("--directory '{}' is not an http(s) URL", directory_url),
                  "give the CA's ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory");
    if (staging)
      throw Error(ErrorKind::usage, "--staging goes with --ca, not --directory",
                  "give the staging directory URL itself with --directory");
    for (const auto& preset : ca_presets())
      if (preset.directory_url == directory_url) return {preset.name, preset.directory_url, preset.name};
    return {"custom", directory_url, ca_id_for_url(directory_url)};
  }
  std::string name = ca_name.empty() ? "letsencrypt" : ca_name;
  const CaPreset* preset = find_preset(name);
  if (!preset)
    throw Error(ErrorKind::usage, fmt::format("unknown CA '{}'", name),
                fmt::format("use one of {} or --directory URL", preset_names()));
  if (staging) {
    if (preset->staging.empty()) {
      if (name.ends_with("-staging")) return {preset->name, preset->directory_url, preset->name};
      throw Error(ErrorKind::usage, fmt::format("CA '{}' has no staging environment", name),
                  "leave out --staging, or use --directory with a test CA's URL");
    }
    preset = find_preset(preset->staging);
  }
  return {preset->name, preset->directory_url, preset->name};
}

}  // namespace certcli::lifecycle
