// http-01 solvers (RFC 8555 8.3): certcli's own listener, or files in a web server's webroot.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/net.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

#include <unistd.h>

namespace certcli::challenge {
namespace {

namespace fs = std::filesystem;

// Throws Error{invalid_input} unless `webroot` is a directory this user can add files under.
void check_webroot(const fs::path& webroot);

// Both solvers remember, per token, exactly what present() put in place, and cleanup() only
// takes that away again through calls that cannot throw: nothing a CA sent is re-read or
// re-validated on the way out, so cleanup() (noexcept, also on the Ctrl-C path) cannot end the
// process, and a task that was never presented is left alone.

class HttpStandaloneSolver final : public Solver {
 public:
  HttpStandaloneSolver(const std::string& address, int port)
      : address_(address), server_(std::make_unique<net::HttpServer>(address, port)) {}

  std::string challenge_type() const override { return "http-01"; }
  void present(const ChallengeTask& task) override {
    std::string path = http01_path(task.token);
    std::lock_guard guard(mutex_);
    presented_.emplace(task.token, path);
    server_->set_response(path, task.key_authorization);
  }
  std::string cleanup(const ChallengeTask& task) noexcept override {
    try {
      std::lock_guard guard(mutex_);
      auto it = presented_.find(task.token);
      if (it == presented_.end()) return {};
      server_->remove_response(it->second);
      presented_.erase(it);
    } catch (...) {
      // Only a failing mutex could get here; the listener goes away with the solver anyway.
    }
    return {};
  }
  std::string describe() const override {
    bool v6 = address_.find(':') != std::string::npos;
    return fmt::format("http-01 on {}{}{}:{}", v6 ? "[" : "", address_, v6 ? "]" : "", server_->port());
  }

 private:
  std::string address_;
  std::unique_ptr<net::HttpServer> server_;
  std::map<std::string, std::string> presented_;  // token -> path served
  std::mutex mutex_;  // parallel renewals share one listener
};

// What certcli creates in a webroot is read by the web server, usually another user: 0755
// directories and 0644 files whatever the umask (a systemd unit's UMask=0077 would otherwise
// make them 0700 and the CA would get a 404). They hold nothing secret.
constexpr fs::perms kWebrootDirectoryMode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                            fs::perms::others_read | fs::perms::others_exec;
constexpr fs::perms kWebrootFileMode =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;

class HttpWebrootSolver final : public Solver {
 public:
  explicit HttpWebrootSolver(fs::path webroot) : webroot_(std::move(webroot)) { check_webroot(webroot_); }

  std::string challenge_type() const override { return "http-01"; }

  void present(const ChallengeTask& task) override {
    fs::path dir = webroot_ / ".well-known" / "acme-challenge";
    for (const fs::path& level : {webroot_ / ".well-known", dir}) {
      std::error_code ec;
      if (fs::create_directory(level, ec)) fs::permissions(level, kWebrootDirectoryMode, ec);
      if (ec)
        throw Error(ErrorKind::challenge, fmt::format("cannot create {}: {}", level.string(), ec.message()),
                    "make the webroot writable by this user", level.string());
    }
    fs::path file = dir / http01_path(task.token).substr(std::string("/.well-known/acme-challenge/").size());
    {
      std::lock_guard guard(mutex_);
      presented_.emplace(task.token, file);
    }
    try {
      files::write_file_atomic(file, task.key_authorization, kWebrootFileMode);
    } catch (const Error& e) {
      throw Error(ErrorKind::challenge, e.what(), "make the webroot writable by this user", dir.string());
    }
  }

  std::string cleanup(const ChallengeTask& task) noexcept override {
    try {
      std::lock_guard guard(mutex_);
      auto it = presented_.find(task.token);
      if (it == presented_.end()) return {};
      std::error_code ec;
      fs::remove(it->second, ec);
      std::string warning = ec ? "cannot remove " + it->second.string() + ": " + ec.message() : std::string();
      presented_.erase(it);
      return warning;
    } catch (...) {
      // A failing mutex or allocation; a leftover file names a token that is spent.
      return "cannot remove a challenge file from the webroot";
    }
  }

  std::string describe() const override { return fmt::format("http-01 via webroot {}", webroot_.string()); }

 private:
  fs::path webroot_;
  std::map<std::string, fs::path> presented_;  // token -> file written
  std::mutex mutex_;  // parallel renewals share one webroot solver
};

void check_webroot(const fs::path& webroot) {
  std::error_code ec;
  if (webroot.empty() || !fs::is_directory(webroot, ec))
    throw Error(ErrorKind::invalid_input, fmt::format("webroot {} is not a directory", webroot.string()),
                "give the document root your web server serves for this name", webroot.string());
  // The deepest of webroot/.well-known/acme-challenge that exists must take new files.
  fs::path deepest = webroot;
  for (const char* part : {".well-known", "acme-challenge"}) {
    if (!fs::is_directory(deepest / part, ec)) break;
    deepest /= part;
  }
  if (::access(deepest.c_str(), W_OK | X_OK) != 0)
    throw Error(ErrorKind::invalid_input, fmt::format("webroot {}: {} is not writable by this user", webroot.string(),
                                                      deepest.string()),
                "run certcli as a user who may write there, or give that user write access to it",
                deepest.string());
}

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

std::unique_ptr<Solver> make_http_solver(const HttpSettings& settings) {
  if (!settings.webroot.empty()) return make_http_webroot_solver(settings.webroot);
  auto [address, port] = parse_listen_address(settings.listen.empty() ? ":80" : settings.listen);
  return make_http_standalone_solver(address, port);
}

void check_http01_settings(const fs::path& webroot, const std::string& http_listen, bool try_listening) {
  if (!webroot.empty()) {
    check_webroot(webroot);
    return;
  }
  auto [address, port] = parse_listen_address(http_listen.empty() ? ":80" : http_listen);
  // Binding now, and letting go again, finds a busy or forbidden port before the CA is asked
  // for anything; the run binds again once it needs the listener.
  if (try_listening) make_http_standalone_solver(address, port).reset();
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
