// The parts of the http-01 preflight below name resolution, for http01_preflight and its tests:
// given the addresses, everything else runs against real sockets on loopback.
#pragma once

#include <certcli/challenge.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::challenge {

// The A/AAAA addresses of a host a redirect leads to; throws Error{network} when DNS fails.
using AddressLookup = std::function<std::vector<std::string>(const std::string& host)>;

// http01_preflight once `name`'s addresses are known: presents a probe through `solver`,
// fetches it from `addresses` (IPv6 first, as CAs do), follows redirects (asking `lookup`
// only for hosts other than `name`), classifies what came back, and always cleans up.
PreflightResult preflight_at(Solver& solver, const std::string& name, const std::vector<std::string>& addresses,
                             int port, std::chrono::milliseconds timeout, const AddressLookup& lookup);

// Whether `address` (an IP literal) is one of this host's interface addresses or loopback.
// True when the interfaces cannot be listed: a warning must not come from not knowing.
bool is_address_of_this_host(const std::string& address);

// `text` for a one-line message: quotes, backslashes and non-printable bytes escaped (\n, \xNN),
// cut to at most `limit` characters with "..." marking the cut.
std::string escaped_excerpt(std::string_view text, std::size_t limit);

}  // namespace certcli::challenge
