// PKCS#10 certificate signing requests (RFC 2986) for ACME finalize (RFC 8555 section 7.4).
#include "openssl_util.hpp"

#include <arpa/inet.h>

#include <climits>

namespace certcli::crypto {
namespace {

// RFC 5280 Appendix A: ub-common-name is 64 characters. A longer first name still goes in the
// SAN, which is all ACME CAs look at (RFC 8555 7.4); only the CN is omitted.
constexpr std::size_t kMaxCommonName = 64;

// Strict text-to-address parsing: inet_pton rejects forms such as "1.2.3.4.example.com" that
// sscanf-based parsers would accept as an IP address.
std::optional<std::string> parse_ip(const std::string& name) {
  unsigned char buffer[16];
  if (inet_pton(AF_INET, name.c_str(), buffer) == 1) return std::string(reinterpret_cast<char*>(buffer), 4);
  if (inet_pton(AF_INET6, name.c_str(), buffer) == 1) return std::string(reinterpret_cast<char*>(buffer), 16);
  return std::nullopt;
}

void check_name(const std::string& name) {
  if (name.empty()) {
    throw Error(ErrorKind::invalid_input, "cannot request a certificate for an empty name",
                "remove the empty name from the list");
  }
  // dNSName is an IA5String (RFC 5280 4.2.1.6): 7-bit ASCII; IDNs must arrive as A-labels.
  for (unsigned char c : name) {
    if (c < 0x21 || c > 0x7E) {
      throw Error(ErrorKind::invalid_input, "'" + name + "' contains a character a certificate name cannot hold",
                  "use the ASCII (xn--) form of internationalized names", name);
    }
  }
  if (name.size() > INT_MAX / 2) throw Error(ErrorKind::invalid_input, "name is too long", {}, name);
}

detail::GeneralNamePtr make_general_name(const std::string& name) {
  detail::GeneralNamePtr general(GENERAL_NAME_new());
  if (!general) detail::throw_openssl("cannot allocate a subjectAltName entry");
  auto ip = parse_ip(name);
  detail::Asn1StringPtr value(ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
  if (!value) detail::throw_openssl("cannot allocate a subjectAltName entry");
  const std::string& bytes = ip ? *ip : name;
  if (ASN1_STRING_set(value.get(), bytes.data(), static_cast<int>(bytes.size())) != 1) {
    detail::throw_openssl("cannot store '" + name + "' in a subjectAltName entry");
  }
  GENERAL_NAME_set0_value(general.get(), ip ? GEN_IPADD : GEN_DNS, value.release());
  return general;
}

detail::ExtStackPtr san_extension(const std::vector<std::string>& names) {
  detail::GeneralNamesPtr general_names(GENERAL_NAMES_new());
  if (!general_names) detail::throw_openssl("cannot allocate a subjectAltName list");
  for (const auto& name : names) {
    auto general = make_general_name(name);
    if (sk_GENERAL_NAME_push(general_names.get(), general.get()) <= 0) {
      detail::throw_openssl("cannot add '" + name + "' to the subjectAltName list");
    }
    general.release();  // now owned by the stack
  }
  detail::X509ExtPtr extension(X509V3_EXT_i2d(NID_subject_alt_name, 0, general_names.get()));
  if (!extension) detail::throw_openssl("cannot encode the subjectAltName extension");
  detail::ExtStackPtr extensions(sk_X509_EXTENSION_new_null());
  if (!extensions || sk_X509_EXTENSION_push(extensions.get(), extension.get()) <= 0) {
    detail::throw_openssl("cannot build the CSR extension list");
  }
  extension.release();
  return extensions;
}

}  // namespace

std::string make_csr_der(const PrivateKey& key, const std::vector<std::string>& names) {
  if (names.empty()) {
    throw Error(ErrorKind::invalid_input, "a certificate request needs at least one name",
                "name the domains the certificate is for");
  }
  for (const auto& name : names) check_name(name);

  detail::X509ReqPtr request(X509_REQ_new());
  if (!request) detail::throw_openssl("cannot allocate a CSR");
  // Version 1 is encoded as 0 (RFC 2986 4.1).
  if (X509_REQ_set_version(request.get(), 0) != 1) detail::throw_openssl("cannot set the CSR version");

  detail::X509NamePtr subject(X509_NAME_new());
  if (!subject) detail::throw_openssl("cannot allocate the CSR subject");
  const std::string& first = names.front();
  if (first.size() <= kMaxCommonName) {
    if (X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(first.data()),
                                   static_cast<int>(first.size()), -1, 0) != 1) {
      detail::throw_openssl("cannot set the CSR common name to '" + first + "'");
    }
  }
  if (X509_REQ_set_subject_name(request.get(), subject.get()) != 1) {
    detail::throw_openssl("cannot set the CSR subject");
  }
  if (X509_REQ_set_pubkey(request.get(), key.get()) != 1) detail::throw_openssl("cannot set the CSR public key");

  auto extensions = san_extension(names);
  if (X509_REQ_add_extensions(request.get(), extensions.get()) != 1) {
    detail::throw_openssl("cannot add the subjectAltName extension to the CSR");
  }
  // SHA-256 for both key families: every ACME CA accepts it and RFC 8555 does not ask for more.
  if (X509_REQ_sign(request.get(), key.get(), EVP_sha256()) <= 0) detail::throw_openssl("cannot sign the CSR");

  int length = i2d_X509_REQ(request.get(), nullptr);
  if (length <= 0) detail::throw_openssl("cannot DER-encode the CSR");
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509_REQ(request.get(), &out) != length) detail::throw_openssl("cannot DER-encode the CSR");
  return der;
}

}  // namespace certcli::crypto
