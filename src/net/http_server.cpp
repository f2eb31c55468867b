// certcli's HTTP server: one thread, one poll() loop over non-blocking sockets. Every
// connection is a small state machine (head -> response -> polite close) with its own
// deadline, so a request is answered as soon as its head is complete, however many other
// clients trickle bytes or hold connections open (issue #24: three clients sending one byte a
// second used to make the CA's validation time out). Connections are capped in all and per
// client, and a new connection over a cap pushes out an old one rather than being refused: a
// CA's validation request is new, a flood's connections are old.
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include "net/http_message.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

namespace certcli::net {
namespace {

using Clock = std::chrono::steady_clock;

// After the answer, how long and how much a client's leftover bytes are read and discarded.
constexpr std::chrono::milliseconds kLinger{1000};
constexpr std::size_t kMaxLingerBytes = 64 * 1024;
// At most this many accepts per wake-up, so a burst of connections cannot starve the ones
// already open.
constexpr int kAcceptBurst = 64;
// Out of descriptors: how long to stop accepting before trying again.
constexpr std::chrono::milliseconds kAcceptPause{100};

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

}  // namespace

HttpServer::HttpServer(const std::string& address, int port, HttpHandler handler, HttpServerLimits limits,
                       HttpObserver observer)
    : handler_(std::move(handler)), limits_(limits), observer_(std::move(observer)) {
  // Caps of zero would drop every connection on arrival.
  limits_.max_connections = std::max<std::size_t>(limits_.max_connections, 1);
  limits_.max_connections_per_client = std::max<std::size_t>(limits_.max_connections_per_client, 1);
  limits_.max_head_bytes = std::max<std::size_t>(limits_.max_head_bytes, 64);
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
    // SOMAXCONN (4096 on current Linux): connections that arrive while the loop is busy wait in
    // the kernel instead of being refused; the loop drains them at once.
    if (::bind(listen_fd_, found->ai_addr, found->ai_addrlen) != 0 || ::listen(listen_fd_, SOMAXCONN) != 0) {
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

namespace {

struct Connection {
  enum class Phase { reading_head, writing, draining };

  int fd = -1;
  std::string peer;        // the client's address, as handlers and logs see it
  std::string client_key;  // what the per-client cap counts: the address, or its IPv6 /64
  Clock::time_point accepted;
  Clock::time_point deadline;
  Phase phase = Phase::reading_head;
  std::string head;  // bytes of the request head received so far
  std::string out;   // the response, from `sent` on still to send
  std::size_t sent = 0;
  std::size_t discarded = 0;

  bool open() const { return fd >= 0; }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// The peer's address as text, and the key its connections are counted under. An IPv4 client
// of a dual-stack listener arrives as ::ffff:a.b.c.d and is shown and counted as a.b.c.d; an
// IPv6 client is counted by its /64, which one host usually has whole.
std::pair<std::string, std::string> describe_peer(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    return {text, text};
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      ::inet_ntop(AF_INET, &v6.sin6_addr.s6_addr[12], text, sizeof text);
      return {text, text};
    }
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    in6_addr prefix = v6.sin6_addr;
    std::fill(prefix.s6_addr + 8, prefix.s6_addr + 16, 0);
    char prefix_text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &prefix, prefix_text, sizeof prefix_text);
    return {text, std::string(prefix_text) + "/64"};
  }
  return {"unknown", "unknown"};
}

// Which connection makes room for a new one from `client_key`: when that client is at its
// cap, its own oldest; when the server is full, the oldest of the client holding the most.
// A connection still sending its head goes first (that is where slow clients sit); one being
// answered only when there is no other.
Connection* connection_to_drop(std::vector<Connection>& connections, const std::string& client_key,
                               const HttpServerLimits& limits) {
  std::map<std::string, std::size_t> per_client;
  std::size_t total = 0;
  for (const Connection& c : connections) {
    if (!c.open()) continue;
    ++per_client[c.client_key];
    ++total;
  }
  std::string victim_key;
  if (per_client[client_key] >= limits.max_connections_per_client) {
    victim_key = client_key;
  } else if (total >= limits.max_connections) {
    victim_key = std::max_element(per_client.begin(), per_client.end(), [](const auto& a, const auto& b) {
                   return a.second < b.second;
                 })->first;
  } else {
    return nullptr;
  }
  Connection* victim = nullptr;
  for (Connection& c : connections) {
    if (!c.open() || c.client_key != victim_key) continue;
    bool slower = c.phase == Connection::Phase::reading_head &&
                  (victim == nullptr || victim->phase != Connection::Phase::reading_head);
    bool same_phase_older = victim != nullptr && (c.phase == Connection::Phase::reading_head) ==
                                                     (victim->phase == Connection::Phase::reading_head) &&
                            c.accepted < victim->accepted;
    if (victim == nullptr || slower || same_phase_older) victim = &c;
  }
  return victim;
}

// Queues the response and moves the connection on to sending it.
void start_response(Connection& c, std::string bytes, const HttpServerLimits& limits) {
  c.out = std::move(bytes);
  c.sent = 0;
  c.head.clear();
  c.head.shrink_to_fit();
  c.phase = Connection::Phase::writing;
  c.deadline = Clock::now() + limits.send_timeout;
}

// Returns the body's size, for the observer.
std::size_t respond_error(Connection& c, long status, const HttpServerLimits& limits, const std::string& allow = {}) {
  HttpResponse response = text_response(status, std::string(wire::reason_phrase(status)) + "\n");
  if (!allow.empty()) response.headers.emplace_back("Allow", allow);
  start_response(c, wire::render_response(response, true), limits);
  return response.body.size();
}

// Closing a socket that still has unread request bytes (a body, a too-long head) makes the
// kernel send a reset, which can destroy our answer before the client reads it. So after the
// answer, stop writing and read and discard until the client closes, for a moment at most.
void start_draining(Connection& c) {
  ::shutdown(c.fd, SHUT_WR);
  c.out.clear();
  c.out.shrink_to_fit();
  c.phase = Connection::Phase::draining;
  c.deadline = Clock::now() + kLinger;
}

void send_some(Connection& c) {
  while (c.sent < c.out.size()) {
    // MSG_NOSIGNAL: a peer that hung up must not kill the process with SIGPIPE.
    ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.close();
      return;
    }
    c.sent += static_cast<std::size_t>(n);
  }
  start_draining(c);
}

void drain_some(Connection& c) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      c.close();
      return;
    }
    c.discarded += static_cast<std::size_t>(n);
    if (c.discarded >= kMaxLingerBytes) {
      c.close();
      return;
    }
  }
}

}  // namespace

