// Tests for certcli's HTTP server (net::HttpServer) with real sockets on 127.0.0.1, and for the
// pure parsing of a request head behind it. The timing checks have a wide margin: they tell a
// server that answers at once from one that waits for another client's 5 s head deadline.
#include "net/http_message.hpp"

#include <certcli/challenge.hpp>
#include <certcli/net.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using certcli::net::HttpClient;
using certcli::net::HttpClientOptions;
using certcli::net::HttpRequest;
using certcli::net::HttpResponse;
using certcli::net::HttpServer;
using certcli::net::HttpServerLimits;
using certcli::net::text_response;
using namespace std::chrono_literals;

namespace {

HttpResponse hello(const HttpRequest&) { return text_response(200, "hello"); }

// A connection from `source` (any 127.x.y.z is this host) to the server's port.
int connect_from(int port, const char* source = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, source, &local.sin_addr) == 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  remote.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void send_text(int fd, const std::string& text) {
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t got;
  while ((got = ::recv(fd, buffer, sizeof buffer, 0)) > 0) out.append(buffer, static_cast<size_t>(got));
  return out;
}

// Whether the server has closed its end (EOF or a reset) within `wait`; a connection the server
// still holds shows nothing at all.
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char byte;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

std::string url(int port, const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

HttpClient quick_client() {
  HttpClientOptions options;
  options.total_timeout_seconds = 15;
  return HttpClient(options);
}

}  // namespace

TEST_CASE("clients trickling their request heads do not delay another client's request") {
  HttpServer server("127.0.0.1", 0, hello);
  // Three clients sending one byte every 100 ms, as the slowloris clients of issue #24 did.
  std::atomic<bool> stop{false};
  std::vector<int> slow;
  for (int i = 0; i < 3; ++i) slow.push_back(connect_from(server.port()));
  std::thread trickle([&] {
    const std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    for (std::size_t i = 0; !stop; ++i) {
      for (int fd : slow) ::send(fd, &request[i % request.size()], 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(300ms);  // the trickle has started on every connection

  HttpClient client = quick_client();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) CHECK(client.get(url(server.port(), "/p")).status == 200);
  // One at a time, each of the three would have held the server until its 5 s deadline.
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(server.hits() == 5);

  stop = true;
  trickle.join();
  for (int fd : slow) ::close(fd);
}

TEST_CASE("a request head sent one byte at a time is answered once it is complete") {
  HttpServer server("127.0.0.1", 0, hello);
  int fd = connect_from(server.port());
  for (char c : std::string("GET /p HTTP/1.1\r\nHost: x\r\n\r\n")) {
    send_text(fd, std::string(1, c));
    std::this_thread::sleep_for(10ms);
  }
  CHECK(read_all(fd).starts_with("HTTP/1.1 200 OK\r\n"));
  ::close(fd);
}

TEST_CASE("a client that never completes its head gets 408 at the head deadline, and not before") {
  HttpServerLimits limits;
  limits.head_timeout = 500ms;
  HttpServer server("127.0.0.1", 0, hello, limits);
  int fd = connect_from(server.port());
  send_text(fd, "GET /p HTTP/1.1\r\n");
  auto start = std::chrono::steady_clock::now();
  CHECK(read_all(fd).starts_with("HTTP/1.1 408 "));
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 400ms);
  CHECK(waited < 3s);
  ::close(fd);
}

TEST_CASE("a request head over the size limit gets 431, one within it is answered") {
  HttpServerLimits limits;
  limits.max_head_bytes = 1024;
  HttpServer server("127.0.0.1", 0, hello, limits);

  int big = connect_from(server.port());
  send_text(big, "GET /p HTTP/1.1\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n");
  CHECK(read_all(big).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  ::close(big);

  int fits = connect_from(server.port());
  send_text(fits, "GET /p HTTP/1.1\r\nX-Fits: " + std::string(900, 'f') + "\r\n\r\n");
  CHECK(read_all(fits).starts_with("HTTP/1.1 200 OK\r\n"));
  ::close(fits);
  CHECK(server.hits() == 1);
}

TEST_CASE("a client at its connection cap loses its oldest connection to its newest, which is served") {
  HttpServerLimits limits;
  limits.max_connections_per_client = 3;
  HttpServer server("127.0.0.1", 0, hello, limits);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connect_from(server.port()));
    send_text(held.back(), "G");  // started a head, as a slow client does
    std::this_thread::sleep_for(50ms);  // accepted in this order
  }
  for (int fd : held) CHECK_FALSE(closed_by_server(fd, 100ms));

  int fresh = connect_from(server.port());
  send_text(fresh, "GET /p HTTP/1.1\r\n\r\n");
  CHECK(read_all(fresh).starts_with("HTTP/1.1 200 OK\r\n"));
  ::close(fresh);
  CHECK(closed_by_server(held[0], 2000ms));
  CHECK_FALSE(closed_by_server(held[1], 100ms));
  CHECK_FALSE(closed_by_server(held[2], 100ms));

  // Another address has a cap of its own: its connections push out none of 127.0.0.1's.
  std::vector<int> other;
  for (int i = 0; i < 3; ++i) other.push_back(connect_from(server.port(), "127.0.0.2"));
  std::this_thread::sleep_for(200ms);
  CHECK_FALSE(closed_by_server(held[1], 100ms));
  CHECK_FALSE(closed_by_server(held[2], 100ms));
  for (int fd : other) CHECK_FALSE(closed_by_server(fd, 50ms));

  for (int fd : held) ::close(fd);
  for (int fd : other) ::close(fd);
}

TEST_CASE("a full server makes room by closing the oldest connection of the client holding the most") {
  HttpServerLimits limits;
  limits.max_connections = 4;
  limits.max_connections_per_client = 3;
  HttpServer server("127.0.0.1", 0, hello, limits);
  std::vector<int> hog;
  for (int i = 0; i < 3; ++i) {
    hog.push_back(connect_from(server.port()));
    std::this_thread::sleep_for(50ms);
  }
  int other = connect_from(server.port(), "127.0.0.2");
  std::this_thread::sleep_for(100ms);

  int fresh = connect_from(server.port(), "127.0.0.2");  // the server is full: four are open
  send_text(fresh, "GET /p HTTP/1.1\r\n\r\n");
  CHECK(read_all(fresh).starts_with("HTTP/1.1 200 OK\r\n"));
  ::close(fresh);
  CHECK(closed_by_server(hog[0], 2000ms));
  CHECK_FALSE(closed_by_server(hog[1], 100ms));
  CHECK_FALSE(closed_by_server(other, 100ms));

  for (int fd : hog) ::close(fd);
  ::close(other);
}

TEST_CASE("the handler gets the method, path, query, headers and peer of a request") {
  std::mutex mutex;
  HttpRequest seen;
  HttpServer server("127.0.0.1", 0, [&](const HttpRequest& request) {
    std::lock_guard lock(mutex);
    seen = request;
    HttpResponse response = text_response(200, "{}");
    response.headers = {{"Content-Type", "application/json"}, {"X-Served-By", "certcli"}};
    return response;
  });
  int fd = connect_from(server.port());
  send_text(fd, "GET /allowed?domain=example.com HTTP/1.1\r\nHost: h.example\r\nX-Forwarded-For:  192.0.2.7 \r\n\r\n");
  std::string reply = read_all(fd);
  ::close(fd);
  CHECK(reply.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(reply.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(reply.find("text/plain") == std::string::npos);
  CHECK(reply.find("\r\nX-Served-By: certcli\r\n") != std::string::npos);
  CHECK(reply.find("\r\nContent-Length: 2\r\n") != std::string::npos);
  CHECK(reply.ends_with("\r\n\r\n{}"));

  std::lock_guard lock(mutex);
  CHECK(seen.method == "GET");
  CHECK(seen.target == "/allowed?domain=example.com");
  CHECK(seen.path == "/allowed");
  CHECK(seen.query == "domain=example.com");
  CHECK(seen.header("host") == std::optional<std::string>("h.example"));
  CHECK(seen.header("X-FORWARDED-FOR") == std::optional<std::string>("192.0.2.7"));
  CHECK(seen.peer == "127.0.0.1");
}

TEST_CASE("a handler that throws costs its request a 500, not the server") {
  std::atomic<int> calls{0};
  HttpServer server("127.0.0.1", 0, [&](const HttpRequest& request) {
    if (calls++ == 0) throw std::runtime_error("bug in " + request.path);
    return text_response(200, "fine");
  });
  HttpClient client = quick_client();
  CHECK(client.get(url(server.port(), "/a")).status == 500);
  CHECK(client.get(url(server.port(), "/b")).body == "fine");
}

TEST_CASE("the server answers a malformed request line or header 400 without calling the handler") {
  std::atomic<int> calls{0};
  HttpServer server("127.0.0.1", 0, [&](const HttpRequest&) {
    ++calls;
    return text_response(200, "x");
  });
  for (const std::string& head : {std::string("GET\r\n\r\n"), std::string("GET /p FTP/1.0\r\n\r\n"),
                                   std::string("GET /p HTTP/1.1\r\nno colon here\r\n\r\n"),
                                   std::string("GET /p HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n")}) {
    int fd = connect_from(server.port());
    send_text(fd, head);
    CHECK(read_all(fd).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    ::close(fd);
  }
  CHECK(calls == 0);
}

TEST_CASE("the server's destructor returns promptly with connections in every phase") {
  auto server = std::make_unique<HttpServer>("127.0.0.1", 0, hello);
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    fds.push_back(connect_from(server->port()));
    if (i % 2 == 0) send_text(fds.back(), "GET /p HTTP/1.1\r\n\r\n");  // answered, then draining
  }
  std::this_thread::sleep_for(100ms);
  auto start = std::chrono::steady_clock::now();
  server.reset();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  for (int fd : fds) ::close(fd);
}

TEST_CASE("http-01 answers: 200 for a token added, 404 for another token, no answer for other paths") {
  certcli::challenge::Http01Answers answers;
  answers.add("tok-1_A", "tok-1_A.thumb");
  HttpRequest request;
  request.method = "GET";
  request.path = "/.well-known/acme-challenge/tok-1_A";
  auto answered = answers.answer(request);
  REQUIRE(answered.has_value());
  CHECK(answered->status == 200);
  CHECK(answered->body == "tok-1_A.thumb");
  request.path = "/.well-known/acme-challenge/other";
  CHECK(answers.answer(request)->status == 404);
  request.path = "/healthz";
  CHECK_FALSE(answers.answer(request).has_value());
  answers.remove("tok-1_A");
  request.path = "/.well-known/acme-challenge/tok-1_A";
  CHECK(answers.answer(request)->status == 404);
}

TEST_CASE("a request head ends at the first blank line, also when the terminator arrives split") {
  using certcli::net::wire::head_end;
  CHECK(head_end("GET / HTTP/1.1\r\nHost: x\r\n") == std::string::npos);
  CHECK(head_end("GET / HTTP/1.1\r\n\r\nbody") == 18);
  CHECK(head_end("GET / HTTP/1.1\n\n") == 16);
  std::string data = "GET / HTTP/1.1\r\n\r";
  std::size_t searched = data.size();
  data += "\n";
  CHECK(head_end(data, searched) == data.size());
}

TEST_CASE("parsing a request head: absolute form, fragment, lowercased names, 405 for other methods") {
  using certcli::net::wire::parse_request_head;
  auto parsed = parse_request_head("GET http://example.com/a/b?x=1#frag HTTP/1.1\r\nHOST: example.com\r\n\r\n", "192.0.2.1");
  CHECK(parsed.status == 0);
  CHECK(parsed.request.path == "/a/b");
  CHECK(parsed.request.query == "x=1");
  REQUIRE(parsed.request.headers.size() == 1);
  CHECK(parsed.request.headers[0].first == "host");
  CHECK(parsed.request.peer == "192.0.2.1");

  auto post = parse_request_head("POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\n", "x");
  CHECK(post.status == 405);
  CHECK(post.allow == "GET, HEAD");
  CHECK(parse_request_head("GET * HTTP/1.1\r\n\r\n", "x").status == 400);
  CHECK(parse_request_head("GET /p HTTP/1.1\r\nHost : x\r\n\r\n", "x").status == 400);  // space before the colon
  CHECK(parse_request_head("GET /\x1b[2J HTTP/1.1\r\n\r\n", "x").status == 400);     // a control in the target
}

TEST_CASE("a response's framing is the server's: a handler cannot set its length or add lines") {
  HttpResponse response = text_response(200, "abc");
  response.headers.emplace_back("Content-Length", "999");
  response.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: x=1");
  std::string bytes = certcli::net::wire::render_response(response, true);
  CHECK(bytes.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(bytes.find("999") == std::string::npos);
  CHECK(bytes.find("Set-Cookie") == std::string::npos);
  CHECK(certcli::net::wire::render_response(response, false).ends_with("\r\n\r\n"));
}
