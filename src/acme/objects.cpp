// Parsing of ACME resources and problem documents. Everything here reads input from the
// network, so a malformed field is an Error with the CA named, never a crash.
#include <certcli/acme.hpp>

#include <fmt/format.h>

namespace certcli::acme {
namespace {

constexpr std::string_view kErrorPrefix = "urn:ietf:params:acme:error:";

std::string string_field(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) throw nlohmann::json::type_error::create(302, fmt::format("'{}' is not a string", key), nullptr);
  return it->get<std::string>();
}

Identifier parse_identifier(const nlohmann::json& body) {
  return Identifier{string_field(body, "type"), string_field(body, "value")};
}

}  // namespace

Problem Problem::from_json(const nlohmann::json& body, int http_status) {
  Problem problem;
  problem.status = http_status;
  if (!body.is_object()) return problem;
  if (body.contains("type") && body["type"].is_string()) problem.type = body["type"];
  if (body.contains("detail") && body["detail"].is_string()) problem.detail = body["detail"];
  if (body.contains("subproblems") && body["subproblems"].is_array()) {
    for (const auto& sub : body["subproblems"]) {
      if (!sub.is_object()) continue;
      Subproblem s;
      if (sub.contains("type") && sub["type"].is_string()) s.type = sub["type"];
      if (sub.contains("detail") && sub["detail"].is_string()) s.detail = sub["detail"];
      if (sub.contains("identifier") && sub["identifier"].is_object() && sub["identifier"].contains("value") &&
          sub["identifier"]["value"].is_string())
        s.identifier = sub["identifier"]["value"];
      problem.subproblems.push_back(std::move(s));
    }
  }
  return problem;
}

std::string Problem::short_type() const {
  if (std::string_view(type).starts_with(kErrorPrefix)) return type.substr(kErrorPrefix.size());
  return type.empty() ? "unknown" : type;
}

std::string Problem::describe() const {
  std::string text = fmt::format("{}: {}", short_type(), detail.empty() ? "(no detail given)" : detail);
  for (const auto& sub : subproblems) {
    std::string sub_type = std::string_view(sub.type).starts_with(kErrorPrefix) ? sub.type.substr(kErrorPrefix.size()) : sub.type;
    text += fmt::format("; {}: {}: {}", sub.identifier.empty() ? "?" : sub.identifier, sub_type, sub.detail);
  }
  return text;
}

AcmeError::AcmeError(Problem problem, std::string context, std::string hint, ErrorKind kind)
    : Error(kind, fmt::format("{}: the CA said {}", context, problem.describe()), std::move(hint)),
      problem_(std::move(problem)) {}

Order parse_order(const nlohmann::json& body, std::string url) {
  try {
    Order order;
    order.url = std::move(url);
    order.status = string_field(body, "status");
    for (const auto& id : body.value("identifiers", nlohmann::json::array())) order.identifiers.push_back(parse_identifier(id));
    for (const auto& authz : body.value("authorizations", nlohmann::json::array()))
      order.authorization_urls.push_back(authz.get<std::string>());
    order.finalize_url = string_field(body, "finalize");
    order.certificate_url = string_field(body, "certificate");
    if (body.contains("error")) order.error = Problem::from_json(body["error"], 0);
    if (order.status.empty()) throw nlohmann::json::other_error::create(501, "the order has no status", nullptr);
    return order;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::ca_rejected, fmt::format("the CA sent a malformed order: {}", e.what()),
                "the CA is misbehaving; try again later or report it to the CA");
  }
}

Authorization parse_authorization(const nlohmann::json& body, std::string url) {
  try {
    Authorization authz;
    authz.url = std::move(url);
    authz.status = string_field(body, "status");
    authz.identifier = parse_identifier(body.at("identifier"));
    authz.wildcard = body.value("wildcard", false);
    for (const auto& c : body.value("challenges", nlohmann::json::array())) {
      Challenge challenge;
      challenge.type = string_field(c, "type");
      challenge.url = string_field(c, "url");
      challenge.token = string_field(c, "token");
      challenge.status = string_field(c, "status");
      if (c.contains("error")) challenge.error = Problem::from_json(c["error"], 0);
      authz.challenges.push_back(std::move(challenge));
    }
    return authz;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::ca_rejected, fmt::format("the CA sent a malformed authorization: {}", e.what()),
                "the CA is misbehaving; try again later or report it to the CA");
  }
}

}  // namespace certcli::acme
