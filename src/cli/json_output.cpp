// The JSON shapes every command shares (docs/json.md): the document's schema_version and the
// one shape of an error, whether it stops a command or is stored in a domain's record.
#include "cli/cli.hpp"

#include <certcli/activity.hpp>

#include <fmt/format.h>

#include <functional>


namespace certcli::cli {

std::string json_text(nlohmann::json document) {
  if (document.is_object()) document["schema_version"] = kJsonSchemaVersion;
  return document.dump(2) + "\n";
}

void print_json(nlohmann::json document) { fmt::print("{}", json_text(std::move(document))); }

void print_json_list(const std::string& key, std::size_t count, const std::function<nlohmann::json(std::size_t)>& item) {
  // The text json_text({{key, [items...]}}) gives, written one item at a time: 100,000 domains
  // as one nlohmann::json tree take a gigabyte. Keys print sorted (nlohmann's object is a map),
  // so `key` must sort before "schema_version"; an item's lines get the array's indent, which
  // is safe because a dumped string never holds a raw newline.
  if (count == 0) {
    fmt::print("{}", json_text(nlohmann::json{{key, nlohmann::json::array()}}));
    return;
  }
  fmt::print("{{\n  {}: [\n", nlohmann::json(key).dump());
  for (std::size_t i = 0; i < count; ++i) {
    std::string text = item(i).dump(2);
    std::string indented = "    ";
    indented.reserve(text.size() + text.size() / 8);
    for (char c : text) {
      indented += c;
      if (c == '\n') indented += "    ";
    }
    fmt::print("{}{}\n", indented, i + 1 < count ? "," : "");
  }
  fmt::print("  ],\n  \"schema_version\": {}\n}}\n", kJsonSchemaVersion);
}

nlohmann::json error_json(ErrorKind kind, const std::string& message, const std::string& hint, const std::string& subject) {
  return {{"kind", kind_name(kind)},
          {"message", message},
          {"hint", hint},
          {"exit_code", exit_code_for(kind)},
          {"subject", subject.empty() ? nlohmann::json() : nlohmann::json(subject)}};
}

nlohmann::json error_json(const Error& error) {
  return error_json(error.kind(), error.what(), error.hint(), error.subject());
}

nlohmann::json recorded_error_json(const store::RecordedError& error, const std::string& subject) {
  // domain.toml keeps the type certcli recorded ("certcli:network", or the CA's problem type);
  // only this rendering is shared with a failure's. A type that says too little (written by an
  // older certcli as "certcli:error") has kind "unknown".
  std::optional<ErrorKind> known = lifecycle::kind_of_recorded_error(error.type);
  std::string kind = known ? kind_name(*known) : "unknown";
  nlohmann::json acme_type;
  if (error.type.starts_with("urn:")) acme_type = error.type;
  return {{"kind", kind},
          {"message", error.detail},
          {"hint", error.hint},
          {"subject", subject.empty() ? nlohmann::json() : nlohmann::json(subject)},
          {"acme_type", acme_type}};
}

}  // namespace certcli::cli
