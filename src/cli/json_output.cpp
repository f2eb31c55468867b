// The JSON shapes every command shares (docs/json.md): the document's schema_version and the
// one shape of an error, whether it stops a command or is stored in a domain's record.
#include "cli/cli.hpp"

#include <certcli/activity.hpp>

#include <fmt/format.h>


namespace certcli::cli {

std::string json_text(nlohmann::json document) {
  if (document.is_object()) document["schema_version"] = kJsonSchemaVersion;
  return document.dump(2) + "\n";
}

void print_json(nlohmann::json document) { fmt::print("{}", json_text(std::move(document))); }

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
