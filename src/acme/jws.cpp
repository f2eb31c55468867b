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

std::chrono::milliseconds retry_after(const net::HttpResponse& response, TimePoint now,
                                      std::chrono::milliseconds fallback) {
  using namespace std::chrono;
  // A CA may ask for long waits, but never more than an hour within one poll loop; past that
  // the caller's own timeout is the better judge.
  constexpr milliseconds kLongest = hours{1};
  constexpr milliseconds kShortest = seconds{1};
  auto value = response.header("retry-after");
  if (!value || value->empty()) return fallback;
  if (std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::string digits = value->substr(std::min(value->find_first_not_of('0'), value->size()));
    if (digits.size() > 6) return kLongest;
    return std::clamp<milliseconds>(seconds{digits.empty() ? 0 : std::stol(digits)}, kShortest, kLongest);
  }
  std::tm tm{};
  // RFC 9110 10.2.3 / 5.6.7: IMF-fixdate is the form servers must send; nothing may follow it.
  const char* end = strptime(value->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || end != value->c_str() + value->size()) return fallback;
  auto when = TimePoint{seconds{timegm(&tm)}};
  return std::clamp<milliseconds>(when - now, kShortest, kLongest);
}

}  // namespace certcli::acme
