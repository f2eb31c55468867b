// The http-01 preflight: before a CA is asked, fetch a probe of our own the way the CA will
// fetch the key authorization (RFC 8555 8.3, and Let's Encrypt's redirect rules), and explain
// in one cause, message and hint why it would fail.
#include "challenge/http01_preflight.hpp"

#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/net.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>

namespace certcli::challenge {
namespace {

// Let's Encrypt follows at most 10 redirects (Boulder's va/http.go).
constexpr int kMaxRedirects = 10;
constexpr std::size_t kExcerptLimit = 100;

std::string random_base64url(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
    throw Error(ErrorKind::internal, "the OpenSSL random generator failed");
  return crypto::base64url_encode(raw);
}

bool is_ipv6(const std::string& address) { return address.find(':') != std::string::npos; }

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

bool same_host(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::string seconds_text(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return fmt::format("{} s", timeout.count() / 1000);
  return fmt::format("{} ms", timeout.count());
}

// RFC 8555 8.3: the server SHOULD ignore whitespace at the end of the body, and only there.
std::string_view without_trailing_space(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// One answered (or failed) fetch, and the address it went to.
struct Fetch {
  net::ProbeResponse response;
  std::string address;
};

bool connection_failed(net::ProbeOutcome outcome) {
  return outcome == net::ProbeOutcome::refused || outcome == net::ProbeOutcome::timed_out ||
         outcome == net::ProbeOutcome::connect_failed;
}

// Like a CA: the first IPv6 address, and only when it cannot be connected to, the first IPv4
// one. The fallback is worth a warning: a broken AAAA record makes every validation slower,
// and some CAs do not fall back.
Fetch fetch_preferring_ipv6(const std::string& url, const std::vector<std::string>& addresses,
                            std::chrono::milliseconds timeout, std::vector<std::string>& warnings) {
  std::vector<std::string> order;
  auto v6 = std::find_if(addresses.begin(), addresses.end(), is_ipv6);
  auto v4 = std::find_if_not(addresses.begin(), addresses.end(), is_ipv6);
  if (v6 != addresses.end()) order.push_back(*v6);
  if (v4 != addresses.end()) order.push_back(*v4);

  Fetch fetch;
  for (std::size_t i = 0; i < order.size(); ++i) {
    fetch = Fetch{net::probe_http(url, order[i], timeout), order[i]};
    if (!connection_failed(fetch.response.outcome) || i + 1 == order.size()) break;
    warnings.push_back(fmt::format("{} could not be reached over IPv6 at {} ({}); the CA tries IPv6 first and "
                                   "may not fall back to IPv4: fix the AAAA record or make the server listen on IPv6",
                                   url, order[i], fetch.response.error));
  }
  return fetch;
}

bool is_webroot(const Solver& solver) {
  // The Solver interface has no question for this; describe() is the one place the kind shows.
  return solver.describe().starts_with("http-01 via webroot");
}

// Walks from the probe URL through redirects, as the CA would, and fills in the cause.
class Walk {
 public:
  Walk(const Solver& solver, const std::string& name, int port, std::chrono::milliseconds timeout,
       const AddressLookup& lookup, PreflightResult& result)
      : solver_(solver), name_(name), port_(port), timeout_(timeout), lookup_(lookup), result_(result) {}

  void run(const std::vector<std::string>& addresses, const std::string& expected) {
    host_addresses_[name_] = addresses;
    std::string url = result_.url;
    std::string host = name_;
    std::string scheme = "http";
    for (;;) {
      chain_.push_back(url);
      Fetch fetch = fetch_preferring_ipv6(url, host_addresses_[host], timeout_, result_.warnings);
      const net::ProbeResponse& response = fetch.response;
      std::string at = fmt::format("GET {} at {}", url, fetch.address);

      if (response.outcome != net::ProbeOutcome::answered) {
        fail_unanswered(scheme, host, at, response, fetch.address);
        return;
      }
      if (response.status >= 300 && response.status < 400 && !response.location.empty()) {
        if (!follow(at, response, url, host, scheme)) return;
        continue;
      }
      if (response.status == 200) {
        if (without_trailing_space(response.body) == expected) {
          set(PreflightCause::ok, at + " answered with the probe" + via(), "");
        } else {
          std::string seen = response.body.empty() ? "an empty body"
                                                   : "\"" + escaped_excerpt(response.body, kExcerptLimit) + "\"";
          set(PreflightCause::wrong_content, fmt::format("{} answered 200 with {} instead of the probe{}", at, seen, via()),
              fmt::format("another server or site answers for {} (a default virtual host, a catch-all rewrite, a "
                          "proxy in front); make /.well-known/acme-challenge/ on {} reach {}",
                          name_, name_, solver_.describe()));
        }
        return;
      }
      if (response.status == 404) {
        set(PreflightCause::not_found, fmt::format("{} answered 404 Not Found{}", at, via()), not_found_hint());
        return;
      }
      set(PreflightCause::http_error, fmt::format("{} answered {}{}", at, response.status, via()),
          http_error_hint(response.status));
      return;
    }
  }

 private:
  // ", reached through redirects from URL" once the walk has left the probe URL.
  std::string via() const {
    if (chain_.size() < 2) return "";
    return fmt::format(" (redirected from {})", fmt::join(chain_.begin(), chain_.end() - 1, " -> "));
  }

  void set(PreflightCause cause, std::string message, std::string hint) {
    result_.cause = cause;
    result_.message = std::move(message);
    result_.hint = std::move(hint);
  }

  void fail_unanswered(const std::string& scheme, const std::string& host, const std::string& at,
                       const net::ProbeResponse& response, const std::string& address) {
    using net::ProbeOutcome;
    if (scheme == "https") {
      set(PreflightCause::https_failed, fmt::format("{} failed: {}{}", at, response.error, via()),
          fmt::format("the CA follows this redirect and needs a working TLS handshake with {} on port {} (it does "
                      "not check the certificate); fix the https server, or exempt /.well-known/acme-challenge/ "
                      "from the redirect to https",
                      host, port_of(chain_.back())));
      return;
    }
    int port = port_of(chain_.back());
    switch (response.outcome) {
      case ProbeOutcome::refused:
        set(PreflightCause::refused, fmt::format("{}: connection refused{}", at, via()),
            fmt::format("nothing listens on {}:{} ({}); start the web server, or let certcli's own listener answer "
                        "on port {}",
                        host, port, address, port));
        return;
      case ProbeOutcome::timed_out:
      case ProbeOutcome::connect_failed:
        set(PreflightCause::timed_out,
            fmt::format("{}: no answer within {} ({}){}", at, seconds_text(timeout_), response.error, via()),
            fmt::format("a firewall, security group or router probably drops traffic to {} port {}; allow port {} "
                        "from everywhere (the CA validates from several places), and check that {}'s A/AAAA records "
                        "are current",
                        address, port, port, host));
        return;
      default:
        set(PreflightCause::http_error, fmt::format("{}: no HTTP answer ({}){}", at, response.error, via()),
            fmt::format("something on {} port {} accepts connections but does not answer HTTP (TLS on a plain "
                        "HTTP port?); check what listens there and its error log",
                        address, port));
        return;
    }
  }

  // Checks the redirect as Let's Encrypt does and moves the walk on; false once a cause is set.
  bool follow(const std::string& at, const net::ProbeResponse& response, std::string& url, std::string& host,
              std::string& scheme) {
    const auto& target = response.redirect;
    // Let's Encrypt follows only http and https on ports 80 and 443. The preflight's own port
    // stays allowed, so that a test CA validating on another port (and our tests) are judged
    // by the same rules.
    bool allowed = target && (target->scheme == "http" || target->scheme == "https") &&
                   (target->port == 80 || target->port == 443 || target->port == port_);
    if (!allowed) {
      set(PreflightCause::http_error,
          fmt::format("{} redirects to \"{}\", which the CA does not follow{}", at,
                      escaped_excerpt(response.location, kExcerptLimit), via()),
          "CAs follow redirects only to http:// or https:// URLs on ports 80 and 443; change the redirect, or "
          "exempt /.well-known/acme-challenge/ from it");
      return false;
    }
    bool seen = std::find(chain_.begin(), chain_.end(), target->url) != chain_.end();
    if (seen || static_cast<int>(chain_.size()) > kMaxRedirects) {
      chain_.push_back(target->url);
      set(PreflightCause::redirect_loop,
          fmt::format("{} {}: {}", result_.url, seen ? "redirects in a loop" : "takes more than 10 redirects",
                      fmt::join(chain_, " -> ")),
          fmt::format("fix the redirect rules for /.well-known/acme-challenge/ on {}: the CA follows at most {} "
                      "redirects and never the same URL twice",
                      name_, kMaxRedirects));
      return false;
    }
    if (!host_addresses_.contains(target->host) && !resolve(at, target->host)) return false;
    url = target->url;
    host = target->host;
    scheme = target->scheme;
    return true;
  }

  // Addresses of a host a redirect leads to; false (and no_address) when it has none.
  bool resolve(const std::string& at, const std::string& host) {
    std::string trouble;
    try {
      if (is_ip_literal(host)) {
        host_addresses_[host] = {host};
      } else if (same_host(host, name_)) {
        host_addresses_[host] = host_addresses_[name_];
      } else if (lookup_) {
        host_addresses_[host] = lookup_(host);
      }
    } catch (const Error& e) {
      trouble = e.what();
    }
    if (!host_addresses_[host].empty()) return true;
    set(PreflightCause::no_address,
        fmt::format("{} redirects to {}, which has no A or AAAA record{}", at, host,
                    trouble.empty() ? "" : " (" + trouble + ")"),
        fmt::format("create an A or AAAA record for {}, or change the redirect", host));
    return false;
  }

  std::string not_found_hint() const {
    if (is_webroot(solver_))
      return fmt::format("check that the webroot is the document root the web server serves for {}, and that it "
                         "serves files under /.well-known/acme-challenge/ as they are",
                         name_);
    if (solver_.describe().starts_with("http-01 via certcli serve"))
      return fmt::format("check that `certcli serve` runs over this state directory and that every web server of {} "
                         "forwards /.well-known/acme-challenge/ to it",
                         name_);
    if (solver_.describe().starts_with("http-01 on"))
      return fmt::format("the request reached another web server, not certcli's listener: check that {} points at "
                         "this host and that no other server or proxy in front answers port {}",
                         name_, port_);
    return "the file is missing, the document root is wrong, or the request reached another server";
  }

  static std::string http_error_hint(long status) {
    if (status == 401 || status == 403)
      return "the web server refuses access to /.well-known/acme-challenge/: check file permissions and access "
             "rules (authentication, address allow lists) for that path";
    if (status >= 500)
      return "the web server failed the request; its error log says why";
    return "the CA needs 200 with the key authorization at this URL; check what the web server does with "
           "/.well-known/acme-challenge/";
  }

  // The port of a URL certcli built or curl split: explicit, else the scheme's default.
  static int port_of(const std::string& url) {
    auto scheme_end = url.find("://");
    auto host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    auto path_start = url.find('/', host_start);
    std::string authority = url.substr(host_start, path_start - host_start);
    auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']', colon) == std::string::npos)
      return std::atoi(authority.c_str() + colon + 1);
    return url.starts_with("https:") ? 443 : 80;
  }

  const Solver& solver_;
  const std::string& name_;
  int port_;
  std::chrono::milliseconds timeout_;
  const AddressLookup& lookup_;
  PreflightResult& result_;
  std::vector<std::string> chain_;                               // every URL fetched, in order
  std::map<std::string, std::vector<std::string>> host_addresses_;  // per host the walk reached
};

std::string probe_url(const std::string& name, int port, const std::string& token) {
  // An IPv6 address (RFC 8738) is bracketed in a URL (RFC 3986 3.2.2).
  const std::string host = name.find(':') != std::string::npos ? "[" + name + "]" : name;
  std::string authority = port == 80 ? host : fmt::format("{}:{}", host, port);
  return "http://" + authority + http01_path(token);
}

}  // namespace

std::string to_string(PreflightCause cause) {
  switch (cause) {
    case PreflightCause::ok: return "ok";
    case PreflightCause::no_address: return "no-address";
    case PreflightCause::refused: return "refused";
    case PreflightCause::timed_out: return "timed-out";
    case PreflightCause::not_found: return "not-found";
    case PreflightCause::wrong_content: return "wrong-content";
    case PreflightCause::http_error: return "http-error";
    case PreflightCause::redirect_loop: return "redirect-loop";
    case PreflightCause::https_failed: return "https-failed";
  }
  return "unknown";
}

bool is_address_of_this_host(const std::string& address) {
  in6_addr v6{};
  in_addr v4{};
  bool is_v4 = ::inet_pton(AF_INET, address.c_str(), &v4) == 1;
  if (!is_v4 && ::inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (is_v4 && (ntohl(v4.s_addr) >> 24) == 127) return true;
  if (!is_v4 && IN6_IS_ADDR_LOOPBACK(&v6)) return true;

  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return true;
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    const sockaddr* a = entry->ifa_addr;
    if (a == nullptr) continue;
    if (is_v4 && a->sa_family == AF_INET &&
        reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr == v4.s_addr)
      return true;
    if (!is_v4 && a->sa_family == AF_INET6 &&
        std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, &v6, sizeof v6) == 0)
      return true;
  }
  return false;
}

