// http-01 solvers (RFC 8555 8.3): certcli's own listener, or files in a web server's webroot.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/net.hpp>

#include "challenge/published_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
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
      : address_(address),
        server_(std::make_unique<net::HttpServer>(address, port, [this](const net::HttpRequest& request) {
          return answers_.answer(request).value_or(net::text_response(404, "not found\n"));
        })) {}

  std::string challenge_type() const override { return "http-01"; }
  void present(const ChallengeTask& task) override {
    http01_path(task.token);  // refuses a token that is not base64url before it is served
    std::lock_guard guard(mutex_);
    presented_.insert(task.token);
    answers_.add(task.token, task.key_authorization);
  }
  std::string cleanup(const ChallengeTask& task) noexcept override {
    try {
      std::lock_guard guard(mutex_);
      if (presented_.erase(task.token) == 0) return {};
      answers_.remove(task.token);
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
  std::set<std::string> presented_;  // tokens present() added
  std::mutex mutex_;                 // parallel renewals share one listener
  Http01Answers answers_;
  // Last, so that it is destroyed first: its thread calls into answers_ until then.
  std::unique_ptr<net::HttpServer> server_;
};

// What certcli creates in a webroot is read by the web server, usually another user: 0755
// directories and 0644 files whatever the umask (a systemd unit's UMask=0077 would otherwise
// make them 0700 and the CA would get a 404). They hold nothing secret.
constexpr fs::perms kWebrootDirectoryMode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                            fs::perms::others_read | fs::perms::others_exec;
constexpr fs::perms kWebrootFileMode =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;

// What certcli may trust under a webroot: a directory owned by root or by the user certcli runs
// as. One owned by the web user (or anyone else) can be swapped for a link between two steps,
// so it is refused rather than written into.
void require_trusted_owner(int fd, const fs::path& shown) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw Error(ErrorKind::challenge, fmt::format("cannot inspect {}: {}", shown.string(), std::strerror(errno)),
                "make the webroot readable by this user", shown.string());
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    const passwd* owner = ::getpwuid(st.st_uid);
    throw Error(ErrorKind::challenge,
                fmt::format("{} belongs to {} (uid {}), who could redirect what certcli writes there", shown.string(),
                            owner ? owner->pw_name : std::to_string(st.st_uid), st.st_uid),
                fmt::format("make it this user's or root's (chown {} {}), or remove it and let certcli create it",
                            ::geteuid(), shown.string()),
                shown.string());
  }
}

