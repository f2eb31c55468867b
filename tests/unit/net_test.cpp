// Tests for certcli::net: HttpClient against HttpServer and a scripted keep-alive server, all on
// 127.0.0.1 with ports picked by the kernel.
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include <catch2/catch.hpp>

#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using certcli::Error;
using certcli::ErrorKind;
using certcli::net::HttpClient;
using certcli::net::HttpClientOptions;
using certcli::net::HttpResponse;
using certcli::net::HttpServer;

namespace {

std::string url(int port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

int listening_socket(int& port) { return certcli::testing::listen_on_loopback(port, 8); }

int closed_port() {
  int port = 0;
  ::close(listening_socket(port));
  return port;
}

int connect_raw(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t got;
  while ((got = ::recv(fd, buffer, sizeof buffer, 0)) > 0) out.append(buffer, static_cast<size_t>(got));
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A fixed table of paths, the way the http-01 listener answers: 200 with the body of a path
// set, 404 for any other. The query string is not part of the path.
class PathTable {
 public:
  void set(const std::string& path, const std::string& body) {
    std::lock_guard lock(mutex_);
    bodies_[path] = body;
  }
  void remove(const std::string& path) {
    std::lock_guard lock(mutex_);
    bodies_.erase(path);
  }
  certcli::net::HttpHandler handler() {
    return [this](const certcli::net::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      auto it = bodies_.find(request.path);
      return it == bodies_.end() ? certcli::net::text_response(404, "not found\n")
                                 : certcli::net::text_response(200, it->second);
    };
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> bodies_;
};

certcli::net::HttpResponse not_found(const certcli::net::HttpRequest&) {
  return certcli::net::text_response(404, "not found\n");
}

// Unlike HttpServer, this one keeps connections open (HTTP/1.1 keep-alive): it answers each
// request with the next scripted raw response, recording each request and each accept.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    listen_fd_ = listening_socket(port_);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    std::size_t next = 0;
    while (next < replies_.size()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;  // bounded, so a failing test cannot hang the join
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted_;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      std::string buffer;
      while (next < replies_.size() && read_request(fd, buffer)) {
        ::send(fd, replies_[next].data(), replies_[next].size(), MSG_NOSIGNAL);
        ++next;
      }
      ::close(fd);
    }
  }

  bool read_request(int fd, std::string& buffer) {
    auto fill = [&] {
      char chunk[4096];
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(got));
      return true;
    };
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    std::string head = buffer.substr(0, end + 4);
    std::size_t length = 0;
    if (auto at = lower(head).find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::stoul(head.substr(at + 17));
    }
    while (buffer.size() < head.size() + length) {
      if (!fill()) return false;
    }
    std::lock_guard lock(mutex_);
    requests_.push_back(buffer.substr(0, head.size() + length));
    buffer.erase(0, head.size() + length);
    return true;
  }

  std::vector<std::string> replies_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string ok_reply(const std::string& body, const std::string& extra_headers = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
         "\r\n" + body;
}

}  // namespace

TEST_CASE("HttpResponse header lookup is case-insensitive and returns repeated values in order") {
  HttpResponse response;
  response.headers = {{"link", "<a>;rel=\"up\""}, {"content-type", "application/json"},
                      {"Link", "<b>;rel=\"index\""}};
  CHECK(response.header("Content-Type") == std::optional<std::string>("application/json"));
  CHECK(response.header("LINK") == std::optional<std::string>("<a>;rel=\"up\""));
  CHECK(response.header_values("link") == std::vector<std::string>{"<a>;rel=\"up\"", "<b>;rel=\"index\""});
  CHECK_FALSE(response.header("location").has_value());
  CHECK(response.header_values("location").empty());
}

TEST_CASE("HttpServer on port 0 serves a registered path to HttpClient::get with 200 and the exact body") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  REQUIRE(server.port() > 0);
  const std::string body = "token123.thumbprint-_abc";
  paths.set("/.well-known/acme-challenge/token123", body);
  HttpClient client;
  HttpResponse response = client.get(url(server.port(), "/.well-known/acme-challenge/token123"));
  CHECK(response.status == 200);
  CHECK(response.body == body);
  CHECK(response.header("content-type") == std::optional<std::string>("text/plain"));
  CHECK(response.header("content-length") == std::optional<std::string>(std::to_string(body.size())));
  CHECK(server.hits() == 1);
}

TEST_CASE("HttpServer answers 404 for a path that was never registered") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/known", "x");
  HttpClient client;
  CHECK(client.get(url(server.port(), "/unknown")).status == 404);
  CHECK(client.get(url(server.port(), "/known/")).status == 404);
  CHECK(server.hits() == 0);
}

TEST_CASE("HttpServer answers 404 for a path after it is removed") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "x");
  HttpClient client;
  CHECK(client.get(url(server.port(), "/p")).status == 200);
  paths.remove("/p");
  CHECK(client.get(url(server.port(), "/p")).status == 404);
  CHECK(server.hits() == 1);
}