std::string escaped_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  for (unsigned char c : text) {
    std::string piece;
    switch (c) {
      case '\n': piece = "\\n"; break;
      case '\r': piece = "\\r"; break;
      case '\t': piece = "\\t"; break;
      case '"': piece = "\\\""; break;
      case '\\': piece = "\\\\"; break;
      default:
        piece = (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
    }
    if (out.size() + piece.size() > limit) {
      out += "...";
      break;
    }
    out += piece;
  }
  return out;
}

PreflightResult preflight_at(Solver& solver, const std::string& name, const std::vector<std::string>& addresses,
                             int port, std::chrono::milliseconds timeout, const AddressLookup& lookup) {
  PreflightResult result;
  result.name = name;
  ChallengeTask task{name, "http-01", random_base64url(32), ""};
  // Shaped like a key authorization (token "." thumbprint), so that a web server rule that only
  // passes such bodies treats the probe like the real thing.
  task.key_authorization = task.token + "." + random_base64url(32);
  result.url = probe_url(name, port, task.token);

  if (addresses.empty()) {
    result.cause = PreflightCause::no_address;
    result.message = fmt::format("{} has no A or AAAA record, so {} cannot be fetched", name, result.url);
    result.hint = fmt::format("create an A or AAAA record for {} pointing at this host", name);
    return result;
  }
  for (const std::string& address : addresses) {
    if (!is_address_of_this_host(address))
      result.warnings.push_back(fmt::format("{} resolves to {}, which is not an address of this host (fine when NAT "
                                            "or a load balancer forwards port {} here)",
                                            name, address, port));
  }

  auto clean_up = [&] {
    std::string trouble = solver.cleanup(task);
    if (!trouble.empty()) result.warnings.push_back(std::move(trouble));
  };
  try {
    solver.present(task);
    Walk(solver, name, port, timeout, lookup, result).run(addresses, task.key_authorization);
  } catch (...) {
    // A failed present() may have left half of the probe in place (a directory, a file).
    clean_up();
    throw;
  }
  clean_up();
  return result;
}

PreflightResult http01_preflight(Solver& solver, const std::string& name, const dns::Resolver& resolver, int port,
                                 std::chrono::milliseconds timeout) {
  std::vector<std::string> addresses;
  // An IP address identifier (RFC 8738) is fetched from that address itself: no lookup.
  if (is_ip_address(name))
    return preflight_at(solver, name, {name}, port, timeout,
                        [&resolver](const std::string& host) { return resolver.addresses(host); });
  try {
    addresses = resolver.addresses(name);
  } catch (const Error& e) {
    // A lookup that fails is a finding like an empty one: the CA would not get further either.
    PreflightResult result;
    result.name = name;
    result.cause = PreflightCause::no_address;
    result.url = port == 80 ? fmt::format("http://{}/.well-known/acme-challenge/", name)
                            : fmt::format("http://{}:{}/.well-known/acme-challenge/", name, port);
    result.message = fmt::format("cannot look up the addresses of {}: {}", name, e.what());
    result.hint = e.hint().empty() ? "check that DNS works on this machine" : e.hint();
    return result;
  }
  return preflight_at(solver, name, addresses, port, timeout,
                      [&resolver](const std::string& host) { return resolver.addresses(host); });
}

}  // namespace certcli::challenge
