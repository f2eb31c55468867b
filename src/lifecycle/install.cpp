// The install step: a certificate from the CA becomes the live one, with the record to match.
#include "lifecycle/steps.hpp"

#include <certcli/error.hpp>

#include <fmt/format.h>

namespace certcli::lifecycle::steps {

namespace {

// `key` null: the certificate must carry `csr_public_key_der` (an operator's CSR), and no key is
// stored.
crypto::CertificateInfo install_checked(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                        const crypto::PrivateKey* key, const std::string& csr_public_key_der,
                                        const std::string& chain_pem, bool ca_offers_ari) {
  std::vector<std::string> certificates = crypto::split_pem_certificates(chain_pem);
  if (certificates.empty())
    throw Error(ErrorKind::ca_rejected, "the CA's certificate download held no certificate", "try again later");
  const bool matches = key ? crypto::key_matches_certificate(*key, certificates.front())
                           : crypto::certificate_has_public_key(certificates.front(), csr_public_key_der);
  if (!matches) {
    // The order cannot yield a usable certificate any more (its key is gone): drop it so the
    // next run orders anew instead of downloading the same mismatch again.
    record.order_url.clear();
    store.remove_pending_key(record.name);
    throw Error(ErrorKind::ca_rejected, "the certificate from the CA does not match the key certcli kept for this order",
                "run the command again to order a new certificate; nothing was installed");
  }
  crypto::CertificateInfo info = crypto::parse_certificate(certificates.front());
  store::CertificateFiles files;
  files.certificate = certificates.front();
  for (size_t i = 1; i < certificates.size(); ++i) files.chain += certificates[i];
  files.fullchain = files.certificate + files.chain;
  if (key) files.private_key = key->to_pem();

  TimePoint now = clock.now();
  std::string version = store.install_certificate(record.name, format_compact_utc(now), files);

  mark_live(record, version, info, now);
  try {
    if (ca_offers_ari) record.renewal.ari_cert_id = crypto::ari_cert_id(files.certificate);
  } catch (const Error&) {
    // No Authority Key Identifier: the CA cannot be asked for a renewal window (RFC 9773 4.1).
  }
  store.save_domain(record);
  store.remove_pending_key(record.name);
  log_event(store, clock, "certificate.issued", record.name,
            {{"serial", info.serial_hex},
             {"names", info.sans},
             {"expires_at", format_rfc3339(info.not_after)},
             {"version", version}});
  return info;
}

}  // namespace

void mark_live(store::DomainRecord& record, const std::string& version, const crypto::CertificateInfo& info,
               TimePoint now) {
  record.live_version = version;
  record.covered_names = info.sans;
  record.serial = info.serial_hex;
  record.fingerprint = info.sha256_fingerprint;
  record.issued_at = now;
  record.not_before = info.not_before;
  record.expires_at = info.not_after;
  // A new certificate starts its renewal story afresh: no backoff, no alerts sent, and the CA's
  // renewal window (ARI) is asked for anew for this certificate.
  const auto buffer_days = record.renewal.buffer_days;
  const auto deploy_hook = record.renewal.deploy_hook;
  record.renewal = store::RenewalState{};
  record.renewal.buffer_days = buffer_days;
  record.renewal.deploy_hook = deploy_hook;
  record.order_url.clear();
  record.error.reset();
  record.revoked_at.reset();
  record.revocation_reason.clear();
  record.status = store::CertificateStatus::ready;
  record.phase = store::IssuePhase::completed;
  record.last_updated_at = now;
}

crypto::CertificateInfo install(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                const crypto::PrivateKey& key, const std::string& chain_pem, bool ca_offers_ari) {
  return install_checked(store, clock, record, &key, {}, chain_pem, ca_offers_ari);
}

crypto::CertificateInfo install(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                const ObtainedCertificate& obtained, bool ca_offers_ari) {
  return install_checked(store, clock, record, obtained.key ? &*obtained.key : nullptr, obtained.csr_public_key_der,
                         obtained.chain_pem, ca_offers_ari);
}

}  // namespace certcli::lifecycle::steps
