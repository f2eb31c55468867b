// certcli/tls_probe.hpp — what a TLS server serves: one handshake with SNI, the certificate
// chain exactly as sent (leaf first), and nothing else. Part of net/ (the only module that opens
// sockets). Verifies nothing itself: pinning needs to see what is served, trusted or not; the
// caller judges the chain (crypto::verify_chain).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::net {

struct TlsTarget {
  std::string host;  // a name or an IP address (no brackets)
  int port = 443;
  // Sent as SNI; empty: the host when it is a name (RFC 6066 section 3 forbids an IP address).
  std::string server_name;
};
// "HOST", "HOST:PORT", "[v6]" or "[v6]:PORT". Throws Error{usage} naming `option`.
TlsTarget parse_tls_target(std::string_view text, int default_port, const char* option);

struct ServedChain {
  std::vector<std::string> certificates;  // PEM, in the order the server sent them
  std::string protocol;                   // "TLSv1.3"
  std::string address;                    // the address connected to
};
// Connects (within `timeout`, for the connection and again for the handshake), shakes hands
// and returns the served chain. Throws Error{network} when the host cannot be reached or the
// handshake fails, Error{interrupted} on a stop request.
ServedChain fetch_served_chain(const TlsTarget& target, std::chrono::seconds timeout);

}  // namespace certcli::net