void HttpServer::serve() {
  std::vector<Connection> connections;
  std::optional<Clock::time_point> accepting_again;  // set while out of descriptors

  auto observe = [this](HttpRequest request, const std::string& peer, long status, std::size_t bytes) {
    if (!observer_) return;
    request.peer = peer;
    try {
      observer_(request, status, bytes);
    } catch (...) {
      // A log line that could not be written costs nothing else.
    }
  };

  auto answer = [this, &observe](Connection& c, std::size_t end) {
    wire::ParsedHead parsed = wire::parse_request_head(std::string_view(c.head).substr(0, end), c.peer);
    if (parsed.status != 0) {
      observe(parsed.request, c.peer, parsed.status, respond_error(c, parsed.status, limits_, parsed.allow));
      return;
    }
    HttpResponse response;
    try {
      response = handler_(parsed.request);
    } catch (...) {
      // A failing handler (bad_alloc, a bug) costs this request, never the server.
      response = text_response(500, "internal error\n");
    }
    if (response.status >= 200 && response.status < 300) ++hits_;
    bool with_body = parsed.request.method != "HEAD";
    observe(parsed.request, c.peer, response.status, with_body ? response.body.size() : 0);
    start_response(c, wire::render_response(response, with_body), limits_);
  };

  auto read_head = [this, &answer, &observe](Connection& c) {
    char buffer[4096];
    for (;;) {
      std::size_t room = std::min(sizeof buffer, limits_.max_head_bytes - c.head.size());
      ssize_t n = ::recv(c.fd, buffer, room, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // gone before the head was complete: nobody to answer
        c.close();
        return;
      }
      std::size_t searched = c.head.size();
      c.head.append(buffer, static_cast<std::size_t>(n));
      if (std::size_t end = wire::head_end(c.head, searched); end != std::string::npos) {
        answer(c, end);
        send_some(c);
        return;
      }
      if (c.head.size() >= limits_.max_head_bytes) {
        observe({}, c.peer, 431, respond_error(c, 431, limits_));
        send_some(c);
        return;
      }
    }
  };

  auto accept_new = [this, &connections, &accepting_again] {
    for (int i = 0; i < kAcceptBurst; ++i) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          accepting_again = Clock::now() + kAcceptPause;  // back off instead of spinning
        return;
      }
      Connection c;
      c.fd = fd;
      std::tie(c.peer, c.client_key) = describe_peer(address);
      c.accepted = Clock::now();
      c.deadline = c.accepted + limits_.head_timeout;
      if (Connection* victim = connection_to_drop(connections, c.client_key, limits_)) victim->close();
      connections.push_back(std::move(c));
    }
  };

  std::vector<pollfd> fds;
  for (;;) {
    auto now = Clock::now();
    if (accepting_again && now >= *accepting_again) accepting_again.reset();

    // Deadlines first: a head not complete in time gets 408; a response not taken, or a
    // client that does not close after it, is cut off.
    for (Connection& c : connections) {
      if (!c.open() || now < c.deadline) continue;
      if (c.phase == Connection::Phase::reading_head) {
        observe({}, c.peer, 408, respond_error(c, 408, limits_));
        send_some(c);
      } else {
        c.close();
      }
    }
    std::erase_if(connections, [](const Connection& c) { return !c.open(); });

    fds.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    fds.push_back({accepting_again ? -1 : listen_fd_, POLLIN, 0});  // a negative fd is skipped
    Clock::time_point wake_at = accepting_again.value_or(Clock::time_point::max());
    for (const Connection& c : connections) {
      fds.push_back({c.fd, static_cast<short>(c.phase == Connection::Phase::writing ? POLLOUT : POLLIN), 0});
      wake_at = std::min(wake_at, c.deadline);
    }
    int timeout = -1;
    if (wake_at != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(wake_at - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }

    int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;  // the destructor asks us to stop

    // Existing connections before new ones: the index into `fds` stays valid only while
    // `connections` does not grow.
    for (std::size_t i = 0; i < connections.size(); ++i) {
      Connection& c = connections[i];
      if (fds[i + 2].revents == 0 || !c.open()) continue;
      try {
        switch (c.phase) {
          case Connection::Phase::reading_head: read_head(c); break;
          case Connection::Phase::writing: send_some(c); break;
          case Connection::Phase::draining: drain_some(c); break;
        }
      } catch (...) {
        c.close();  // bad_alloc on one connection must not end the server for the others
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      try {
        accept_new();
      } catch (...) {
      }
    }
  }
  for (Connection& c : connections) c.close();
}

}  // namespace certcli::net
