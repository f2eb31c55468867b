// Tests for the http-01 preflight: real sockets on 127.0.0.1 (certcli's HttpServer, the webroot
// solver, and a scripted server of the test's own for what a misconfigured web server answers).
// Names are never resolved here: preflight_at takes the addresses, so the tests stay hermetic.
#include "challenge/http01_preflight.hpp"

#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include <catch2/catch.hpp>

#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

using certcli::Error;
using certcli::ErrorKind;
using namespace certcli::challenge;
namespace fs = std::filesystem;

namespace {

constexpr auto kTimeout = std::chrono::milliseconds{3000};
const std::string kName = "preflight.test";

int listening_socket(int& port) { return certcli::testing::listen_on_loopback(port, 16); }

std::string reply(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "Connection: close\r\n\r\n" + body;
}

std::string redirect(const std::string& location) { return reply(302, "", "Location: " + location + "\r\n"); }

// A web server as misconfigured as a test needs: `answer` gets the request path and returns
// the raw response. One connection at a time, closed after each answer.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(const std::string& path)> answer)
      : answer_(std::move(answer)), fd_(listening_socket(port_)), thread_([this] { serve(); }) {}
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> paths() {
    std::lock_guard lock(mutex_);
    return paths_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::string head;
      char buffer[2048];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
        pollfd in{client, POLLIN, 0};
        if (::poll(&in, 1, 2000) <= 0) break;
        ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        head.append(buffer, static_cast<size_t>(got));
        if (head.front() == '\x16') break;  // a TLS ClientHello: a plain HTTP server answers at once
      }
      auto first = head.find(' ');
      auto second = head.find(' ', first + 1);
      std::string path = first == std::string::npos ? "" : head.substr(first + 1, second - first - 1);
      {
        std::lock_guard lock(mutex_);
        paths_.push_back(path);
      }
      std::string out = answer_(path);
      ::send(client, out.data(), out.size(), MSG_NOSIGNAL);
      ::shutdown(client, SHUT_WR);
      ::close(client);
    }
  }

  std::function<std::string(const std::string&)> answer_;
  int port_ = 0;
  int fd_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> paths_;
  std::thread thread_;
};

// Remembers what the preflight presented, so a scripted server can serve it (or not) and a
// test can see that cleanup() took it away again.
class RecordingSolver final : public Solver {
 public:
  std::string challenge_type() const override { return "http-01"; }
  void present(const ChallengeTask& task) override {
    std::lock_guard lock(mutex_);
    if (!present_error.empty()) throw Error(ErrorKind::challenge, present_error, "a test failure");
    presented.push_back(task);
    live = task;
  }
  std::string cleanup(const ChallengeTask& task) noexcept override {
    std::lock_guard lock(mutex_);
    cleaned.push_back(task);
    live = ChallengeTask{};
    return cleanup_warning;
  }
  std::string describe() const override { return "http-01 in a test"; }

  ChallengeTask current() {
    std::lock_guard lock(mutex_);
    return live;
  }

  std::string present_error;
  std::string cleanup_warning;
  std::vector<ChallengeTask> presented;
  std::vector<ChallengeTask> cleaned;

 private:
  std::mutex mutex_;
  ChallengeTask live;
};

// The standalone pieces: certcli's own HttpServer answering what the preflight presents.
class ListenerSolver final : public Solver {
 public:
  ListenerSolver()
      : server("127.0.0.1", 0, [this](const certcli::net::HttpRequest& request) {
          return answers.answer(request).value_or(certcli::net::text_response(404, "not found\n"));
        }) {}
  std::string challenge_type() const override { return "http-01"; }
  void present(const ChallengeTask& task) override { answers.add(task.token, task.key_authorization); }
  std::string cleanup(const ChallengeTask& task) noexcept override {
    answers.remove(task.token);
    ++cleanups;
    return "";
  }
  std::string describe() const override { return "http-01 on 127.0.0.1:" + std::to_string(server.port()); }

  certcli::challenge::Http01Answers answers;  // before the server, which answers from it
  certcli::net::HttpServer server;
  int cleanups = 0;
};

PreflightResult run(Solver& solver, int port, const AddressLookup& lookup = {}) {
  return preflight_at(solver, kName, {"127.0.0.1"}, port, kTimeout, lookup);
}

