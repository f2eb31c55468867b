// One TLS handshake to see the chain a server serves (certcli/tls_probe.hpp). The socket is
// connected here (non-blocking, so the timeout holds) and handed to OpenSSL; verification is
// off on purpose: an untrusted or expired chain is exactly what an operator pinning keys must
// be able to look at.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/tls_probe.hpp>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace certcli::net {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using AddrInfoPtr = std::unique_ptr<addrinfo, Deleter<freeaddrinfo>>;

// Move-only: a copy would close the descriptor twice (the first time when the original dies).
struct Socket {
  int fd = -1;
  Socket() = default;
  Socket(Socket&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_ip_address(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::string openssl_errors() {
  std::string text;
  for (unsigned long code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

Error unreachable(const TlsTarget& target, const std::string& why) {
  return Error(ErrorKind::network, fmt::format("cannot reach {}:{} over TLS: {}", target.host, target.port, why),
               "check the host name, the port and that a TLS server listens there", target.host);
}

// Waits for `events` on `fd`, a tenth of a second at a time so that Ctrl-C is heard.
bool wait_for(int fd, short events, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    throw_if_stop_requested();
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, 100);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
  return false;
}

// A connected socket to the first address of `target` that answers within `timeout`.
Socket connect_to(const TlsTarget& target, std::chrono::seconds timeout, std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found);
  if (rc != 0) throw unreachable(target, ::gai_strerror(rc));
  AddrInfoPtr list(found);
  std::string last_error = "no address";
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Socket s;
    s.fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s.fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      if (!wait_for(s.fd, POLLOUT, timeout)) {
        last_error = fmt::format("no connection within {} s", timeout.count());
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last_error = std::strerror(err);
        continue;
      }
    }
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = ai->ai_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr);
    ::inet_ntop(ai->ai_family, raw, text, sizeof text);
    address = text;
    return s;
  }
  throw unreachable(target, last_error);
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw Error(ErrorKind::crypto, "cannot encode a served certificate");
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace

TlsTarget parse_tls_target(std::string_view text, int default_port, const char* option) {
  TlsTarget target;
  target.port = default_port;
  std::string host(text);
  std::string port;
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::usage, fmt::format("{} '{}': {}", option, text, why),
                 "give HOST or HOST:PORT (an IPv6 address in brackets: [2001:db8::1]:443)");
  };
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string::npos) throw bad("the '[' has no ']'");
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') throw bad("expected ':' after ']'");
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) throw bad("no host");
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
      throw bad(fmt::format("'{}' is not allowed in a host", c));
  if (!port.empty() || (text.size() > 0 && text.back() == ':')) {
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) throw bad("the port is not a number from 1 to 65535");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) throw bad("the port is not a number from 1 to 65535");
    target.port = value;
  }
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host.size() > 1 && host.back() == '.') host.pop_back();
  target.host = host;
  return target;
}

ServedChain fetch_served_chain(const TlsTarget& target, std::chrono::seconds timeout) {
  ServedChain served;
  Socket socket = connect_to(target, timeout, served.address);
  // Blocking from here on, each read and write bounded by the timeout.
  ::fcntl(socket.fd, F_SETFL, ::fcntl(socket.fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw Error(ErrorKind::crypto, "cannot make a TLS context: " + openssl_errors());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), socket.fd) != 1) throw Error(ErrorKind::crypto, "cannot start TLS: " + openssl_errors());
  std::string sni = !target.server_name.empty() ? target.server_name : is_ip_address(target.host) ? "" : target.host;
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1)
    throw Error(ErrorKind::usage, fmt::format("'{}' cannot be sent as a server name (SNI)", sni));
  if (SSL_connect(ssl.get()) != 1) {
    std::string why = openssl_errors();
    if (why.empty()) why = errno == EAGAIN || errno == EWOULDBLOCK ? fmt::format("no handshake within {} s", timeout.count())
                                                                   : std::string("the connection was closed during the handshake");
    throw unreachable(target, "the TLS handshake failed: " + why);
  }
  served.protocol = SSL_get_version(ssl.get());
  // On the client side the peer chain includes the leaf (SSL_get_peer_cert_chain(3)).
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) served.certificates.push_back(pem_of(sk_X509_value(chain, i)));
  if (served.certificates.empty()) throw unreachable(target, "the server sent no certificate");
  SSL_shutdown(ssl.get());
  return served;
}

}  // namespace certcli::net
