// `certcli serve`: the routes and the rule of /allowed (certcli/serve.hpp).
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/serve.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <variant>

namespace certcli::lifecycle {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The ownership TXT record held at the last `certcli verify` (verify only ever moves
// ownership_verified_at forward, so an older one is from a verify that has since failed).
bool ownership_held(const store::VerificationState& v) {
  return v.ownership_verified_at && v.checked_at && *v.ownership_verified_at >= *v.checked_at;
}

net::HttpResponse bad_request(const std::string& why) { return net::text_response(400, why + "\n"); }

constexpr std::string_view kChallengePrefix = "/.well-known/acme-challenge/";
constexpr std::string_view kStatusPrefix = "/status/";

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      char decoded = static_cast<char>(high * 16 + low);
      if (decoded == '\0') return std::nullopt;
      out += decoded;
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// A name as a request carries it (percent-encoded), decoded and normalized; or why it is not
// one, for a 400 (`what` names where it came from).
std::variant<std::string, net::HttpResponse> requested_name(std::string_view encoded, const char* what) {
  auto decoded = percent_decode(encoded);
  if (!decoded) return bad_request(fmt::format("{} is not valid percent-encoding", what));
  try {
    return normalize_name(*decoded);
  } catch (const Error& e) {
    return bad_request(fmt::format("not a valid name: {}", e.what()));
  }
}

}  // namespace

std::optional<std::string> query_parameter(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

AllowDecision decide_allowed(const std::vector<store::DomainRecord>& domains, const std::string& host,
                             bool require_ownership, bool removed) {
  const store::DomainRecord* unverified = nullptr;
  for (const auto& record : domains) {
    bool named = false;
    for (const auto& name : record.names)
      if (name == host || (is_wildcard(name) && covers(name, host))) named = true;
    if (!named) continue;
    bool needs_ownership = require_ownership || record.verification.require_ownership;
    if (needs_ownership && !ownership_held(record.verification)) {
      unverified = &record;
      continue;  // another domain may hold the name and be verified
    }
    return {true, fmt::format("{} is managed by certcli (domain {})", host, record.name)};
  }
  if (unverified)
    return {false, fmt::format("{} (domain {}) requires ownership, which the last `certcli verify` did not find", host,
                               unverified->name)};
  if (removed) return {false, fmt::format("{} was removed from certcli", host)};
  return {false, fmt::format("{} is not managed by certcli", host)};
}

bool is_loopback_address(const std::string& address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

net::HttpHandler make_serve_handler(const store::Store& store, ServeSettings settings) {
  return [&store, settings = std::move(settings)](const net::HttpRequest& request) -> net::HttpResponse {
    const std::string& path = request.path;
    if (path == "/healthz") return net::text_response(200, "ok\n");

    if (path.starts_with(kChallengePrefix)) {
      // Matched as sent, like the standalone listener: a CA sends base64url tokens verbatim.
      std::string token = path.substr(kChallengePrefix.size());
      auto answer = challenge::read_published_key_authorization(settings.http01_directory, token);
      if (!answer) return net::text_response(404, "not found\n");
      return net::text_response(200, *answer);
    }

    if (path == "/allowed") {
      auto raw = query_parameter(request.query, "domain");
      if (!raw || raw->empty()) return bad_request("give the name as /allowed?domain=NAME");
      auto named = requested_name(*raw, "the domain parameter");
      if (auto* refusal = std::get_if<net::HttpResponse>(&named)) return *refusal;
      const std::string host = std::get<std::string>(std::move(named));
      if (is_wildcard(host)) return bad_request(fmt::format("{} is a wildcard, not a host name", host));
      const auto domains = store.list_domains();
      AllowDecision decision = decide_allowed(domains, host, settings.require_ownership, /*removed=*/false);
      if (!decision.allowed) {
        // removed/ only words a refusal, so it is looked at for refusals only.
        try {
          if (store.newest_removed(host)) decision = decide_allowed(domains, host, settings.require_ownership, true);
        } catch (const Error&) {
          // An unreadable removed/ only changes the wording of the refusal.
        }
        return bad_request(decision.reason);
      }
      return net::text_response(200, decision.reason + "\n");
    }

    if (path.starts_with(kStatusPrefix)) {
      auto named = requested_name(std::string_view(path).substr(kStatusPrefix.size()), "the name");
      if (auto* refusal = std::get_if<net::HttpResponse>(&named)) return *refusal;
      const std::string name = std::get<std::string>(std::move(named));
      std::optional<std::string> json = settings.status_json ? settings.status_json(name) : std::nullopt;
      if (!json) return net::text_response(404, fmt::format("{} is not managed by certcli\n", name));
      net::HttpResponse response;
      response.status = 200;
      response.headers.emplace_back("content-type", "application/json");
      response.body = std::move(*json);
      return response;
    }

    return net::text_response(404, "not found\n");
  };
}

}  // namespace certcli::lifecycle
