// The install step: a certificate from the CA becomes the live one, with the record to match.
#include "lifecycle/steps.hpp"

#include <certcli/error.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace certcli::lifecycle::steps {

std::string certificate_names_mismatch(const std::vector<std::string>& ordered, const std::vector<std::string>& sans) {
  auto canonical = [](const std::string& name) {
    if (auto address = normalize_ip_address(name)) return *address;
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
  };
  auto as_set = [&](const std::vector<std::string>& names) {
    std::vector<std::string> set;
    for (const auto& name : names) set.push_back(canonical(name));
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    return set;
  };
  const std::vector<std::string> want = as_set(ordered);
  const std::vector<std::string> have = as_set(sans);
  std::vector<std::string> missing;
  std::vector<std::string> extra;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(missing));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(extra));
  std::vector<std::string> parts;
  // The SANs come from the CA: shown escaped, as any CA text.
  auto shown = [](const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : ", ") + acme::quote_ca_text(name);
    return text;
  };
  if (!missing.empty()) parts.push_back("lacks " + shown(missing));
  if (!extra.empty()) parts.push_back("adds " + shown(extra));
  if (parts.empty() && have.empty()) parts.push_back("names nothing");
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : " and ") + part;
  return text;
}

namespace {

// `key` null: the certificate must carry `csr_public_key_der` (an operator's CSR), and no key is
// stored.
crypto::CertificateInfo install_checked(store::Store& store, const Clock& clock, store::DomainRecord& record,
                                        const crypto::PrivateKey* key, const std::string& csr_public_key_der,
                                        const std::string& chain_pem, bool ca_offers_ari) {
  std::vector<std::string> certificates = crypto::split_pem_certificates(chain_pem);
  if (certificates.empty())
    throw Error(ErrorKind::ca_rejected, "the CA's certificate download held no certificate", "try again later");
  // A CA signs what it likes: the certificate must be for the key of the CSR certcli sent and for
  // exactly the names it ordered, or it would go live for someone else's key or names. Either
  // mismatch drops the order (downloading it again gives the same certificate) so the next run
  // orders anew; the live certificate and the kept key are left as they are.
  const bool matches = key ? crypto::key_matches_certificate(*key, certificates.front())
                           : crypto::certificate_has_public_key(certificates.front(), csr_public_key_der);
  if (!matches) {
    record.order_url.clear();
    throw Error(ErrorKind::ca_rejected,
                "the certificate from the CA does not match the key certcli kept for this order (its public key "
                "is not the CSR's); it was not installed",
                "run the command again to order a new certificate; nothing was installed, and if this repeats "
                "report it to the CA",
                record.name);
  }
  crypto::CertificateInfo info = crypto::parse_certificate(certificates.front());
  if (std::string mismatch = certificate_names_mismatch(record.names, info.sans); !mismatch.empty()) {
    record.order_url.clear();
    throw Error(ErrorKind::ca_rejected,
                fmt::format("the certificate from the CA is not for the names ordered: it {}; it was not installed",
                            mismatch),
                "run the command again to order a new certificate; nothing was installed, and if this repeats "
                "report it to the CA",
                record.name);
  }
  store::CertificateFiles files;
  files.certificate = certificates.front();
  for (size_t i = 1; i < certificates.size(); ++i) files.chain += certificates[i];
  files.fullchain = files.certificate + files.chain;
  // The key's PEM is wiped from this buffer once the store has written it, however this ends.
  struct WipeKey {
    std::string& pem;
    ~WipeKey() { crypto::wipe(pem); }
  } wipe_key{files.private_key};
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
