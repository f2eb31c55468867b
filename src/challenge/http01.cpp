// http-01 solvers (RFC 8555 8.3): certcli's own listener, or files in a web server's webroot.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>
#include <certcli/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace certcli::challenge {
namespace {

namespace fs = std::filesystem;

class HttpStandaloneSolver final : public Solver {
 public:
  HttpStandaloneSolver(const std::string& address, int port)
      : address_(address), server_(std::make_unique<net::HttpServer>(address, port)) {}

  std::string challenge_type() const override { return "http-01"; }
  void present(const ChallengeTask& task) override {
    server_->set_response(http01_path(task.token), task.key_authorization);
  }
  void cleanup(const ChallengeTask& task) noexcept override {
    try {
      server_->remove_response(http01_path(task.token));
    } catch (...) {
    }
  }
  std::string describe() const override {
    bool v6 = address_.find(':') != std::string::npos;
    return fmt::format("http-01 on {}{}{}:{}", v6 ? "[" : "", address_, v6 ? "]" : "", server_->port());
  }

 private:
  std::string address_;
  std::unique_ptr<net::HttpServer> server_;
};

class HttpWebrootSolver final : public Solver {
 public:
  explicit HttpWebrootSolver(fs::path webroot) : webroot_(std::move(webroot)) {
    if (!fs::is_directory(webroot_))
      throw Error(ErrorKind::invalid_input, fmt::format("webroot {} is not a directory", webroot_.string()),
                  "pass the document root your web server serves for this name", webroot_.string());
  }

  std::string challenge_type() const override { return "http-01"; }

  void present(const ChallengeTask& task) override {
    fs::path dir = webroot_ / ".well-known" / "acme-challenge";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      throw Error(ErrorKind::challenge, fmt::format("cannot create {}: {}", dir.string(), ec.message()),
                  "make the webroot writable by this user", dir.string());
    // The web server must read it, so it is world-readable on purpose; it holds no secret.
    fs::perms readable = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
    try {
      store::write_file_atomic(dir / file_name(task), task.key_authorization, readable);
    } catch (const Error& e) {
      throw Error(ErrorKind::challenge, e.what(), "make the webroot writable by this user", dir.string());
    }
  }

  void cleanup(const ChallengeTask& task) noexcept override {
    std::error_code ec;
    fs::remove(webroot_ / ".well-known" / "acme-challenge" / file_name(task), ec);
  }

  std::string describe() const override { return fmt::format("http-01 via webroot {}", webroot_.string()); }

 private:
  static std::string file_name(const ChallengeTask& task) {
    return http01_path(task.token).substr(std::string("/.well-known/acme-challenge/").size());
  }
  fs::path webroot_;
};

}  // namespace

std::string http01_path(const std::string& token) {
  bool base64url = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  // The token names a file in the webroot: anything but base64url could escape it.
  if (!base64url)
    throw Error(ErrorKind::ca_rejected, fmt::format("the CA sent a challenge token that is not base64url: '{}'", token),
                "the CA is misbehaving; report it to the CA");
  return "/.well-known/acme-challenge/" + token;
}

std::unique_ptr<Solver> make_http_standalone_solver(const std::string& address, int port) {
  try {
    return std::make_unique<HttpStandaloneSolver>(address, port);
  } catch (const Error&) {
    // "Every address" on a host without IPv6 support: fall back to every IPv4 address.
    if (address != "::") throw;
    return std::make_unique<HttpStandaloneSolver>("0.0.0.0", port);
  }
}

std::unique_ptr<Solver> make_http_webroot_solver(const fs::path& webroot) {
  return std::make_unique<HttpWebrootSolver>(webroot);
}

std::pair<std::string, int> parse_listen_address(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::invalid_input, fmt::format("listen address '{}' {}", text, why),
                 "write it as ADDRESS:PORT, e.g. 127.0.0.1:80, [::1]:80 or :80 for every address", text);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw bad("has no port");
  std::string address = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535)
    throw bad("has no port between 1 and 65535");
  if (address.empty()) address = "::";
  return {address, port};
}

}  // namespace certcli::challenge
