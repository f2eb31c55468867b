// DNS server addresses and TSIG algorithm names as the user writes them: pure parsing, no I/O.
#include <certcli/dns.hpp>
#include <certcli/error.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace certcli::dns {
namespace {

bool is_ipv4(const std::string& s) {
  in_addr addr{};
  return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr addr{};
  return inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

// Digits only, 1..65535; no sign, no spaces, no hex.
std::optional<int> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  int port = std::stoi(s);
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

[[noreturn]] void refuse(const std::string& text, const std::string& what, const std::string& why) {
  throw Error(ErrorKind::invalid_input, what + " \"" + text + "\" " + why,
              "write an IP address with an optional port: 192.0.2.1, 192.0.2.1:5353, 2001:db8::1 or [2001:db8::1]:5353",
              text);
}

}  // namespace

std::string ServerAddress::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

ServerAddress parse_server_address(const std::string& text, const std::string& what, int default_port) {
  if (text.empty()) refuse(text, what, "is empty");
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) refuse(text, what, "has no closing ']'");
    std::string host = text.substr(1, close - 1);
    if (!is_ipv6(host)) refuse(text, what, "does not hold an IPv6 address between [ and ]");
    std::string rest = text.substr(close + 1);
    if (rest.empty()) return {host, default_port};
    if (rest.front() != ':') refuse(text, what, "has text after ']' that is not \":PORT\"");
    auto port = parse_port(rest.substr(1));
    if (!port) refuse(text, what, "has a port that is not a number from 1 to 65535");
    return {host, *port};
  }
  // More than one colon: a bare IPv6 literal, which cannot carry a port without brackets.
  if (std::count(text.begin(), text.end(), ':') > 1) {
    if (!is_ipv6(text)) refuse(text, what, "is not an IPv6 address (an IPv6 address with a port is written [ADDR]:PORT)");
    return {text, default_port};
  }
  auto colon = text.find(':');
  std::string host = text.substr(0, colon);
  int port = default_port;
  if (colon != std::string::npos) {
    auto parsed = parse_port(text.substr(colon + 1));
    if (!parsed) refuse(text, what, "has a port that is not a number from 1 to 65535");
    port = *parsed;
  }
  if (!is_ipv4(host)) {
    bool looks_like_name = std::any_of(host.begin(), host.end(), [](unsigned char c) { return std::isalpha(c); });
    // A DNS server named by a host name would need DNS to find DNS.
    refuse(text, what, looks_like_name ? "is a host name; DNS servers must be given as IP addresses"
                                       : "is not an IPv4 address");
  }
  return {host, port};
}

void check_tsig_algorithm(const std::string& algorithm) {
  std::string name = algorithm;
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  static constexpr std::array<const char*, 3> supported{"hmac-sha256", "hmac-sha384", "hmac-sha512"};
  if (std::find(supported.begin(), supported.end(), name) != supported.end()) return;
  throw Error(ErrorKind::invalid_input, "TSIG algorithm \"" + algorithm + "\" is not supported",
              "use hmac-sha256, hmac-sha384 or hmac-sha512 (and the same algorithm in the DNS server's key)", algorithm);
}

}  // namespace certcli::dns
