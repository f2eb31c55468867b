// The challenge options of `domain add` and `issue`, defined once so that both take the same
// spellings, and turned into challenge::Settings (checked by challenge::check_settings).
#include "cli/cli.hpp"

#include <filesystem>

namespace certcli::cli {

void add_challenge_options(CLI::App* command, ChallengeArgs& args) {
  const std::string http = "http-01";
  const std::string dns = "dns-01";
  auto* listen = command->add_option("--http-listen", args.http_listen,
                                     "http-01 with certcli's own listener on ADDR:PORT (default :80)")
                     ->group(http);
  auto* webroot = command->add_option("--webroot", args.webroot, "http-01 by writing files under this document root")
                      ->excludes(listen)
                      ->group(http);
  command->add_flag("--http-serve", args.http_serve,
                    "http-01 answered by a running `certcli serve` over this state directory")
      ->excludes(listen)
      ->excludes(webroot)
      ->group(http);
  auto* rfc2136 = command->add_option("--dns-rfc2136", args.dns_rfc2136,
                                      "dns-01 by RFC 2136 dynamic update to SERVER[:PORT] (an IP address)")
                      ->group(dns);
  command->add_option("--tsig-key", args.tsig_key, "Name of the TSIG key that signs the updates")->group(dns);
  command->add_option("--tsig-secret", args.tsig_secret,
                      "Where the TSIG secret is: '$ENV:VARIABLE' or '$FILE:/path' (the secret itself is never stored)")
      ->group(dns);
  command->add_option("--tsig-algorithm", args.tsig_algorithm, "hmac-sha256 (default), hmac-sha384 or hmac-sha512")
      ->group(dns)
      ->check(offers({"hmac-sha256", "hmac-sha384", "hmac-sha512"}));
  command->add_option("--dns-zone", args.dns_zone, "The zone to update (default: found from the SOA)")->group(dns);
  auto* hook = command->add_option("--dns-hook", args.dns_hook,
                                   "dns-01 through PROGRAM, called as `PROGRAM present|cleanup FQDN VALUE` (lego's "
                                   "exec convention)")
                   ->excludes(rfc2136)
                   ->group(dns);
  command->add_flag("--dns-manual", args.dns_manual, "dns-01 by hand: print the TXT record, wait until it is visible")
      ->excludes(rfc2136)
      ->excludes(hook)
      ->group(dns);
  command->add_option("--dns-alias", args.dns_alias,
                      "_acme-challenge.NAME is a CNAME to this name (CNAME delegation; verify checks it)")
      ->group(dns);
  command->add_option("--dns-propagation", args.dns_propagation,
                      "Where the TXT record must be seen before the CA is asked: authoritative (default), resolver, off")
      ->group(dns);
  command->add_option("--dns-propagation-timeout", args.dns_propagation_timeout, "Seconds to wait for it (default 120)")
      ->group(dns);
  command->add_option("--dns-propagation-interval", args.dns_propagation_interval,
                      "Seconds between checks (default 2)")
      ->group(dns);
  command->add_option("--dns-ttl", args.dns_ttl, "TTL of the TXT record (default 60)")->group(dns);
  command->add_option("--dns-hook-timeout", args.dns_hook_timeout, "Seconds the DNS hook may run per call (default 120)")
      ->group(dns);
}

std::optional<challenge::Settings> ChallengeArgs::settings() const {
  challenge::Settings s;
  s.http.listen = http_listen;
  s.http.serve = http_serve;
  // Stored absolute: a timer runs in another working directory, and the store refuses a
  // relative webroot when it loads a record.
  s.http.webroot = webroot.empty() ? webroot : std::filesystem::absolute(webroot).lexically_normal().string();
  s.dns.rfc2136_server = dns_rfc2136;
  s.dns.tsig_key = tsig_key;
  s.dns.tsig_secret = tsig_secret;
  s.dns.tsig_algorithm = tsig_algorithm;
  s.dns.zone = dns_zone;
  s.dns.hook = dns_hook;
  s.dns.manual = dns_manual;
  s.dns.alias = dns_alias;
  s.dns.propagation = dns_propagation;
  auto positive = [](int value) { return value != 0 ? std::optional<int>(value) : std::nullopt; };
  s.dns.propagation_timeout_seconds = positive(dns_propagation_timeout);
  s.dns.propagation_interval_seconds = positive(dns_propagation_interval);
  s.dns.ttl = positive(dns_ttl);
  s.dns.hook_timeout_seconds = positive(dns_hook_timeout);
  bool given = s.http.given() || s.dns.configured() || !s.dns.tsig_key.empty() || !s.dns.tsig_secret.empty() ||
               !s.dns.tsig_algorithm.empty() || !s.dns.zone.empty() || !s.dns.alias.empty() ||
               !s.dns.propagation.empty() || s.dns.propagation_timeout_seconds || s.dns.propagation_interval_seconds ||
               s.dns.ttl || s.dns.hook_timeout_seconds;
  if (!given) return std::nullopt;
  challenge::check_settings(s);
  return s;
}

}  // namespace certcli::cli
