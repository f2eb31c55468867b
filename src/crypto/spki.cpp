// SPKI pins (certcli/spki.hpp): RFC 7469 section 2.4 pins the DER SubjectPublicKeyInfo, so a
// pin survives a new certificate for the same key and names the key whatever file holds it.
#include "openssl_util.hpp"

#include <certcli/bundle.hpp>
#include <certcli/spki.hpp>

#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace certcli::crypto {
namespace {

using detail::X509StackPtr;
using detail::X509StoreCtxPtr;
using detail::X509StorePtr;


std::string der_of_public_key(EVP_PKEY* key) {
  unsigned char* raw = nullptr;
  int length = i2d_PUBKEY(key, &raw);
  detail::Utf8Ptr owned(raw);
  if (length <= 0) detail::throw_openssl("cannot encode a public key as DER");
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(length));
}

// The SPKI of a public key file: PEM "PUBLIC KEY" or DER. Nothing when it holds none.
std::optional<std::string> public_key_file_der(std::string_view bytes) {
  PkeyPtr key;
  if (bytes.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    auto bio = detail::read_bio(bytes);
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size())));
  }
  detail::drain_openssl_errors();
  if (!key) return std::nullopt;
  return der_of_public_key(key.get());
}

std::string pem_of(X509* cert) {
  auto bio = detail::write_bio();
  if (PEM_write_bio_X509(bio.get(), cert) != 1) detail::throw_openssl("cannot encode a certificate as PEM");
  return detail::bio_contents(bio.get());
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    bool padding = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
    if (!alphabet && !padding) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t pad = static_cast<std::size_t>(std::count(text.end() - 2, text.end(), '='));
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string spki_pin(std::string_view spki_der) { return base64_encode(sha256(spki_der)); }

std::string public_key_der(const PrivateKey& key) { return der_of_public_key(key.get()); }

PinnedObject pinned_object(std::string_view bytes, const std::string& passphrase, const std::string& source) {
  PinnedObject object;
  const bool pem_certificate = bytes.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos;
  const bool pem_private = bytes.find("PRIVATE KEY-----") != std::string_view::npos;
  const bool pem_public = bytes.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos;
  if (pem_certificate || (!pem_private && !pem_public)) {
    // DER: a certificate is tried first, since a .cer is the common case.
    std::optional<std::vector<std::string>> certificates;
    try {
      certificates = read_certificates(bytes, source);
    } catch (const Error&) {
      if (pem_certificate) throw;
    }
    if (certificates && !certificates->empty()) {
      object.kind = "certificate";
      object.certificate = parse_certificate(certificates->front());
      object.pin = spki_pin(certificate_public_key_der(certificates->front()));
      return object;
    }
  }
  if (pem_public || !pem_private) {
    if (auto der = public_key_file_der(bytes)) {
      object.kind = "public key";
      object.pin = spki_pin(*der);
      return object;
    }
  }
  if (pem_private || !pem_public) {
    try {
      PrivateKey key = PrivateKey::from_pem(read_private_key(bytes, passphrase, source));
      object.kind = "private key";
      object.pin = spki_pin(public_key_der(key));
      return object;
    } catch (const Error& e) {
      if (pem_private) throw;
    }
  }
  throw Error(ErrorKind::invalid_input,
              fmt::format("{} holds no certificate, private key or public key (PEM or DER)", source),
              "give a certificate (.pem, .crt, .cer), a private key or a public key file", source);
}

ChainCertificate describe_chain_certificate(const std::string& pem) {
  ChainCertificate out;
  out.pem = pem;
  out.info = parse_certificate(pem);
  out.pin = spki_pin(certificate_public_key_der(pem));
  X509Ptr cert = detail::first_certificate(pem);
  out.self_signed = X509_check_issued(cert.get(), cert.get()) == X509_V_OK;
  return out;
}

TrustVerdict verify_chain(const std::vector<std::string>& chain, const std::string& ca_bundle,
                          const std::string& extra_roots, const std::string& host) {
  TrustVerdict verdict;
  if (chain.empty()) {
    verdict.detail = "no certificate";
    return verdict;
  }
  X509StorePtr store(X509_STORE_new());
  if (!store) detail::throw_openssl("cannot make a trust store");
  bool loaded = ca_bundle.empty() ? X509_STORE_set_default_paths(store.get()) == 1
                                  : X509_STORE_load_file(store.get(), ca_bundle.c_str()) == 1;
  if (!loaded)
    throw Error(ErrorKind::invalid_input,
                fmt::format("cannot load the trust store {}: {}", ca_bundle.empty() ? "of the system" : ca_bundle,
                            detail::drain_openssl_errors()),
                "give a PEM file of CA certificates", ca_bundle);
  std::vector<std::string> extra;
  if (!extra_roots.empty()) extra = read_certificates(extra_roots, "certcli's trusted roots");
  for (const auto& pem : extra) {
    X509Ptr root = detail::first_certificate(pem);
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) detail::drain_openssl_errors();  // a duplicate of the system's
  }

  X509Ptr leaf = detail::first_certificate(chain.front());
  X509StackPtr untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < chain.size(); ++i) {
    X509Ptr cert = detail::first_certificate(chain[i]);
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0) detail::throw_openssl("cannot build a certificate list");
    cert.release();
  }
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!context || X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), untrusted.get()) != 1)
    detail::throw_openssl("cannot start a chain verification");
  if (!host.empty()) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
    // An IP address is matched against iPAddress SANs, a name against dNSName ones.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      detail::drain_openssl_errors();
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
  }
  verdict.trusted = X509_verify_cert(context.get()) == 1;
  if (!verdict.trusted) verdict.detail = X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
  detail::drain_openssl_errors();
  X509StackPtr built(X509_STORE_CTX_get1_chain(context.get()));
  if (built && sk_X509_num(built.get()) > 0) {
    X509* top = sk_X509_value(built.get(), sk_X509_num(built.get()) - 1);
    if (X509_check_issued(top, top) == X509_V_OK) verdict.root_pem = pem_of(top);
  }
  if (verdict.trusted) {
    verdict.anchor = ca_bundle.empty() ? "the system trust store" : ca_bundle;
    if (!extra.empty() && !verdict.root_pem.empty()) {
      const std::string root_fingerprint = parse_certificate(verdict.root_pem).sha256_fingerprint;
      for (const auto& pem : extra)
        if (parse_certificate(pem).sha256_fingerprint == root_fingerprint) verdict.anchor = "certcli's trusted roots";
    }
  }
  return verdict;
}

}  // namespace certcli::crypto
