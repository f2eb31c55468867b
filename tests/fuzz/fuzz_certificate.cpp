// Fuzzes certificate reading: the PEM bundle splitter and parse_certificate(), which read what a
// CA returns and what sits in the state directory, and parse_csr() (issue --csr). The input is tried twice: as PEM text, and
// as DER bytes wrapped into a CERTIFICATE PEM block (so the fuzzer can mutate the ASN.1
// directly). certcli::Error is the expected answer to garbage; anything else is a finding.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>

#include "fuzz_check.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

void parse(std::string_view pem) {
  try {
    certcli::crypto::CertificateInfo info = certcli::crypto::parse_certificate(pem);
    FUZZ_CHECK(info.sha256_fingerprint.size() == 32 * 3 - 1, "fingerprint '%s' has the wrong length",
               info.sha256_fingerprint.c_str());
    (void)certcli::format_rfc3339(info.not_before);
    (void)certcli::format_rfc3339(info.not_after);
  } catch (const certcli::Error&) {
  }
  ERR_clear_error();
}

// base64 with 64-column lines between BEGIN/END CERTIFICATE, as OpenSSL writes it.
std::string der_to_pem(const uint8_t* data, size_t size) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  FUZZ_CHECK(bio != nullptr, "BIO_new failed");
  FUZZ_CHECK(PEM_write_bio(bio.get(), "CERTIFICATE", "", data, static_cast<long>(size)) > 0, "PEM_write_bio failed");
  char* text = nullptr;
  long length = BIO_get_mem_data(bio.get(), &text);
  return std::string(text, static_cast<size_t>(length));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto blocks = certcli::crypto::split_pem_certificates(text);
  for (const auto& block : blocks) {
    FUZZ_CHECK(block.starts_with("-----BEGIN CERTIFICATE-----"), "a split block does not start with BEGIN");
    FUZZ_CHECK(block.ends_with("-----END CERTIFICATE-----\n"), "a split block does not end with END");
    FUZZ_CHECK(block.size() <= size + 1, "a split block is longer than the bundle");
  }
  parse(text);
  // The same bytes as an operator's CSR (issue --csr), PEM or DER.
  try {
    certcli::crypto::CsrInfo csr = certcli::crypto::parse_csr(text);
    FUZZ_CHECK(!csr.names.empty() && !csr.der.empty(), "a CSR was accepted without names or DER");
  } catch (const certcli::Error&) {
  }
  ERR_clear_error();

  if (size == 0) return 0;  // PEM_write_bio refuses an empty body
  std::string wrapped = der_to_pem(data, size);
  FUZZ_CHECK(certcli::crypto::split_pem_certificates(wrapped).size() == 1, "a wrapped DER block does not split into one");
  parse(wrapped);
  return 0;
}
