// Account management and revocation (RFC 8555 7.3.2-7.3.6, 7.6): contact updates, key change,
// deactivation, revokeCert; and the two JWS that are not ordinary requests: the External Account
// Binding (7.3.4) and the inner JWS of a key change (7.3.5), neither of which carries a nonce.
#include <certcli/acme.hpp>

#include <fmt/format.h>

namespace certcli::acme {
namespace {

std::string mac_digest(const std::string& algorithm) {
  if (algorithm == "HS256") return "SHA256";
  if (algorithm == "HS384") return "SHA384";
  if (algorithm == "HS512") return "SHA512";
  throw Error(ErrorKind::invalid_input, fmt::format("'{}' is not an External Account Binding MAC algorithm", algorithm),
              "use HS256 (what CAs issue), HS384 or HS512");
}

nlohmann::json contact_urls(const std::vector<std::string>& contacts) {
  nlohmann::json urls = nlohmann::json::array();
  for (const auto& c : contacts) urls.push_back(c.starts_with("mailto:") ? c : "mailto:" + c);
  return urls;
}

}  // namespace

nlohmann::json make_eab_jws(const ExternalAccountBinding& eab, const nlohmann::json& account_jwk,
                            const std::string& new_account_url) {
  const std::string digest = mac_digest(eab.algorithm);
  if (eab.kid.empty() || eab.mac_key.empty())
    throw Error(ErrorKind::invalid_input, "External Account Binding needs both a key identifier and an HMAC key",
                "give both the key identifier and the HMAC key the CA issued");
  // RFC 8555 7.3.4: alg a MAC algorithm, kid the CA's key identifier, url the newAccount URL,
  // and no nonce; the payload is the account key's public JWK.
  nlohmann::json header = {{"alg", eab.algorithm}, {"kid", eab.kid}, {"url", new_account_url}};
  std::string protected_b64 = crypto::base64url_encode(header.dump());
  std::string payload_b64 = crypto::base64url_encode(account_jwk.dump());
  std::string mac = crypto::hmac(digest, eab.mac_key, protected_b64 + "." + payload_b64);
  return {{"protected", protected_b64}, {"payload", payload_b64}, {"signature", crypto::base64url_encode(mac)}};
}

nlohmann::json make_key_change_jws(const crypto::PrivateKey& new_key, const nlohmann::json& old_jwk,
                                   const std::string& account_url, const std::string& key_change_url) {
  nlohmann::json header = {{"alg", crypto::jws_algorithm(new_key)}, {"jwk", crypto::public_jwk(new_key)}, {"url", key_change_url}};
  nlohmann::json payload = {{"account", account_url}, {"oldKey", old_jwk}};
  return make_jws(new_key, header, payload.dump());
}

Account Client::parse_account(const net::HttpResponse& response, const std::string& url, const char* what) {
  nlohmann::json body = parse_body(response, what);
  Account account;
  account.url = url;
  if (body.contains("status") && body["status"].is_string()) {
    account.status = body["status"].get<std::string>();
    if (account.status != "valid" && account.status != "deactivated" && account.status != "revoked")
      throw CaMisbehaved(fmt::format("{} sent the account status {}", sender_.name, quote_ca_text(account.status)), url);
  }
  if (body.contains("contact") && body["contact"].is_array())
    for (const auto& c : body["contact"])
      if (c.is_string()) account.contacts.push_back(ca_text(c.get<std::string>(), 256));
  return account;
}

Account Client::fetch_account() {
  return parse_account(post(account_url_, std::nullopt), account_url_, "account");
}

Account Client::update_account(const std::vector<std::string>& contacts) {
  return parse_account(post(account_url_, nlohmann::json{{"contact", contact_urls(contacts)}}), account_url_,
                       "account update");
}

Account Client::deactivate_account() {
  return parse_account(post(account_url_, nlohmann::json{{"status", "deactivated"}}), account_url_,
                       "account deactivation");
}

void Client::change_account_key(const crypto::PrivateKey& new_key) {
  if (!account_key_ || account_url_.empty())
    throw Error(ErrorKind::internal, "a key change was asked for before use_account named an account");
  const std::string& url = directory().key_change;
  if (url.empty())
    throw Error(ErrorKind::ca_rejected, fmt::format("{} offers no keyChange", sender_.name),
                "this CA cannot change an account's key; register a new account instead", directory_url_);
  // The outer JWS is an ordinary request signed by the old key (kid); its payload is the inner
  // JWS signed by the new key, which proves possession of both.
  post(url, make_key_change_jws(new_key, crypto::public_jwk(*account_key_), account_url_, url));
  account_key_ = &new_key;
}

void Client::revoke_certificate(const std::string& certificate_der, std::optional<int> reason,
                                const crypto::PrivateKey* certificate_key) {
  const std::string& url = directory().revoke_cert;
  if (url.empty())
    throw Error(ErrorKind::ca_rejected, fmt::format("{} offers no revokeCert", sender_.name),
                "this CA cannot revoke certificates through ACME; use its website", directory_url_);
  nlohmann::json payload = {{"certificate", crypto::base64url_encode(certificate_der)}};
  if (reason) payload["reason"] = *reason;
  post(url, payload, /*use_jwk=*/certificate_key != nullptr, certificate_key);
}

}  // namespace certcli::acme
