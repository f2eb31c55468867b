// What -v shows of an exchange with the CA. A trace is pasted into bug reports and CI logs, so
// nothing in it may let a reader act as the account or the certificate: a JWS signature can be
// replayed against the CA until its nonce is used, a key authorization answers a challenge,
// an EAB MAC key or a private key is the credential itself.
#include <certcli/crypto.hpp>
#include <certcli/trace.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace certcli::acme {

namespace {

constexpr const char* kRedacted = "(redacted)";

bool is_base64url(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// JSON members whose value is a secret, whatever the message (ZeroSSL's EAB answer has
// eab_hmac_key; a challenge may echo keyAuthorization).
bool secret_member(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"hmac", "secret", "password", "private", "keyauthorization", "key_authorization", "signature"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

// PEM blocks of any private key type ("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY").
std::string redact_private_keys(std::string text) {
  for (std::size_t at = 0; (at = text.find("-----BEGIN ", at)) != std::string::npos;) {
    std::size_t label_end = text.find("-----", at + 11);
    if (label_end == std::string::npos) break;
    std::string label = text.substr(at + 11, label_end - (at + 11));
    if (label.find("PRIVATE KEY") == std::string::npos) {
      at = label_end;
      continue;
    }
    std::string end_marker = "-----END " + label + "-----";
    std::size_t end = text.find(end_marker, label_end);
    // Unterminated: everything after the BEGIN line may be key material.
    std::size_t stop = end == std::string::npos ? text.size() : end + end_marker.size();
    text.replace(at, stop - at, "(private key redacted)");
    at += 1;
  }
  return text;
}

// token "." base64url(SHA-256 thumbprint): a token of at least 22 characters (RFC 8555 8.1:
// 128 bits) and exactly 43 after the dot.
std::string redact_key_authorizations(std::string text) {
  std::string out;
  std::size_t copied = 0;
  for (std::size_t dot = text.find('.'); dot != std::string::npos; dot = text.find('.', dot + 1)) {
    std::size_t start = dot;
    while (start > copied && is_base64url(text[start - 1])) --start;
    std::size_t end = dot + 1;
    while (end < text.size() && is_base64url(text[end])) ++end;
    if (dot - start >= 22 && end - dot - 1 == 43) {
      out.append(text, copied, start - copied);
      out += "(key authorization redacted)";
      copied = end;
      dot = end - 1;
    }
  }
  out.append(text, copied, std::string::npos);
  return out;
}

nlohmann::json redact_json(const nlohmann::json& value);

// A flattened JWS ({protected, payload, signature}) with its parts decoded, so that the trace
// says what was asked; the signature is never shown.
std::optional<nlohmann::json> decoded_jws(const nlohmann::json& value) {
  if (!value.is_object() || !value.contains("protected") || !value.contains("payload") || !value.contains("signature"))
    return std::nullopt;
  nlohmann::json out = nlohmann::json::object();
  for (const char* part : {"protected", "payload"}) {
    const nlohmann::json& encoded = value[part];
    if (!encoded.is_string()) return std::nullopt;
    std::string text;
    try {
      text = crypto::base64url_decode(encoded.get<std::string>());
    } catch (const std::exception&) {
      return std::nullopt;
    }
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    // POST-as-GET has an empty payload; anything else that is not JSON is shown as text.
    out[part] = redact_json(parsed.is_discarded() ? nlohmann::json(redact_secrets(text)) : parsed);
  }
  out["signature"] = kRedacted;
  return out;
}

nlohmann::json redact_json(const nlohmann::json& value) {
  if (auto jws = decoded_jws(value)) return *jws;
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, member] : value.items())
      out[name] = secret_member(name) && !member.is_null() ? nlohmann::json(kRedacted) : redact_json(member);
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(redact_json(item));
    return out;
  }
  if (value.is_string()) return redact_secrets(value.get<std::string>());
  return value;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  return redact_key_authorizations(redact_private_keys(std::string(text)));
}

std::vector<std::string> trace_lines(const net::TracedMessage& message) {
  std::string prefix = message.outgoing ? "> " : "< ";
  std::vector<std::string> lines{prefix + message.start_line};
  for (const auto& [name, value] : message.headers)
    lines.push_back(prefix + name + ": " + (secret_member(name) ? kRedacted : redact_secrets(value)));
  if (message.body.empty()) return lines;
  nlohmann::json body = nlohmann::json::parse(message.body, nullptr, /*allow_exceptions=*/false);
  bool binary = std::any_of(message.body.begin(), message.body.end(), [](char c) {
    return c == '\0' || (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t');
  });
  if (binary) {
    lines.push_back(prefix + "(" + std::to_string(message.body.size()) + " bytes, not text)");
    return lines;
  }
  // Replace, not throw: a CA's text need not be UTF-8, and a trace must never end a run.
  std::string shown = body.is_discarded()
                          ? redact_secrets(message.body)
                          : redact_json(body).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::size_t start = 0;
  while (start < shown.size()) {
    std::size_t end = shown.find('\n', start);
    if (end == std::string::npos) end = shown.size();
    lines.push_back(prefix + shown.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace certcli::acme
