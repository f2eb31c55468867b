// Fuzzes the Retry-After rule (RFC 9110 10.2.3): whatever a CA puts in the header, certcli must
// wait between 1 s and 1 h, or fall back to its own backoff.
#include <certcli/acme.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include "fuzz_check.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace std::chrono;
  certcli::net::HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("retry-after", std::string(reinterpret_cast<const char*>(data), size));

  // 2026-01-01T00:00:00Z; the fallback lies outside [1 s, 1 h] so it cannot be mistaken for a
  // clamped value.
  const certcli::TimePoint now{seconds{1767225600}};
  const milliseconds fallback{250};
  milliseconds wait{};
  try {
    wait = certcli::acme::retry_after(response, now, fallback);
  } catch (const certcli::Error&) {
    return 0;
  }
  FUZZ_CHECK(wait == fallback || (wait >= seconds{1} && wait <= hours{1}),
             "retry_after('%s') = %lld ms, outside [1 s, 1 h] and not the fallback",
             response.headers.front().second.c_str(), static_cast<long long>(wait.count()));
  return 0;
}
