// A TCP socket listening on 127.0.0.1 at a port the kernel picks, for the unit tests that play
// a server of their own (a CA, a web server). Tests listen on loopback only.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace certcli::testing {

// The listening descriptor (close-on-exec); `port` receives its port.
inline int listen_on_loopback(int& port, int backlog = 8) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, backlog) == 0);
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace certcli::testing
