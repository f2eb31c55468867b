// Fuzzes the parser of a CA's renewalInfo answer (RFC 9773 4.2). The input is JSON text; what
// parses is read as from a CA on https and from one on plain http. CaMisbehaved (a
// certcli::Error) is the expected answer to a malformed body; any other exception, crash, leak
// or UB is a finding, and so is an accepted window that is empty, an explanation URL of another
// scheme, or a renewal time outside the window.
#include <certcli/acme.hpp>
#include <certcli/clock.hpp>
#include <certcli/error.hpp>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace {

void check(const nlohmann::json& body, const certcli::acme::Sender& sender) {
  certcli::acme::RenewalInfo info;
  try {
    info = certcli::acme::parse_renewal_info(body, sender);
  } catch (const certcli::Error&) {
    return;
  }
  FUZZ_CHECK(info.window_end > info.window_start, "an empty window was accepted: %s",
             certcli::format_rfc3339(info.window_start).c_str());
  FUZZ_CHECK(info.explanation_url.empty() || info.explanation_url.starts_with("https://") ||
                 info.explanation_url.starts_with(sender.url_scheme + "://"),
             "explanationURL of another scheme accepted: %s", info.explanation_url.c_str());
  FUZZ_CHECK(!info.retry_after, "parse_renewal_info set retry_after, which only a header gives");
  for (double fraction : {0.0, 0.5, std::nextafter(1.0, 0.0)}) {
    certcli::TimePoint at = certcli::acme::renewal_time_in_window(info, fraction);
    FUZZ_CHECK(at >= info.window_start && at < info.window_end, "renewal time at fraction %f is outside the window",
               fraction);
    (void)certcli::acme::renewal_window_has_passed(info, at);
  }
  // The times are shown to users and written to state files.
  (void)certcli::format_rfc3339(info.window_start);
  (void)certcli::format_rfc3339(info.window_end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = nlohmann::json::parse(data, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  check(body, certcli::acme::Sender{"the CA at https://ca.test/dir", "https"});
  check(body, certcli::acme::Sender{"the CA at http://ca.test/dir", "http"});
  return 0;
}
