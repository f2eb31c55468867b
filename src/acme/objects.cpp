// Parsing of ACME resources and problem documents. Everything here reads input from the
// network, so a malformed field is an Error with the CA named, never a crash.
#include <certcli/acme.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>

namespace certcli::acme {
namespace {

constexpr std::string_view kErrorPrefix = "urn:ietf:params:acme:error:";
// Problem texts reach a terminal and the state files: long enough for any real CA's detail.
constexpr std::size_t kMaxProblemText = 1024;
constexpr std::size_t kMaxUrl = 2048;
constexpr std::size_t kShortestToken = 22;  // 128 bits of entropy in base64url (RFC 8555 8.1)
constexpr std::size_t kLongestToken = 256;

constexpr std::string_view kOrderStatuses[] = {"pending", "ready", "processing", "valid", "invalid"};
constexpr std::string_view kAuthorizationStatuses[] = {"pending", "valid", "invalid", "deactivated", "expired", "revoked"};
constexpr std::string_view kChallengeStatuses[] = {"pending", "processing", "valid", "invalid"};
// The challenge types whose token certcli may put in a path, a DNS record or a hook's argv.
constexpr std::string_view kTokenChallengeTypes[] = {"http-01", "dns-01", "tls-alpn-01"};

template <std::size_t N>
bool one_of(std::string_view value, const std::string_view (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

std::string string_field(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) throw nlohmann::json::type_error::create(302, fmt::format("'{}' is not a string", key), nullptr);
  return it->get<std::string>();
}

std::string printable(const nlohmann::json& text) { return ca_text(text.get_ref<const std::string&>(), kMaxProblemText); }

[[noreturn]] void misbehaved(const Sender& sender, const std::string& what, const std::string& subject = {}) {
  throw CaMisbehaved(fmt::format("{} sent {}", sender.name, what), subject);
}

std::string checked_status(const nlohmann::json& body, const std::string& what, const Sender& sender,
                           auto const& allowed) {
  std::string status = string_field(body, "status");
  if (status.empty()) misbehaved(sender, fmt::format("{} without a status", what));
  if (!one_of(status, allowed)) misbehaved(sender, fmt::format("{} with the unknown status {}", what, quote_ca_text(status)));
  return status;
}

// An identifier (RFC 8555 9.7.7): a DNS name, checked by the same rules as the names users give,
// so an odd value can never reach a path or a DNS update. "*." only where `wildcard_allowed`.
Identifier checked_identifier(const nlohmann::json& body, const std::string& what, const Sender& sender,
                              bool wildcard_allowed) {
  if (!body.is_object()) misbehaved(sender, fmt::format("{} whose identifier is not an object", what));
  Identifier id{string_field(body, "type"), string_field(body, "value")};
  if (id.type == "ip") {
    // RFC 8738 3: the address in its textual form; certcli keeps the canonical one (RFC 5952).
    auto address = normalize_ip_address(id.value);
    if (!address || id.value.find('[') != std::string::npos)
      misbehaved(sender, fmt::format("{} for {}, which is not an IP address", what, quote_ca_text(id.value)));
    id.value = *address;
    return id;
  }
  if (id.type != "dns")
    misbehaved(sender, fmt::format("{} with an identifier of type {}, where certcli asked for dns names and IP "
                                   "addresses only",
                                   what, quote_ca_text(id.type)));
  try {
    std::string normalized = normalize_domain_name(id.value);
    if (is_wildcard(normalized) && !wildcard_allowed) throw Error(ErrorKind::invalid_input, "a wildcard here");
    id.value = normalized;
  } catch (const Error&) {
    misbehaved(sender, fmt::format("{} for {}, which is not a valid name here", what, quote_ca_text(id.value)));
  }
  return id;
}

}  // namespace

CaMisbehaved::CaMisbehaved(std::string message, std::string subject)
    : Error(ErrorKind::ca_rejected, std::move(message),
            "the CA is misbehaving: nothing it sent was used, and the next run places a new order; "
            "if this repeats, report it to the CA",
            std::move(subject)) {}

CaMisbehaved::CaMisbehaved(std::string message, std::string subject, std::string hint)
    : Error(ErrorKind::ca_rejected, std::move(message), std::move(hint), std::move(subject)) {}

RetryLater::RetryLater(std::string what_waits, TimePoint retry_at, std::string subject, bool order_placed)
    : Error(ErrorKind::retry_later,
            fmt::format("{}: the CA asked certcli to wait until {}, longer than this run may wait", what_waits,
                        format_rfc3339(retry_at)),
            fmt::format("run the same command again after {}{}", format_rfc3339(retry_at),
                        order_placed ? "; the order is kept and resumed" : ""),
            std::move(subject)),
      retry_at_(retry_at) {}

std::string ca_text(std::string_view text, std::size_t longest) {
  // Control characters are what a hostile CA would use: ESC starts a terminal sequence (clear
  // the screen, retitle the window, forge what the operator sees), CR and LF forge lines of an
  // error or the activity log. They are shown as \xNN, so what the CA sent stays visible and
  // inert; other bytes (UTF-8 in a detail) pass as they are.
  std::string out;
  const std::string_view shown = text.substr(0, longest);
  out.reserve(shown.size());
  for (unsigned char c : shown) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  if (text.size() > longest) out += "...";
  return out;
}

std::string quote_ca_text(std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string out = "'";
  for (unsigned char c : text.substr(0, kShown)) {
    if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  out += "'";
  if (text.size() > kShown) out += "...";
  return out;
}

std::vector<std::string> parse_caa_identities(const nlohmann::json& meta) {
  std::vector<std::string> identities;
  if (!meta.is_object() || !meta.contains("caaIdentities") || !meta["caaIdentities"].is_array()) return identities;
  for (const auto& entry : meta["caaIdentities"]) {
    if (!entry.is_string() || identities.size() >= 16) continue;
    try {
      std::string name = normalize_domain_name(entry.get<std::string>());
      if (!is_wildcard(name) && std::find(identities.begin(), identities.end(), name) == identities.end())
        identities.push_back(std::move(name));
    } catch (const Error&) {
      // Not a DNS name: skipped (see acme.hpp).
    }
  }
  return identities;
}

std::map<std::string, std::string> parse_profiles(const nlohmann::json& meta) {
  std::map<std::string, std::string> profiles;
  if (!meta.is_object() || !meta.contains("profiles") || !meta["profiles"].is_object()) return profiles;
  for (const auto& [name, description] : meta["profiles"].items()) {
    bool plain = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '.' || c == '_' || c == '-';
    });
    // A profile name goes into newOrder and into domain.toml: only plain names are kept.
    if (!plain || profiles.size() >= 32) continue;
    profiles[name] = description.is_string() ? ca_text(description.get<std::string>(), 512) : std::string();
  }
  return profiles;
}

std::string check_ca_url(const std::string& url, const std::string& what, const Sender& sender) {
  const std::string prefix = sender.url_scheme + "://";
  bool printable_ascii = std::all_of(url.begin(), url.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  bool has_host = url.size() > prefix.size() && url.compare(0, prefix.size(), prefix) == 0 &&
                  url[prefix.size()] != '/' && url[prefix.size()] != '?' && url[prefix.size()] != '#';
  if (url.empty() || url.size() > kMaxUrl || !printable_ascii || !has_host)
    misbehaved(sender, fmt::format("{} {} that is not an absolute {} URL", what, quote_ca_text(url), prefix), url);
  return url;
}

std::vector<std::string> parse_alternate_links(const std::vector<std::string>& link_values, const Sender& sender) {
  constexpr std::size_t kMostAlternates = 8;
  auto lower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  auto trim = [](std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
  };
  std::vector<std::string> urls;
  for (std::string_view value : link_values) {
    // Each link is "<target>" followed by its ";"-separated parameters, up to the next "<".
    for (std::size_t open = value.find('<'); open != std::string_view::npos;) {
      std::size_t close = value.find('>', open + 1);
      if (close == std::string_view::npos) break;
      std::string target(value.substr(open + 1, close - open - 1));
      std::size_t next = value.find('<', close + 1);
      std::string_view params = value.substr(close + 1, next == std::string_view::npos ? std::string_view::npos
                                                                                      : next - close - 1);
      open = next;
      bool alternate = false;
      for (std::size_t start = 0; start <= params.size();) {
        std::size_t semicolon = params.find(';', start);
        std::string_view param =
            trim(params.substr(start, semicolon == std::string_view::npos ? std::string_view::npos : semicolon - start));
        start = semicolon == std::string_view::npos ? params.size() + 1 : semicolon + 1;
        std::size_t equals = param.find('=');
        if (equals == std::string_view::npos || lower(std::string(trim(param.substr(0, equals)))) != "rel") continue;
        std::string rel = lower(std::string(trim(param.substr(equals + 1))));
        while (!rel.empty() && (rel.back() == ',' || rel.back() == ' ')) rel.pop_back();
        if (rel.size() >= 2 && rel.front() == '"' && rel.back() == '"') rel = rel.substr(1, rel.size() - 2);
        // rel may name several relations, space-separated (RFC 8288 3.3).
        for (std::size_t word = 0; word <= rel.size();) {
          std::size_t space = rel.find(' ', word);
          if (rel.substr(word, space == std::string::npos ? std::string::npos : space - word) == "alternate") alternate = true;
          word = space == std::string::npos ? rel.size() + 1 : space + 1;
        }
      }
      if (!alternate) continue;
      std::string url = check_ca_url(target, "a Link to an alternate chain at", sender);
      if (std::find(urls.begin(), urls.end(), url) == urls.end() && urls.size() < kMostAlternates)
        urls.push_back(std::move(url));
    }
  }
  return urls;
}

void check_token(const std::string& token, const std::string& what, const Sender& sender) {
  bool base64url = std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  if (!base64url)
    misbehaved(sender, fmt::format("{} with the token {}, which is not base64url", what, quote_ca_text(token)));
  if (token.size() < kShortestToken || token.size() > kLongestToken)
    misbehaved(sender, fmt::format("{} with a token of {} characters, where {} to {} are allowed: {}", what,
                                   token.size(), kShortestToken, kLongestToken, quote_ca_text(token)));
}

Problem Problem::from_json(const nlohmann::json& body, int http_status) {
  Problem problem;
  problem.status = http_status;
  if (!body.is_object()) return problem;
  if (body.contains("type") && body["type"].is_string()) problem.type = printable(body["type"]);
  if (body.contains("detail") && body["detail"].is_string()) problem.detail = printable(body["detail"]);
  if (body.contains("subproblems") && body["subproblems"].is_array()) {
    for (const auto& sub : body["subproblems"]) {
      if (!sub.is_object()) continue;
      Subproblem s;
      if (sub.contains("type") && sub["type"].is_string()) s.type = printable(sub["type"]);
      if (sub.contains("detail") && sub["detail"].is_string()) s.detail = printable(sub["detail"]);
      if (sub.contains("identifier") && sub["identifier"].is_object() && sub["identifier"].contains("value") &&
          sub["identifier"]["value"].is_string())
        s.identifier = printable(sub["identifier"]["value"]);
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

namespace {

std::string quoted_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + quote_ca_text(name);
  return text;
}

bool holds(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::string authorized_name(const Authorization& authz) {
  return (authz.wildcard ? "*." : "") + authz.identifier.value;
}

void check_order_identifiers(const Order& order, const std::vector<std::string>& ordered, const Sender& sender) {
  std::vector<std::string> extra;
  std::vector<std::string> sent;
  for (const auto& id : order.identifiers) {
    sent.push_back(id.value);
    if (!holds(ordered, id.value) && !holds(extra, id.value)) extra.push_back(id.value);
  }
  std::vector<std::string> missing;
  for (const auto& name : ordered)
    if (!holds(sent, name)) missing.push_back(name);
  if (!extra.empty())
    misbehaved(sender, fmt::format("the order {} for names certcli did not ask for: {}", order.url, quoted_names(extra)),
               order.url);
  if (!missing.empty())
    misbehaved(sender, fmt::format("the order {} without names certcli asked for: {}", order.url, quoted_names(missing)),
               order.url);
}

void check_authorization_count(const Order& order, const std::vector<std::string>& ordered, const Sender& sender) {
  if (order.authorization_urls.size() > ordered.size())
    misbehaved(sender,
               fmt::format("the order {} with {} authorizations for {} name{}: one per name is all there can be",
                           order.url, order.authorization_urls.size(), ordered.size(), ordered.size() == 1 ? "" : "s"),
               order.url);
  std::vector<std::string> seen;
  for (const auto& url : order.authorization_urls) {
    if (holds(seen, url))
      misbehaved(sender, fmt::format("the order {} linking the authorization {} twice", order.url, url), order.url);
    seen.push_back(url);
  }
}

void check_authorized_name(const std::string& name, const std::vector<std::string>& ordered,
                           const std::vector<std::string>& authorized_before, const Sender& sender) {
  if (!holds(ordered, name))
    misbehaved(sender, fmt::format("an authorization for {}, a name certcli did not order (it ordered {})",
                                   quote_ca_text(name), quoted_names(ordered)),
               name);
  if (holds(authorized_before, name))
    misbehaved(sender, fmt::format("a second authorization for {} in one order", quote_ca_text(name)), name);
}

void check_every_name_authorized(const std::vector<std::string>& ordered, const std::vector<std::string>& authorized,
                                 const Sender& sender) {
  std::vector<std::string> missing;
  for (const auto& name : ordered)
    if (!holds(authorized, name)) missing.push_back(name);
  if (!missing.empty())
    misbehaved(sender, fmt::format("an order without an authorization for {}", quoted_names(missing)), missing.front());
}

Order parse_order(const nlohmann::json& body, std::string url, const Sender& sender) {
  try {
    Order order;
    order.url = check_ca_url(url, "an order at", sender);
    const std::string what = fmt::format("the order {}", order.url);
    order.status = checked_status(body, what, sender, kOrderStatuses);
    for (const auto& id : body.value("identifiers", nlohmann::json::array()))
      order.identifiers.push_back(checked_identifier(id, what, sender, /*wildcard_allowed=*/true));
    for (const auto& authz : body.value("authorizations", nlohmann::json::array()))
      order.authorization_urls.push_back(check_ca_url(authz.get<std::string>(), what + " linking an authorization", sender));
    order.finalize_url = check_ca_url(string_field(body, "finalize"), what + " with a finalize URL", sender);
    if (std::string certificate = string_field(body, "certificate"); !certificate.empty())
      order.certificate_url = check_ca_url(certificate, what + " with a certificate URL", sender);
    if (body.contains("error")) order.error = Problem::from_json(body["error"], 0);
    return order;
  } catch (const nlohmann::json::exception& e) {
    throw CaMisbehaved(fmt::format("{} sent a malformed order: {}", sender.name, e.what()), url);
  }
}

Authorization parse_authorization(const nlohmann::json& body, std::string url, const Sender& sender) {
  try {
    Authorization authz;
    authz.url = check_ca_url(url, "an authorization at", sender);
    std::string what = fmt::format("the authorization {}", authz.url);
    authz.status = checked_status(body, what, sender, kAuthorizationStatuses);
    authz.identifier = checked_identifier(body.at("identifier"), what, sender, /*wildcard_allowed=*/false);
    what = fmt::format("an authorization for {}", authz.identifier.value);
    authz.wildcard = body.value("wildcard", false);
    for (const auto& c : body.value("challenges", nlohmann::json::array())) {
      Challenge challenge;
      challenge.type = string_field(c, "type");
      if (!one_of(challenge.type, kTokenChallengeTypes)) continue;
      const std::string challenge_what = fmt::format("{} with a {} challenge", what, quote_ca_text(challenge.type));
      challenge.url = check_ca_url(string_field(c, "url"), challenge_what + " at", sender);
      challenge.token = string_field(c, "token");
      check_token(challenge.token, challenge_what, sender);
      challenge.status = checked_status(c, challenge_what, sender, kChallengeStatuses);
      if (c.contains("error")) challenge.error = Problem::from_json(c["error"], 0);
      authz.challenges.push_back(std::move(challenge));
    }
    return authz;
  } catch (const nlohmann::json::exception& e) {
    throw CaMisbehaved(fmt::format("{} sent a malformed authorization: {}", sender.name, e.what()), url);
  }
}

}  // namespace certcli::acme