std::string base_url(int port) { return "http://" + kName + ":" + std::to_string(port); }

using certcli::testing::TempDir;

}  // namespace

TEST_CASE("the preflight passes when the listener serves the probe at the name's address", "[preflight]") {
  ListenerSolver solver;
  PreflightResult result = run(solver, solver.server.port());
  INFO(result.message << " / " << result.hint);
  CHECK(result.ok());
  CHECK(result.name == kName);
  CHECK(result.url.starts_with(base_url(solver.server.port()) + "/.well-known/acme-challenge/"));
  CHECK(result.message.find(result.url) != std::string::npos);
  CHECK(result.message.find("127.0.0.1") != std::string::npos);
  CHECK(result.warnings.empty());  // loopback is this host
  CHECK(solver.server.hits() == 1);
  CHECK(solver.cleanups == 1);
  // Cleaned up: the probe URL is no longer answered.
  auto again = certcli::net::probe_http(result.url, "127.0.0.1", kTimeout);
  CHECK(again.status == 404);
}

TEST_CASE("each preflight uses a fresh 32-byte base64url probe shaped like a key authorization", "[preflight]") {
  RecordingSolver solver;
  ScriptedServer server([](const std::string&) { return reply(404, "no\n"); });
  run(solver, server.port());
  run(solver, server.port());
  REQUIRE(solver.presented.size() == 2);
  CHECK(solver.presented[0].token.size() == 43);
  CHECK(solver.presented[0].token != solver.presented[1].token);
  CHECK(solver.presented[0].type == "http-01");
  CHECK(solver.presented[0].identifier == kName);
  CHECK(solver.presented[0].key_authorization.starts_with(solver.presented[0].token + "."));
  CHECK(solver.cleaned.size() == 2);
}

TEST_CASE("the preflight through a webroot passes when the web server serves that directory", "[preflight]") {
  TempDir webroot;
  auto solver = make_http_webroot_solver(webroot.path);
  ScriptedServer server([&](const std::string& path) {
    std::ifstream in(webroot.path / path.substr(1));
    if (!in) return reply(404, "");
    std::stringstream body;
    body << in.rdbuf() << "\r\n";  // trailing whitespace is ignored, as RFC 8555 8.3 says
    return reply(200, body.str());
  });
  PreflightResult result = run(*solver, server.port());
  INFO(result.message);
  CHECK(result.ok());
  CHECK(fs::is_empty(webroot.path / ".well-known" / "acme-challenge"));
}

TEST_CASE("a port nothing listens on is refused, with the address in the message", "[preflight]") {
  int port = 0;
  ::close(listening_socket(port));
  RecordingSolver solver;
  PreflightResult result = run(solver, port);
  CHECK(result.cause == PreflightCause::refused);
  CHECK(result.message.find(result.url) != std::string::npos);
  CHECK(result.message.find("127.0.0.1") != std::string::npos);
  CHECK(result.hint.find("nothing listens on " + kName + ":" + std::to_string(port) + " (127.0.0.1)") !=
        std::string::npos);
  CHECK(solver.cleaned.size() == 1);
}

TEST_CASE("a 404 behind a webroot points at the document root", "[preflight]") {
  TempDir webroot;
  auto solver = make_http_webroot_solver(webroot.path);
  ScriptedServer server([](const std::string&) { return reply(404, "<h1>Not Found</h1>"); });
  PreflightResult result = run(*solver, server.port());
  CHECK(result.cause == PreflightCause::not_found);
  CHECK(result.message.find("404") != std::string::npos);
  CHECK(result.hint.find("document root the web server serves for " + kName) != std::string::npos);
  CHECK(fs::is_empty(webroot.path / ".well-known" / "acme-challenge"));
}

TEST_CASE("a 200 with other content says what came back, escaped and cut to 100 characters", "[preflight]") {
  RecordingSolver solver;
  std::string page = "Welcome to nginx!\x01\n" + std::string(200, 'x');
  ScriptedServer server([&](const std::string&) { return reply(200, page); });
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::wrong_content);
  CHECK(result.message.find("\"Welcome to nginx!\\x01\\n") != std::string::npos);
  CHECK(result.message.find("...") != std::string::npos);
  CHECK(result.message.find(std::string(100, 'x')) == std::string::npos);
}

