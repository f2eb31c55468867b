// `revoke`: RFC 8555 7.6 revokeCert for a domain's live certificate, signed with the account
// key or the certificate's own key, and the record marked revoked so that renew replaces it.
#include "lifecycle/steps.hpp"

#include <certcli/accounts.hpp>
#include <certcli/bundle.hpp>
#include <certcli/error.hpp>

#include <fmt/format.h>

namespace certcli::lifecycle {

std::optional<int> revocation_reason_code(const std::string& reason) {
  // RFC 5280 5.3.1 CRLReason; the subscriber's choices (as in Let's Encrypt's documentation).
  if (reason.empty() || reason == "unspecified") return 0;
  if (reason == "keyCompromise") return 1;
  if (reason == "affiliationChanged") return 3;
  if (reason == "superseded") return 4;
  if (reason == "cessationOfOperation") return 5;
  return std::nullopt;
}

RevokeResult revoke_certificate(store::Store& store, Clock& clock, net::HttpTransport& http,
                                const RevokeRequest& request) {
  auto code = revocation_reason_code(request.reason);
  if (!code)
    throw Error(ErrorKind::usage, fmt::format("'{}' is not a revocation reason", request.reason),
                "use keyCompromise, superseded, cessationOfOperation or affiliationChanged (or leave --reason out)");
  store::DomainRecord record = require_domain(store, request.name);
  auto domain_lock = store.lock_domain(record.name, std::chrono::seconds{60});
  record = require_domain(store, request.name);
  auto files = store.load_live_certificate(record.name);
  if (!files || files->certificate.empty())
    throw Error(ErrorKind::not_found, fmt::format("{} has no certificate to revoke", record.name),
                fmt::format("certcli status {} shows what it has", record.name), record.name);
  const crypto::CertificateInfo info = crypto::parse_certificate(files->certificate);
  if (record.revoked_at && record.serial == info.serial_hex)
    throw Error(ErrorKind::invalid_input,
                fmt::format("the certificate of {} (serial {}) was revoked already on {}", record.name, info.serial_hex,
                            format_rfc3339(*record.revoked_at)),
                fmt::format("certcli renew {} replaces it", record.name), record.name);

  CaSelection ca = !record.directory_url.empty() ? select_ca("", record.directory_url, false)
                   : request.ca                  ? *request.ca
                                                 : select_ca("", "", false);
  steps::Session session(store, clock, http, ca, request.time_budget);
  std::optional<crypto::PrivateKey> certificate_key;
  if (request.with_certificate_key) {
    // The key comes in clear from the store (decrypted with the passphrase when it is encrypted).
    certificate_key = crypto::PrivateKey::from_pem(files->private_key);
    if (!crypto::key_matches_certificate(*certificate_key, files->certificate))
      throw Error(ErrorKind::crypto, fmt::format("the live key of {} does not belong to its certificate", record.name),
                  "revoke with the account key instead (leave out --with-cert-key)", record.name);
    session.client().revoke_certificate(crypto::certificate_der(files->certificate), *code, &*certificate_key);
  } else {
    steps::AccountOptions options;
    options.account_name = request.account_name;
    {
      auto state_lock = store.lock(std::chrono::seconds{60});
      if (!store.load_account(steps::account_store_id(ca, request.account_name)))
        throw Error(ErrorKind::not_found, fmt::format("there is no account at {} to revoke with", ca.directory_url),
                    fmt::format("revoke with the certificate's own key: certcli revoke {} --with-cert-key", record.name),
                    ca.directory_url);
      session.load_or_register(options, {});
    }
    session.client().revoke_certificate(crypto::certificate_der(files->certificate), *code);
  }
  record.revoked_at = clock.now();
  record.revocation_reason = request.reason.empty() ? "unspecified" : request.reason;
  record.last_updated_at = clock.now();
  store.save_domain(record);
  steps::log_event(store, clock, "certificate.revoked", record.name,
                   {{"serial", info.serial_hex},
                    {"reason", record.revocation_reason},
                    {"signed_with", request.with_certificate_key ? "certificate key" : "account key"}});
  RevokeResult result;
  result.record = record;
  result.serial = info.serial_hex;
  result.acme_requests = session.client().request_count();
  return result;
}

}  // namespace certcli::lifecycle
