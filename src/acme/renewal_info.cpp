// ACME Renewal Information (RFC 9773): asking the CA when to renew a certificate, reading its
// answer as outside input, and placing the point of renewal within the window it suggests. When
// to ask and what to do with the answer is the caller's policy, not decided here.
#include <certcli/acme.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace certcli::acme {
namespace {

// An AKI keyIdentifier is 20 (SHA-1) to 32 bytes and a serial at most 20 (RFC 5280 4.1.2.2), so
// a real CertID has well under 100 characters; anything much longer is not one.
constexpr std::size_t kLongestCertId = 256;

const std::string kRenewalInfoHint =
    "nothing of the CA's renewal information was used; the certificate's own expiry still tells when it "
    "is due; if this repeats, report it to the CA";

[[noreturn]] void misbehaved(const Sender& sender, const std::string& what) {
  throw CaMisbehaved(fmt::format("{} sent renewal information {}", sender.name, what), {}, kRenewalInfoHint);
}

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// A CertID goes into a URL path, so it is checked even though certcli computes it itself: a
// value from a damaged state file must not become a request for another path.
void check_cert_id(const std::string& cert_id) {
  const std::size_t dot = cert_id.find('.');
  bool well_formed = cert_id.size() <= kLongestCertId && dot != std::string::npos && dot != 0 &&
                     dot + 1 != cert_id.size() && cert_id.find('.', dot + 1) == std::string::npos &&
                     std::all_of(cert_id.begin(), cert_id.end(), [](char c) { return c == '.' || is_base64url(c); });
  if (!well_formed)
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} is not an ACME Renewal Information CertID", quote_ca_text(cert_id)),
                "a CertID is two base64url parts joined by '.', as crypto::ari_cert_id makes from the certificate");
}

TimePoint window_time(const nlohmann::json& window, const char* key, const Sender& sender) {
  auto it = window.find(key);
  if (it == window.end() || !it->is_string())
    misbehaved(sender, fmt::format("whose suggestedWindow {} is missing or not a string", key));
  try {
    return parse_rfc3339(it->get<std::string>());
  } catch (const Error&) {
    misbehaved(sender, fmt::format("whose suggestedWindow {} {} is not an RFC 3339 time", key,
                                   quote_ca_text(it->get<std::string>())));
  }
}

bool mentions_replacement(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find("replace") != std::string::npos;
}

}  // namespace

RenewalInfo parse_renewal_info(const nlohmann::json& body, const Sender& sender) {
  if (!body.is_object()) misbehaved(sender, "that is not a JSON object");
  auto window = body.find("suggestedWindow");
  if (window == body.end() || !window->is_object()) misbehaved(sender, "without a suggestedWindow object");
  RenewalInfo info;
  info.window_start = window_time(*window, "start", sender);
  info.window_end = window_time(*window, "end", sender);
  // RFC 9773 4.2: such a window is invalid, and the client must act as if it got no answer.
  if (info.window_end <= info.window_start)
    misbehaved(sender, fmt::format("whose suggestedWindow does not end after it starts (start {}, end {})",
                                   format_rfc3339(info.window_start), format_rfc3339(info.window_end)));
  if (auto url = body.find("explanationURL"); url != body.end() && !url->is_null()) {
    if (!url->is_string()) misbehaved(sender, "whose explanationURL is not a string");
    // A page for people: a test CA on plain http may well link to https documentation.
    Sender for_people = sender;
    if (url->get<std::string>().starts_with("https://")) for_people.url_scheme = "https";
    try {
      info.explanation_url =
          check_ca_url(url->get<std::string>(), "renewal information with the explanationURL", for_people);
    } catch (const CaMisbehaved& e) {
      throw CaMisbehaved(e.what(), e.subject(), kRenewalInfoHint);
    }
  }
  return info;
}

TimePoint renewal_time_in_window(const RenewalInfo& info, double fraction) {
  if (info.window_end <= info.window_start) return info.window_start;
  if (!(fraction > 0)) return info.window_start;  // also NaN
  const auto span = info.window_end - info.window_start;
  // Rounding down keeps the moment inside [start, end); the min guards against a fraction so close
  // to 1 that the product rounds up to the whole span.
  auto offset = std::chrono::seconds{static_cast<std::chrono::seconds::rep>(
      std::floor(std::min(fraction, 1.0) * static_cast<double>(span.count())))};
  return info.window_start + std::min(offset, span - std::chrono::seconds{1});
}

bool renewal_window_has_passed(const RenewalInfo& info, TimePoint now) { return now >= info.window_end; }

bool problem_rejects_replaces(const Problem& problem) {
  const std::string type = problem.short_type();
  if (type == "alreadyReplaced") return true;
  const bool client_error = problem.status >= 400 && problem.status < 500;
  return client_error && (type == "malformed" || type == "conflict" || type == "unauthorized") &&
         mentions_replacement(problem.detail);
}

std::optional<RenewalInfo> Client::fetch_renewal_info(const std::string& cert_id) {
  check_cert_id(cert_id);
  std::string base = directory().renewal_info;
  if (base.empty()) return std::nullopt;  // the CA does not offer ARI
  // RFC 9773 4.1: the renewalInfo URL, a slash, the CertID; a trailing slash on the directory's
  // URL is not doubled.
  if (base.ends_with('/')) base.pop_back();
  const std::string url = base + "/" + cert_id;
  net::HttpResponse response;
  for (int retries = 0;;) {
    response = http_.get(url);
    remember_nonce(response);  // takes the nonce pool's lock itself
    if (!retry_when_asked(response, url, "GET " + url, retries)) break;
  }
  if (response.status == 404) return std::nullopt;  // the CA does not know this certificate
  if (response.status != 200) throw_problem(response, fmt::format("GET {}", url));
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    throw CaMisbehaved(fmt::format("{} sent renewal information at {} that is not JSON", sender_.name, url), url,
                       kRenewalInfoHint);
  RenewalInfo info;
  try {
    info = parse_renewal_info(body, sender_);
  } catch (const CaMisbehaved& e) {
    throw CaMisbehaved(e.what(), url, e.hint());  // the URL says which certificate it was about
  }
  info.retry_after = requested_retry_time(response, clock_.now());
  return info;
}

}  // namespace certcli::acme
