// Fuzzes the Retry-After rule (RFC 9110 10.2.3): whatever a CA puts in the header, the time it
// asks for lies between now and the ten-digit horizon, or the header is ignored.
#include <certcli/acme.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include "fuzz_check.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace std::chrono;
  certcli::net::HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("retry-after", std::string(reinterpret_cast<const char*>(data), size));

  const certcli::TimePoint now{seconds{1767225600}};  // 2026-01-01T00:00:00Z
  std::optional<certcli::TimePoint> asked;
  try {
    asked = certcli::acme::requested_retry_time(response, now);
  } catch (const certcli::Error&) {
    return 0;
  }
  if (!asked) return 0;
  // The time must also print: the message that tells the user when to come back shows it.
  FUZZ_CHECK(*asked >= now && *asked <= now + seconds{9999999999},
             "requested_retry_time('%s') = %lld s, out of range", response.headers.front().second.c_str(),
             static_cast<long long>(asked->time_since_epoch().count()));
  (void)certcli::format_rfc3339(*asked);
  return 0;
}