// <webroot>/.well-known/acme-challenge, walked from the webroot's descriptor one level at a time
// with O_NOFOLLOW (a link planted by the web user is refused, never followed) and created 0755
// where missing. The webroot's own path is the operator's and is opened as given.
files::UniqueFd open_challenge_directory(const fs::path& webroot) {
  files::UniqueFd dir(::open(webroot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir)
    throw Error(ErrorKind::challenge, fmt::format("cannot open the webroot {}: {}", webroot.string(), std::strerror(errno)),
                "give the document root your web server serves for this name", webroot.string());
  fs::path shown = webroot;
  for (const char* part : {".well-known", "acme-challenge"}) {
    shown /= part;
    files::UniqueFd next;
    try {
      next = files::open_directory_at(dir.get(), part, shown, static_cast<mode_t>(kWebrootDirectoryMode));
    } catch (const Error& e) {
      throw Error(ErrorKind::challenge, e.what(),
                  "certcli writes only <webroot>/.well-known/acme-challenge/<token>, never through a link: make both "
                  "plain directories (or remove them and let certcli create them)",
                  shown.string());
    }
    require_trusted_owner(next.get(), shown);
    dir = std::move(next);
  }
  return dir;
}

class HttpWebrootSolver final : public Solver {
 public:
  explicit HttpWebrootSolver(fs::path webroot) : webroot_(std::move(webroot)) { check_webroot(webroot_); }

  std::string challenge_type() const override { return "http-01"; }

  void present(const ChallengeTask& task) override {
    const fs::path dir_shown = webroot_ / ".well-known" / "acme-challenge";
    const std::string name = http01_path(task.token).substr(std::string("/.well-known/acme-challenge/").size());
    files::UniqueFd dir = open_challenge_directory(webroot_);
    try {
      published_.publish(task.token, std::move(dir), name, dir_shown / name, task.key_authorization, kWebrootFileMode);
    } catch (const Error& e) {
      throw Error(ErrorKind::challenge, e.what(), "make the webroot writable by this user", dir_shown.string());
    }
  }

  std::string cleanup(const ChallengeTask& task) noexcept override {
    return published_.withdraw(task.token, "a challenge file from the webroot");
  }

  std::string describe() const override { return fmt::format("http-01 via webroot {}", webroot_.string()); }

 private:
  fs::path webroot_;
  PublishedFiles published_;  // .well-known/acme-challenge/<token>, as written
};

void check_webroot(const fs::path& webroot) {
  std::error_code ec;
  if (webroot.empty() || !fs::is_directory(webroot, ec))
    throw Error(ErrorKind::invalid_input, fmt::format("webroot {} is not a directory", webroot.string()),
                "give the document root your web server serves for this name", webroot.string());
  // The deepest of webroot/.well-known/acme-challenge that exists must take new files; a link or
  // a foreign owner on the way is refused here already, before anything is ordered (present
  // checks again on descriptors).
  fs::path deepest = webroot;
  for (const char* part : {".well-known", "acme-challenge"}) {
    fs::file_status status = fs::symlink_status(deepest / part, ec);
    if (fs::is_symlink(status))
      throw Error(ErrorKind::invalid_input,
                  fmt::format("webroot {}: {} is a symbolic link; certcli does not follow links in a webroot",
                              webroot.string(), (deepest / part).string()),
                  "make it a plain directory (or remove it and let certcli create it); the link's target was not "
                  "touched",
                  (deepest / part).string());
    if (!fs::is_directory(status)) break;
    deepest /= part;
    struct stat st {};
    if (::stat(deepest.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != ::geteuid()) {
      const passwd* owner = ::getpwuid(st.st_uid);
      throw Error(ErrorKind::invalid_input,
                  fmt::format("webroot {}: {} belongs to {} (uid {}), who could redirect what certcli writes there",
                              webroot.string(), deepest.string(), owner ? owner->pw_name : std::to_string(st.st_uid),
                              st.st_uid),
                  fmt::format("make it this user's or root's (chown {} {}), or remove it and let certcli create it",
                              ::geteuid(), deepest.string()),
                  deepest.string());
    }
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

void Http01Answers::add(const std::string& token, const std::string& key_authorization) {
  std::lock_guard guard(mutex_);
  by_token_[token] = key_authorization;
}

void Http01Answers::remove(const std::string& token) {
  std::lock_guard guard(mutex_);
  by_token_.erase(token);
}

std::optional<net::HttpResponse> Http01Answers::answer(const net::HttpRequest& request) const {
  static constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
  if (!request.path.starts_with(kPrefix)) return std::nullopt;
  // The path is matched as sent, not percent-decoded: tokens are base64url, which a CA sends
  // verbatim, so an encoded path can only be something else.
  std::string token = request.path.substr(kPrefix.size());
  std::lock_guard guard(mutex_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return net::text_response(404, "not found\n");
  return net::text_response(200, it->second);
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

std::unique_ptr<Solver> make_http_solver(const HttpSettings& settings, const fs::path& serve_directory) {
  if (!settings.webroot.empty()) return make_http_webroot_solver(settings.webroot);
  if (settings.serve) {
    if (serve_directory.empty())
      throw Error(ErrorKind::invalid_input, "http-01 through certcli serve needs the state directory",
                  "answer http-01 with certcli's own listener or a webroot here");
    return make_http_serve_solver(serve_directory);
  }
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
