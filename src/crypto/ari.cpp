// The ACME Renewal Information CertID (RFC 9773 4.1): which certificate a renewalInfo request or
// a newOrder's "replaces" is about, built from the issuer's key identifier and the serial number.
#include "openssl_util.hpp"

#include <openssl/pem.h>

#include <cctype>

namespace certcli::crypto {
namespace {

std::string octets(const ASN1_OCTET_STRING* value) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

// The keyIdentifier of the Authority Key Identifier extension (RFC 5280 4.2.1.1). Decoded here
// rather than through X509_get0_authority_key_id, which answers "none" for a certificate with
// any unrelated broken extension too; this way "absent" and "malformed" are told apart.
std::string authority_key_id(const X509* cert, const std::string& serial) {
  int critical = 0;
  detail::AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, &critical, nullptr)));
  if (!akid && critical != -1)  // -2: the extension appears twice; otherwise it does not decode
    detail::throw_openssl("the certificate with serial " + serial +
                              " has a malformed Authority Key Identifier extension",
                          "the certificate is malformed; ask the CA about it");
  if (!akid || akid->keyid == nullptr || ASN1_STRING_length(akid->keyid) <= 0) {
    detail::drain_openssl_errors();
    throw Error(ErrorKind::crypto,
                "the certificate with serial " + serial +
                    " has no Authority Key Identifier keyIdentifier, so the CA cannot be asked when to renew it "
                    "(RFC 9773 ACME Renewal Information names a certificate by it)",
                "ACME Renewal Information needs a certificate whose Authority Key Identifier names the issuer's "
                "key, as every public ACME CA's certificates do; judge this one by its expiry instead");
  }
  return octets(akid->keyid);
}

// The content octets of the serial's DER INTEGER: its two's-complement bytes exactly as the
// certificate encodes them (so 0x00 87 65 43 21 keeps its 0x00), without the tag and length.
// i2c_ASN1_INTEGER, which would give them directly, is not public in OpenSSL 3, so the DER
// header is taken off by hand.
std::string serial_content_octets(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  unsigned char* raw = nullptr;
  int length = serial == nullptr ? -1 : i2d_ASN1_INTEGER(serial, &raw);
  detail::Utf8Ptr der(raw);
  if (length < 3 || der == nullptr) detail::throw_openssl("cannot encode the certificate's serial number");
  const auto size = static_cast<std::size_t>(length);
  const unsigned char* bytes = der.get();
  std::size_t header = 2;
  std::size_t content = bytes[1];
  if (bytes[1] & 0x80) {  // long form: the low bits count the length octets that follow
    std::size_t count = bytes[1] & 0x7f;
    if (count == 0 || count > sizeof(std::size_t) || 2 + count > size)
      throw Error(ErrorKind::crypto, "the certificate's serial number has a malformed DER length");
    content = 0;
    for (std::size_t i = 0; i < count; ++i) content = (content << 8) | bytes[2 + i];
    header += count;
  }
  if (bytes[0] != V_ASN1_INTEGER || content == 0 || header + content != size)
    throw Error(ErrorKind::crypto, "the certificate's serial number did not encode as a DER INTEGER");
  return std::string(reinterpret_cast<const char*>(bytes + header), content);
}

}  // namespace

std::string ari_cert_id_from_parts(std::string_view aki_key_id_bytes, std::string_view serial_content_octets) {
  if (aki_key_id_bytes.empty() || serial_content_octets.empty())
    throw Error(ErrorKind::invalid_input, "an ARI CertID needs both the authority key identifier and the serial number",
                "read both from the certificate (ari_cert_id does)");
  return base64url_encode(aki_key_id_bytes) + "." + base64url_encode(serial_content_octets);
}

std::string ari_cert_id(const std::string& certificate_pem) {
  X509Ptr cert = detail::first_certificate(certificate_pem);
  std::string serial = serial_content_octets(cert.get());
  std::string serial_hex = to_hex(serial);
  for (char& c : serial_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return ari_cert_id_from_parts(authority_key_id(cert.get(), serial_hex), serial);
}

}  // namespace certcli::crypto