TEST_CASE("HttpServer answers HEAD with 200 and the content length but no body") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "hello");
  HttpClient client;
  HttpResponse response = client.head(url(server.port(), "/p"));
  CHECK(response.status == 200);
  CHECK(response.body.empty());
  CHECK(response.header("content-length") == std::optional<std::string>("5"));
  // The handle must be back to GET afterwards.
  CHECK(client.get(url(server.port(), "/p")).body == "hello");
}

TEST_CASE("HttpServer ignores the query string when matching the path") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "hello");
  HttpClient client;
  HttpResponse response = client.get(url(server.port(), "/p?x=1"));
  CHECK(response.status == 200);
  CHECK(response.body == "hello");
}

TEST_CASE("HttpServer answers 405 with Allow to methods other than GET and HEAD") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "hello");
  HttpClient client;
  HttpResponse response = client.post(url(server.port(), "/p"), "text/plain", "body");
  CHECK(response.status == 405);
  CHECK(response.header("allow") == std::optional<std::string>("GET, HEAD"));
  CHECK(server.hits() == 0);
}

TEST_CASE("HttpClient opens one connection per request to HttpServer because it closes each connection") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "x");
  HttpClient client;
  for (int i = 0; i < 3; ++i) CHECK(client.get(url(server.port(), "/p")).status == 200);
  CHECK(client.request_count() == 3);
  CHECK(client.connection_count() == 3);
  CHECK(server.hits() == 3);
}

TEST_CASE("HttpClient reuses one connection for consecutive requests to a keep-alive server") {
  ScriptedServer server({ok_reply("one"), ok_reply("two"), ok_reply("three")});
  HttpClientOptions options;
  options.total_timeout_seconds = 5;
  HttpClient client(options);
  CHECK(client.get(url(server.port(), "/1")).body == "one");
  CHECK(client.get(url(server.port(), "/2")).body == "two");
  CHECK(client.get(url(server.port(), "/3")).body == "three");
  CHECK(client.request_count() == 3);
  CHECK(client.connection_count() == 1);
  CHECK(server.accepted() == 1);
}

TEST_CASE("HttpClient resets the method and headers between POST, HEAD and GET") {
  ScriptedServer server({ok_reply("posted"), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", ok_reply("got")});
  HttpClientOptions options;
  options.total_timeout_seconds = 5;
  options.user_agent = "certcli-test/1";
  HttpClient client(options);
  // Longer than 1 KiB, where older libcurl would otherwise wait for "100 Continue".
  const std::string body(3000, 'j');
  HttpResponse posted = client.post(url(server.port(), "/new"), "application/jose+json", body);
  CHECK(posted.body == "posted");
  CHECK(client.head(url(server.port(), "/h")).body.empty());
  CHECK(client.get(url(server.port(), "/g")).body == "got");

  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].starts_with("POST /new HTTP/1.1\r\n"));
  CHECK(lower(requests[0]).find("\r\ncontent-type: application/jose+json\r\n") != std::string::npos);
  CHECK(lower(requests[0]).find("expect:") == std::string::npos);
  CHECK(requests[0].ends_with("\r\n\r\n" + body));
  CHECK(requests[0].find("User-Agent: certcli-test/1\r\n") != std::string::npos);
  CHECK(requests[1].starts_with("HEAD /h HTTP/1.1\r\n"));
  CHECK(requests[2].starts_with("GET /g HTTP/1.1\r\n"));
  CHECK(lower(requests[2]).find("content-type") == std::string::npos);
  CHECK(client.connection_count() == 1);
}

TEST_CASE("HttpClient lowercases header names, trims values and drops an interim response's headers") {
  ScriptedServer server({"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" +
                         ok_reply("{}", "Replay-Nonce:   abc  \r\nLink: <a>;rel=\"up\"\r\nLINK: <b>;rel=\"index\"\r\n"
                                        "Location: https://ca.example/acct/1\r\n")});
  HttpClientOptions options;
  options.total_timeout_seconds = 5;
  HttpClient client(options);
  HttpResponse response = client.get(url(server.port(), "/"));
  CHECK(response.status == 200);
  CHECK(response.body == "{}");
  CHECK_FALSE(response.header("x-interim").has_value());
  CHECK(response.header("replay-nonce") == std::optional<std::string>("abc"));
  CHECK(response.header_values("Link") == std::vector<std::string>{"<a>;rel=\"up\"", "<b>;rel=\"index\""});
  CHECK(response.header("location") == std::optional<std::string>("https://ca.example/acct/1"));
  for (const auto& [name, value] : response.headers) CHECK(name == lower(name));
}

TEST_CASE("HttpClient throws a network Error naming the URL when nothing listens on the port") {
  const std::string target = url(closed_port(), "/directory");
  HttpClient client;
  try {
    client.get(target);
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find(target) != std::string::npos);
    CHECK(e.subject() == target);
    CHECK(e.hint().find("CA is reachable") != std::string::npos);
  }
  CHECK(client.request_count() == 1);
}

