// Tests for net::HttpClient shared by several threads (parallel renewals share one client): real
// sockets on 127.0.0.1 against a keep-alive HTTP/1.1 server that serves each connection on a
// thread of its own and records how many requests it held at once. Concurrency is asserted from
// what the server saw, never from wall time.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/net.hpp>

#include <catch2/catch.hpp>

#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using certcli::Error;
using certcli::ErrorKind;
using certcli::net::HttpClient;
using certcli::net::HttpClientOptions;
using namespace std::chrono_literals;

namespace {

// Answers GET /N with "answer N" over keep-alive connections, one thread per connection.
// `Hold::for_company`: the first request is answered at once (until its answer, curl does not
// know whether the server multiplexes, and later requests wait for it: CURLOPT_PIPEWAIT); any
// later one once two requests were in flight together (or after 2 s, when the client sends one
// at a time, and from then on at once), so overlapping requests show as max_in_flight() >= 2.
// `Hold::until_destroyed`: no request is answered.
class ConcurrentServer {
 public:
  enum class Hold { none, for_company, until_destroyed };

  explicit ConcurrentServer(Hold hold) : hold_(hold) {
    listen_fd_ = certcli::testing::listen_on_loopback(port_, 64);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~ConcurrentServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    accept_thread_.join();
    for (auto& connection : connections_) connection.join();
    ::close(listen_fd_);
  }

  std::string url(int n) const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(n); }
  int accepted() const { return accepted_; }
  int answered() const { return answered_; }
  int max_in_flight() {
    std::lock_guard lock(mutex_);
    return max_in_flight_;
  }
  int in_flight() {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }

 private:
  void accept_loop() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  bool stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void serve(int fd) {
    std::string buffer;
    while (!stopping()) {
      std::size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        char chunk[4096];
        ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0) break;
        buffer.append(chunk, static_cast<size_t>(got));
        continue;
      }
      // "GET /N HTTP/1.1": the client sends no bodies here.
      std::string path = buffer.substr(4, buffer.find(' ', 4) - 4);
      buffer.erase(0, end + 4);
      if (!answer_after_hold()) break;
      std::string body = "answer " + path.substr(1);
      std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      ++answered_;
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    ::close(fd);
  }

  // Counts the request in flight and waits as `hold_` says; false: the server is stopping.
  bool answer_after_hold() {
    std::unique_lock lock(mutex_);
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
    changed_.notify_all();
    if (hold_ == Hold::for_company && answered_ > 0 && !gave_up_waiting_) {
      if (!changed_.wait_for(lock, 2s, [&] { return stopping_ || max_in_flight_ >= 2; })) gave_up_waiting_ = true;
    } else if (hold_ == Hold::until_destroyed) {
      changed_.wait(lock, [&] { return stopping_; });
    }
    if (stopping_) --in_flight_;
    return !stopping_;
  }

  Hold hold_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> answered_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool gave_up_waiting_ = false;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> connections_;  // only the accept thread adds, before the join
};

HttpClientOptions short_timeouts() {
  HttpClientOptions options;
  options.connect_timeout_seconds = 5;
  options.total_timeout_seconds = 20;
  return options;
}

std::size_t thread_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

}  // namespace

TEST_CASE("HttpClient shared by 8 threads sends 20 GETs that overlap on the wire, each with its own answer") {
  ConcurrentServer server(ConcurrentServer::Hold::for_company);
  HttpClient client(short_timeouts());
  REQUIRE(client.get(server.url(100)).body == "answer 100");  // the server speaks HTTP/1.1
  constexpr int kRequests = 20;
  std::vector<std::string> bodies(kRequests);
  std::vector<long> statuses(kRequests, 0);
  std::atomic<int> next{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int n; (n = next++) < kRequests;) {
        try {
          auto response = client.get(server.url(n));
          statuses[static_cast<size_t>(n)] = response.status;
          bodies[static_cast<size_t>(n)] = response.body;
        } catch (const std::exception& e) {
          std::lock_guard lock(failures_mutex);
          failures.emplace_back(e.what());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  CHECK(failures.empty());
  for (int n = 0; n < kRequests; ++n) {
    CHECK(statuses[static_cast<size_t>(n)] == 200);
    CHECK(bodies[static_cast<size_t>(n)] == "answer " + std::to_string(n));
  }
  CHECK(client.request_count() == kRequests + 1);
  CHECK(server.answered() == kRequests + 1);
  // The server held requests from two connections at once: they were on the wire together.
  CHECK(server.max_in_flight() >= 2);
  // HTTP/1.1 cannot multiplex: overlapping requests need connections of their own, a few at
  // most, each kept alive for later requests; the client counts each one it opened.
  CHECK(server.accepted() >= 2);
  CHECK(server.accepted() <= 8);
  CHECK(client.connection_count() == server.accepted());
}

TEST_CASE("HttpClient reuses one keep-alive connection for requests that threads send one after another") {
  ConcurrentServer server(ConcurrentServer::Hold::none);
  HttpClient client(short_timeouts());
  for (int n = 0; n < 4; ++n) {
    std::thread([&] { CHECK(client.get(server.url(n)).body == "answer " + std::to_string(n)); }).join();
  }
  CHECK(client.request_count() == 4);
  CHECK(client.connection_count() == 1);
  CHECK(server.accepted() == 1);
}

TEST_CASE("HttpClient starts its I/O thread with the first request, not before, and joins it when destroyed") {
  // HttpServer runs on one thread, whatever its clients do, so the count moves by the client's.
  certcli::net::HttpServer server("127.0.0.1", 0, [](const certcli::net::HttpRequest&) {
    return certcli::net::text_response(200, "hello");
  });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  const std::size_t before = thread_count();
  {
    HttpClient client(short_timeouts());
    CHECK(thread_count() == before);  // `certcli --version` and friends start no thread
    CHECK(client.get(url).status == 200);
    CHECK(thread_count() == before + 1);
    CHECK(client.get(url).status == 200);
    CHECK(thread_count() == before + 1);
  }
  CHECK(thread_count() == before);
}

TEST_CASE("Ctrl-C aborts every request of a shared HttpClient in flight, as an interruption") {
  // The stop flag cannot be cleared, so the interrupted client runs in a child process.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 0;
    {
      ConcurrentServer server(ConcurrentServer::Hold::until_destroyed);
      HttpClient client(short_timeouts());
      std::atomic<int> interrupted{0};
      std::vector<std::thread> threads;
      for (int n = 0; n < 3; ++n) {
        threads.emplace_back([&, n] {
          try {
            client.get(server.url(n));
          } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) ++interrupted;
          }
        });
      }
      // Once the server holds a request, the transfers are under way, not just queued.
      for (int waited = 0; server.in_flight() < 1 && waited < 500; ++waited) std::this_thread::sleep_for(10ms);
      if (server.in_flight() < 1) code = 1;
      certcli::request_stop();
      for (auto& thread : threads) thread.join();
      if (code == 0 && interrupted != 3) code = 2;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