TEST_CASE("leading whitespace in the body is wrong content, trailing whitespace is not", "[preflight]") {
  RecordingSolver solver;
  std::string prefix;
  ScriptedServer server([&](const std::string&) { return reply(200, prefix + solver.current().key_authorization + " \n"); });
  CHECK(run(solver, server.port()).ok());
  prefix = " ";
  CHECK(run(solver, server.port()).cause == PreflightCause::wrong_content);
}

TEST_CASE("a status other than 200 or 404 is an http error with the status", "[preflight]") {
  RecordingSolver solver;
  ScriptedServer server([](const std::string&) { return reply(403, "Forbidden"); });
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::http_error);
  CHECK(result.message.find("403") != std::string::npos);
  CHECK(result.hint.find("refuses access") != std::string::npos);
}

TEST_CASE("redirects are followed like a CA follows them, relative ones included", "[preflight]") {
  RecordingSolver solver;
  ScriptedServer server([&](const std::string& path) {
    if (path.starts_with("/moved/")) return reply(200, solver.current().key_authorization);
    return redirect("/moved" + path);
  });
  PreflightResult result = run(solver, server.port());
  INFO(result.message);
  CHECK(result.ok());
  CHECK(result.message.find("redirected from " + result.url) != std::string::npos);
}

TEST_CASE("a redirect back to a URL already fetched is a loop", "[preflight]") {
  RecordingSolver solver;
  ScriptedServer server([](const std::string& path) {
    return redirect(path.starts_with("/b") ? "/.well-known/acme-challenge/" + path.substr(2) : "/b" + path.substr(28));
  });
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::redirect_loop);
  CHECK(result.message.find("loop") != std::string::npos);
  CHECK(server.paths().size() == 2);
}

TEST_CASE("ten redirects are followed and the eleventh is a loop", "[preflight]") {
  RecordingSolver solver;
  int hops_before_content = 10;
  ScriptedServer server([&](const std::string& path) {
    int hop = path.starts_with("/hop") ? std::stoi(path.substr(4)) : 0;
    if (hop == hops_before_content) return reply(200, solver.current().key_authorization);
    return redirect("/hop" + std::to_string(hop + 1));
  });
  CHECK(run(solver, server.port()).ok());
  hops_before_content = 11;
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::redirect_loop);
  CHECK(result.message.find("more than 10 redirects") != std::string::npos);
}

TEST_CASE("a redirect to https that has no TLS there fails as https", "[preflight]") {
  RecordingSolver solver;
  int port = 0;
  ScriptedServer server([&](const std::string& path) {
    return redirect("https://" + kName + ":" + std::to_string(port) + path);
  });
  port = server.port();
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::https_failed);
  CHECK(result.message.find("https://" + kName) != std::string::npos);
  CHECK(result.hint.find("TLS") != std::string::npos);
}

TEST_CASE("a redirect to a port or scheme the CA does not follow is an http error", "[preflight]") {
  RecordingSolver solver;
  std::string target = "http://" + kName + ":8081/x";
  ScriptedServer server([&](const std::string&) { return redirect(target); });
  CHECK(run(solver, server.port()).cause == PreflightCause::http_error);
  target = "ftp://" + kName + "/x";
  PreflightResult result = run(solver, server.port());
  CHECK(result.cause == PreflightCause::http_error);
  CHECK(result.message.find("ftp://") != std::string::npos);
}

TEST_CASE("a redirect to another host asks for that host's addresses", "[preflight]") {
  RecordingSolver solver;
  int port = 0;
  ScriptedServer server([&](const std::string& path) {
    if (path.starts_with("/there")) return reply(200, solver.current().key_authorization);
    return redirect("http://www.preflight.test:" + std::to_string(port) + "/there");
  });
  port = server.port();
  std::vector<std::string> asked;
  std::vector<std::string> answer;
  AddressLookup lookup = [&](const std::string& host) {
    asked.push_back(host);
    return answer;
  };
  PreflightResult result = run(solver, port, lookup);
  CHECK(result.cause == PreflightCause::no_address);
  CHECK(result.hint.find("www.preflight.test") != std::string::npos);
  answer = {"127.0.0.1"};
  CHECK(run(solver, port, lookup).ok());
  CHECK(asked == std::vector<std::string>{"www.preflight.test", "www.preflight.test"});
}

