// Reading issued certificates: PEM bundle splitting, the fields renewal decisions need, and
// whether a certificate belongs to a key.
#include "openssl_util.hpp"

#include <openssl/pem.h>

#include <arpa/inet.h>

#include <ctime>

namespace certcli::crypto {
namespace {

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";

std::string asn1_to_utf8(const ASN1_STRING* value) {
  unsigned char* raw = nullptr;
  int length = ASN1_STRING_to_UTF8(&raw, value);
  detail::Utf8Ptr text(raw);
  if (length < 0) detail::throw_openssl("cannot decode a certificate string");
  return std::string(reinterpret_cast<const char*>(text.get()), static_cast<std::size_t>(length));
}

std::string common_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  return asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
}

std::string one_line(const X509_NAME* name) {
  auto bio = detail::write_bio();
  // RFC 2253 order and escaping, but UTF-8 left readable instead of \XX-escaped.
  unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) detail::throw_openssl("cannot print a certificate name");
  return detail::bio_contents(bio.get());
}

std::string serial_hex(const X509* cert) {
  detail::BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) detail::throw_openssl("cannot read the certificate serial number");
  detail::OsslStringPtr hex(BN_bn2hex(serial.get()));
  if (!hex) detail::throw_openssl("cannot format the certificate serial number");
  return hex.get();  // BN_bn2hex is already uppercase without separators
}

std::string ip_text(const ASN1_OCTET_STRING* address) {
  char text[INET6_ADDRSTRLEN] = {};
  int length = ASN1_STRING_length(address);
  const unsigned char* bytes = ASN1_STRING_get0_data(address);
  if (length == 4 && inet_ntop(AF_INET, bytes, text, sizeof text)) return text;
  if (length == 16 && inet_ntop(AF_INET6, bytes, text, sizeof text)) return text;
  throw Error(ErrorKind::crypto, "certificate has an iPAddress entry of " + std::to_string(length) + " bytes",
              "the certificate is malformed; ask the CA about it");
}

std::vector<std::string> subject_alt_names(const X509* cert) {
  std::vector<std::string> sans;
  int critical = 0;
  detail::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    // -1: no extension at all, which is legitimate; anything else is a broken extension.
    if (critical != -1) detail::throw_openssl("cannot decode the certificate's subjectAltName extension");
    return sans;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      sans.push_back(asn1_to_utf8(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      sans.push_back(ip_text(name->d.iPAddress));
    }
  }
  return sans;
}

TimePoint to_time_point(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    detail::throw_openssl("cannot read a certificate validity date");
  }
  // ASN1_TIME_to_tm yields UTC fields; convert with the civil calendar, not mktime's local zone.
  using namespace std::chrono;
  year_month_day date{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                      day{static_cast<unsigned>(tm.tm_mday)}};
  return sys_days{date} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

std::string fingerprint(const X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) {
    detail::throw_openssl("cannot compute the certificate fingerprint");
  }
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    if (i != 0) out += ':';
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::vector<std::string> split_pem_certificates(std::string_view bundle) {
  std::vector<std::string> blocks;
  std::size_t position = 0;
  while (true) {
    std::size_t begin = bundle.find(kBegin, position);
    if (begin == std::string_view::npos) break;
    std::size_t end = bundle.find(kEnd, begin + kBegin.size());
    if (end == std::string_view::npos) break;  // a truncated last block is not a certificate
    end += kEnd.size();
    blocks.emplace_back(bundle.substr(begin, end - begin));
    blocks.back() += '\n';
    position = end;
  }
  return blocks;
}

CertificateInfo parse_certificate(std::string_view pem) {
  X509Ptr cert = detail::first_certificate(pem);
  CertificateInfo info;
  info.subject_common_name = common_name(X509_get_subject_name(cert.get()));
  info.issuer_common_name = common_name(X509_get_issuer_name(cert.get()));
  info.issuer = one_line(X509_get_issuer_name(cert.get()));
  info.serial_hex = serial_hex(cert.get());
  info.sans = subject_alt_names(cert.get());
  info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  info.sha256_fingerprint = fingerprint(cert.get());
  return info;
}

bool key_matches_certificate(const PrivateKey& key, std::string_view certificate_pem) {
  X509Ptr cert = detail::first_certificate(certificate_pem);
  EVP_PKEY* public_key = X509_get0_pubkey(cert.get());
  if (public_key == nullptr) detail::throw_openssl("cannot read the certificate's public key");
  // 1 equal, 0 different, negative for different key types: only 1 is a match.
  bool match = EVP_PKEY_eq(key.get(), public_key) == 1;
  detail::drain_openssl_errors();
  return match;
}

namespace detail {

X509Ptr first_certificate(std::string_view pem) {
  auto blocks = split_pem_certificates(pem);
  if (blocks.empty()) {
    throw Error(ErrorKind::crypto, "no certificate found in the PEM data",
                "expected a '-----BEGIN CERTIFICATE-----' block");
  }
  auto bio = read_bio(blocks.front());
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw_openssl("the first certificate in the PEM data is malformed");
  return cert;
}

}  // namespace detail
}  // namespace certcli::crypto
