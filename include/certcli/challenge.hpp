// certcli/challenge.hpp — challenge solvers: the extension point for proving control of a name.
// Owns: putting a key authorization where the CA will look, and taking it away again. A solver
// knows nothing of orders, accounts or the store; new solvers (dns-01 over RFC 2136, exec hooks,
// manual) implement the same two methods.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace certcli::net {
class HttpServer;
}

namespace certcli::challenge {

struct ChallengeTask {
  std::string identifier;         // the DNS name being validated
  std::string token;              // the challenge token (checked to be base64url before use)
  std::string key_authorization;  // token.thumbprint
};

class Solver {
 public:
  virtual ~Solver() = default;
  // The ACME challenge type this solver answers ("http-01").
  virtual std::string challenge_type() const = 0;
  // Makes the key authorization visible to the CA; throws Error{challenge} with a hint.
  virtual void present(const ChallengeTask& task) = 0;
  // Removes what present() put in place, and nothing else (a task never presented is left
  // alone); cannot throw: it only undoes what present() recorded, with non-throwing calls.
  virtual void cleanup(const ChallengeTask& task) noexcept = 0;
  // For progress messages: "http-01 on 127.0.0.1:80", "http-01 via webroot /var/www".
  virtual std::string describe() const = 0;
};

// "/.well-known/acme-challenge/<token>" (RFC 8555 8.3). Throws Error{ca_rejected} for a token
// outside the base64url alphabet, since it becomes part of a path.
std::string http01_path(const std::string& token);

// http-01 with certcli's own listener on `address`:`port`.
std::unique_ptr<Solver> make_http_standalone_solver(const std::string& address, int port);
// http-01 through an existing web server's document root.
std::unique_ptr<Solver> make_http_webroot_solver(const std::filesystem::path& webroot);

// Checks http-01 settings before anything is asked of a CA: the webroot (when given) is a
// directory this user can write under; else the listen address ("" means ":80") parses and,
// with `try_listening`, its port can be bound right now. Throws Error{invalid_input} for a bad
// value, Error{challenge} for a port that is busy or forbidden, each with the fix.
void check_http01_settings(const std::filesystem::path& webroot, const std::string& http_listen, bool try_listening);

// Splits "ADDR:PORT", "[v6]:PORT" or ":PORT" (all addresses) into its parts; throws
// Error{invalid_input} naming the bad value.
std::pair<std::string, int> parse_listen_address(const std::string& text);

}  // namespace certcli::challenge