TEST_CASE("HttpClient still works after a failed request") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "fine");
  HttpClient client;
  CHECK_THROWS_AS(client.post(url(closed_port(), "/"), "text/plain", "x"), Error);
  CHECK(client.get(url(server.port(), "/p")).body == "fine");
}

TEST_CASE("HttpClient throws a network Error when the server never answers within the timeout") {
  int port = 0;
  int fd = listening_socket(port);  // the kernel completes the handshake; nobody ever replies
  HttpClientOptions options;
  options.total_timeout_seconds = 1;
  HttpClient client(options);
  try {
    client.get(url(port, "/slow"));
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find(url(port, "/slow")) != std::string::npos);
    CHECK(e.hint().find("did not answer in time") != std::string::npos);
  }
  ::close(fd);
}

TEST_CASE("HttpClient gives a --ca-bundle hint when the TLS handshake fails") {
  // A peer that answers the ClientHello with plain HTTP, so the handshake fails at once.
  int port = 0;
  int listen_fd = listening_socket(port);
  std::thread peer([listen_fd] {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) return;
    const std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    read_all(fd);
    ::close(fd);
  });
  HttpClientOptions options;
  options.total_timeout_seconds = 5;
  HttpClient client(options);
  const std::string target = "https://127.0.0.1:" + std::to_string(port) + "/";
  try {
    client.get(target);
    FAIL("expected an Error");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == ErrorKind::network);
    CHECK(std::string(e.what()).find(target) != std::string::npos);
    CHECK(e.hint().find("--ca-bundle") != std::string::npos);
  }
  peer.join();
  ::close(listen_fd);
}

TEST_CASE("HttpClient throws invalid_input naming the file when the CA bundle does not exist") {
  HttpClientOptions options;
  options.ca_bundle = "/nonexistent/certcli-test/ca.pem";
  try {
    HttpClient client(options);
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK(std::string(e.what()).find(options.ca_bundle) != std::string::npos);
    CHECK(e.subject() == options.ca_bundle);
  }
}

TEST_CASE("a busy port is a challenge that cannot be presented, with a hint naming the port") {
  HttpServer first("127.0.0.1", 0, not_found);
  try {
    HttpServer second("127.0.0.1", first.port(), not_found);
    FAIL("expected an Error");
  } catch (const Error& e) {
    const std::string port = std::to_string(first.port());
    CHECK(e.kind() == ErrorKind::challenge);  // exit 8, not 6: the CA was never the problem
    CHECK(std::string(e.what()).find("127.0.0.1:" + port) != std::string::npos);
    CHECK(e.hint().find("another program is already listening on port " + port) != std::string::npos);
  }
}

TEST_CASE("HttpServer rejects an address that is not an IP literal") {
  CHECK_THROWS_MATCHES(HttpServer("localhost", 0, not_found), Error,
                       Catch::Matchers::Predicate<Error>(
                           [](const Error& e) { return e.kind() == ErrorKind::invalid_input; }));
}

TEST_CASE("HttpServer answers 431 to a request head larger than 8 KiB") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  int fd = connect_raw(server.port());
  std::string request = "GET /" + std::string(8192 - 5, 'a');  // exactly the limit, no end of head
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  CHECK(read_all(fd).starts_with("HTTP/1.1 431 "));
  ::close(fd);
}

TEST_CASE("HttpServer still answers others while a connected client sends nothing") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/p", "x");
  int silent = connect_raw(server.port());
  HttpClientOptions options;
  options.total_timeout_seconds = 15;
  HttpClient client(options);
  auto start = std::chrono::steady_clock::now();
  CHECK(client.get(url(server.port(), "/p")).status == 200);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(read_all(silent).starts_with("HTTP/1.1 408 "));
  ::close(silent);
}

TEST_CASE("HttpServer's destructor returns promptly while a client is connected but silent") {
  auto server = std::make_unique<HttpServer>("127.0.0.1", 0, not_found);
  int silent = connect_raw(server->port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the server pick it up
  auto start = std::chrono::steady_clock::now();
  server.reset();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  ::close(silent);
}

TEST_CASE("HttpClient cuts off a response body larger than any ACME resource") {
  PathTable paths;
  HttpServer server("127.0.0.1", 0, paths.handler());
  paths.set("/big", std::string(5 << 20, 'x'));
  paths.set("/fits", std::string(1 << 20, 'y'));
  HttpClient client;
  CHECK(client.get(url(server.port(), "/fits")).body.size() == (1u << 20));
  try {
    client.get(url(server.port(), "/big"));
    FAIL("a 5 MiB body was accepted");
  } catch (const certcli::Error& e) {
    CHECK(e.kind() == certcli::ErrorKind::network);
    CHECK_THAT(e.hint(), Catch::Contains("larger than 4 MiB"));
  }
}