TEST_CASE("IPv6 is tried first, and IPv4 only when IPv6 cannot be reached, with a warning", "[preflight]") {
  RecordingSolver solver;
  ScriptedServer server([&](const std::string&) { return reply(200, solver.current().key_authorization); });
  // The scripted server listens on 127.0.0.1 only: [::1] refuses (or IPv6 is absent).
  PreflightResult result = preflight_at(solver, kName, {"127.0.0.1", "::1"}, server.port(), kTimeout, {});
  INFO(result.message);
  CHECK(result.ok());
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0].find("IPv6 at ::1") != std::string::npos);
}

TEST_CASE("a name without addresses is no-address with the record to create", "[preflight]") {
  RecordingSolver solver;
  PreflightResult result = preflight_at(solver, kName, {}, 80, kTimeout, {});
  CHECK(result.cause == PreflightCause::no_address);
  CHECK(result.hint == "create an A or AAAA record for " + kName + " pointing at this host");
  CHECK(result.url.starts_with("http://" + kName + "/.well-known/acme-challenge/"));  // no :80
}

TEST_CASE("a probe that cannot be presented throws, and is still cleaned up", "[preflight]") {
  RecordingSolver solver;
  solver.present_error = "the webroot is full";
  CHECK_THROWS_AS(run(solver, 1), Error);
  CHECK(solver.cleaned.size() == 1);
}

TEST_CASE("what cleanup could not remove becomes a warning", "[preflight]") {
  RecordingSolver solver;
  solver.cleanup_warning = "could not remove the probe file";
  ScriptedServer server([](const std::string&) { return reply(404, ""); });
  PreflightResult result = run(solver, server.port());
  CHECK(std::find(result.warnings.begin(), result.warnings.end(), "could not remove the probe file") !=
        result.warnings.end());
}

TEST_CASE("an address of another host is only a warning, loopback is this host", "[preflight]") {
  CHECK(is_address_of_this_host("127.0.0.1"));
  CHECK(is_address_of_this_host("127.0.1.1"));
  CHECK(is_address_of_this_host("::1"));
  CHECK_FALSE(is_address_of_this_host("192.0.2.7"));     // TEST-NET-1, on no interface
  CHECK_FALSE(is_address_of_this_host("2001:db8::7"));  // documentation prefix
}

TEST_CASE("excerpts escape control bytes and quotes and stop at the limit", "[preflight]") {
  CHECK(escaped_excerpt("a\"b\\c\n\x7f", 100) == "a\\\"b\\\\c\\n\\x7f");
  CHECK(escaped_excerpt(std::string(150, 'y'), 100) == std::string(100, 'y') + "...");
  CHECK(escaped_excerpt("abc\x01", 4) == "abc...");  // an escape is never cut in half
}

TEST_CASE("preflight causes have stable kebab-case names", "[preflight]") {
  CHECK(to_string(PreflightCause::ok) == "ok");
  CHECK(to_string(PreflightCause::no_address) == "no-address");
  CHECK(to_string(PreflightCause::timed_out) == "timed-out");
  CHECK(to_string(PreflightCause::not_found) == "not-found");
  CHECK(to_string(PreflightCause::wrong_content) == "wrong-content");
  CHECK(to_string(PreflightCause::http_error) == "http-error");
  CHECK(to_string(PreflightCause::redirect_loop) == "redirect-loop");
  CHECK(to_string(PreflightCause::https_failed) == "https-failed");
}

TEST_CASE("a server that accepts but never answers times out", "[preflight]") {
  int port = 0;
  int fd = listening_socket(port);  // the kernel completes the handshake; nobody reads
  RecordingSolver solver;
  PreflightResult result = preflight_at(solver, kName, {"127.0.0.1"}, port, std::chrono::milliseconds{300}, {});
  ::close(fd);
  CHECK(result.cause == PreflightCause::timed_out);
  CHECK(result.message.find("300 ms") != std::string::npos);
  CHECK(solver.cleaned.size() == 1);
}
