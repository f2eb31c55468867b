// Fuzzes the parsers of ACME resources a CA sends: orders, authorizations and problem
// documents (RFC 8555 7.1, RFC 7807). The input is JSON text; whatever parses is fed to all
// three. certcli::Error is the expected answer to a malformed resource; any other exception,
// crash, leak or UB is a finding.
#include <certcli/acme.hpp>
#include <certcli/error.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The raw bytes as a Link header value (alternate chains, RFC 8555 7.4.2).
  try {
    (void)certcli::acme::parse_alternate_links({std::string(reinterpret_cast<const char*>(data), size)});
  } catch (const certcli::Error&) {
  }
  auto body = nlohmann::json::parse(data, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;

  try {
    certcli::acme::Order order = certcli::acme::parse_order(body, "https://ca.test/order/1");
    if (order.error) (void)order.error->describe();
  } catch (const certcli::Error&) {
  }
  try {
    certcli::acme::Authorization authz = certcli::acme::parse_authorization(body, "https://ca.test/authz/1");
    for (const auto& challenge : authz.challenges)
      if (challenge.error) (void)challenge.error->describe();
  } catch (const certcli::Error&) {
  }
  try {
    certcli::acme::Problem problem = certcli::acme::Problem::from_json(body, 400);
    (void)problem.short_type();
    (void)problem.describe();
    // What the client throws for it: the message embeds describe().
    certcli::acme::AcmeError error(problem, "fuzz", "hint");
    (void)error.what();
  } catch (const certcli::Error&) {
  }
  return 0;
}
