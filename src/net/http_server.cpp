// The http-01 listener. One thread, one connection at a time: a CA validates each token a few
// times at most, so concurrency buys nothing, but every wait is bounded so one silent or slow
// peer cannot stop the CA's own requests from being answered.
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

namespace certcli::net {
namespace {

constexpr std::size_t kMaxRequestHead = 8 * 1024;
constexpr std::chrono::milliseconds kReadTimeout{5000};
constexpr long kSendTimeoutSeconds = 5;
constexpr std::chrono::milliseconds kLinger{1000};
constexpr std::size_t kMaxLingerBytes = 64 * 1024;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// strerror is not guaranteed thread-safe; std::system_category's message is.
std::string errno_text(int err) { return std::error_code(err, std::system_category()).message(); }

std::string endpoint(const std::string& address, int port) {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// A listener that cannot start means the challenge cannot be presented (exit 8), with a hint
// for the cause: a busy port, a privileged one, an address this host does not have.
[[noreturn]] void throw_listen_error(const std::string& address, int port, int err) {
  std::string where = endpoint(address, port);
  std::string p = std::to_string(port);
  std::string hint;
  if (err == EADDRINUSE)
    hint = "another program is already listening on port " + p + " (`ss -ltnp 'sport = :" + p +
           "'` shows which): stop it for the run, or let that web server serve the challenge from its document root";
  else if (err == EACCES || err == EPERM)
    hint = "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (for a systemd unit: "
           "AmbientCapabilities=CAP_NET_BIND_SERVICE)";
  else if (err == EADDRNOTAVAIL)
    hint = "the address " + address + " is not one of this host's; listen on one it has, or on all of them";
  else
    hint = "check the listen address and port";
  throw Error(ErrorKind::challenge, "cannot listen on " + where + ": " + errno_text(err), hint, where);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a peer that hung up must not kill the process with SIGPIPE.
    ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return false;  // includes EAGAIN from SO_SNDTIMEO: give up on a peer that does not read
    }
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

void respond(int fd, int status, std::string_view reason, std::string_view body, bool with_body,
             std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: text/plain\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  if (with_body) out += body;
  send_all(fd, out);
}

// The path of a request target: origin-form "/p?q" or absolute-form "http://host/p?q".
// No percent-decoding: http-01 tokens are base64url, so the CA sends them verbatim.
std::string_view target_path(std::string_view target) {
  if (auto scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
    auto slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return target.substr(0, target.find_first_of("?#"));
}

// Closing a socket that still has unread request bytes (a POST body, a too-long head) makes
// the kernel send a reset, which can destroy our answer before the client reads it. So stop
// writing, then read and discard until the client closes, for at most a moment.
void linger_close(int fd, int wake_fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + kLinger;
  std::size_t discarded = 0;
  while (discarded < kMaxLingerBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) break;
    char buffer[4096];
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    discarded += static_cast<std::size_t>(got);
  }
  ::close(fd);
}

}  // namespace

HttpServer::HttpServer(const std::string& address, int port) {
  if (port < 0 || port > 65535) {
    throw Error(ErrorKind::invalid_input, "port " + std::to_string(port) + " is out of range",
                "use a port between 1 and 65535", std::to_string(port));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    throw Error(ErrorKind::invalid_input,
                "cannot listen on " + endpoint(address, port) + ": not an IP address (" +
                    ::gai_strerror(rc) + ")",
                "give an IPv4 or IPv6 address literal such as 0.0.0.0 or ::", address);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);

  try {
    // Non-blocking so that accept() after poll() cannot hang if the peer already went away.
    listen_fd_ = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          found->ai_protocol);
    if (listen_fd_ < 0) throw_listen_error(address, port, errno);
    int one = 1;
    // Lets a rerun bind right away while the previous run's connections sit in TIME_WAIT.
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (found->ai_family == AF_INET6) {
      // "::" means every address: take IPv4 too, whatever net.ipv6.bindv6only says.
      int zero = 0;
      ::setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(listen_fd_, found->ai_addr, found->ai_addrlen) != 0 || ::listen(listen_fd_, 16) != 0) {
      throw_listen_error(address, port, errno);
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
      throw_listen_error(address, port, errno);
    }
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

    // The self-pipe lets the destructor interrupt poll() without signals or timeouts.
    if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw Error(ErrorKind::internal, "cannot create a pipe: " + errno_text(errno));
    }
    thread_ = std::thread(&HttpServer::serve, this);
  } catch (...) {
    close_fd(listen_fd_);
    close_fd(wake_fds_[0]);
    close_fd(wake_fds_[1]);
    throw;
  }
}

HttpServer::~HttpServer() {
  if (wake_fds_[1] >= 0) {
    char byte = 1;
    while (::write(wake_fds_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  if (thread_.joinable()) thread_.join();
  close_fd(listen_fd_);
  close_fd(wake_fds_[0]);
  close_fd(wake_fds_[1]);
}

void HttpServer::set_response(const std::string& path, const std::string& body) {
  std::lock_guard lock(mutex_);
  responses_[path] = body;
}

void HttpServer::remove_response(const std::string& path) {
  std::lock_guard lock(mutex_);
  responses_.erase(path);
}

void HttpServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int ready = ::poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;

    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: back off instead of spinning, but still notice shutdown.
      pollfd wake = {wake_fds_[0], POLLIN, 0};
      if (::poll(&wake, 1, 100) > 0) return;
      continue;
    }
    try {
      handle(client);
    } catch (...) {
      // A failure on one connection (e.g. bad_alloc) must not end the server for the next one.
    }
    linger_close(client, wake_fds_[0]);
  }
}

void HttpServer::handle(int client_fd) {
  timeval send_timeout{kSendTimeoutSeconds, 0};
  ::setsockopt(client_fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);

  std::string head;
  std::size_t head_end = std::string::npos;
  auto deadline = std::chrono::steady_clock::now() + kReadTimeout;
  while ((head_end = head.find("\r\n\r\n")) == std::string::npos &&
         (head_end = head.find("\n\n")) == std::string::npos) {
    if (head.size() >= kMaxRequestHead) {
      respond(client_fd, 431, "Request Header Fields Too Large", "request head too large\n", true);
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      respond(client_fd, 408, "Request Timeout", "request timeout\n", true);
      return;
    }
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    if (fds[1].revents != 0) return;  // shutting down
    char buffer[2048];
    std::size_t room = std::min(sizeof buffer, kMaxRequestHead - head.size());
    ssize_t got = ::recv(client_fd, buffer, room, 0);
    if (got == 0) return;
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    head.append(buffer, static_cast<std::size_t>(got));
  }

  std::string_view line(head.data(), head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto first_space = line.find(' ');
  auto second_space = first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || second_space == first_space + 1 ||
      !line.substr(second_space + 1).starts_with("HTTP/")) {
    respond(client_fd, 400, "Bad Request", "bad request\n", true);
    return;
  }
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  bool is_head = method == "HEAD";
  if (method != "GET" && !is_head) {
    respond(client_fd, 405, "Method Not Allowed", "method not allowed\n", true, "Allow: GET, HEAD\r\n");
    return;
  }

  std::optional<std::string> body;
  {
    std::lock_guard lock(mutex_);
    if (auto it = responses_.find(std::string(target_path(target))); it != responses_.end()) {
      body = it->second;
    }
  }
  if (!body) {
    respond(client_fd, 404, "Not Found", "not found\n", !is_head);
    return;
  }
  ++hits_;
  respond(client_fd, 200, "OK", *body, !is_head);
}

}  // namespace certcli::net
