// JWS construction (RFC 8555 6.2 / RFC 7515 flattened JSON) and Retry-After handling.
#include <certcli/acme.hpp>

#include <algorithm>
#include <ctime>

namespace certcli::acme {

nlohmann::json make_jws(const crypto::PrivateKey& key, const nlohmann::json& protected_header,
                        const std::string& payload) {
  std::string protected_b64 = crypto::base64url_encode(protected_header.dump());
  // POST-as-GET (RFC 8555 6.3) signs an empty payload, which is "" and not "e30".
  std::string payload_b64 = payload.empty() ? std::string() : crypto::base64url_encode(payload);
  std::string signature = crypto::jws_sign(key, protected_b64 + "." + payload_b64);
  return {{"protected", protected_b64}, {"payload", payload_b64}, {"signature", crypto::base64url_encode(signature)}};
}

std::optional<TimePoint> requested_retry_time(const net::HttpResponse& response, TimePoint now) {
  using namespace std::chrono;
  // Past ten digits (over 300 years) the number only says "not in this run"; clamping keeps the
  // arithmetic far from overflow.
  constexpr std::size_t kMostDigits = 10;
  auto value = response.header("retry-after");
  if (!value || value->empty()) return std::nullopt;
  if (std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::string digits = value->substr(std::min(value->find_first_not_of('0'), value->size()));
    if (digits.size() > kMostDigits) digits.assign(kMostDigits, '9');
    return now + seconds{digits.empty() ? 0 : std::stoll(digits)};
  }
  std::tm tm{};
  // RFC 9110 10.2.3 / 5.6.7: IMF-fixdate is the form servers must send; nothing may follow it.
  const char* end = strptime(value->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || end != value->c_str() + value->size()) return std::nullopt;
  // A date in the past means "now"; one past the ten-digit horizon is clamped like the seconds.
  return std::clamp(TimePoint{seconds{timegm(&tm)}}, now, now + seconds{9999999999});
}

}  // namespace certcli::acme
