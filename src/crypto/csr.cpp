// PKCS#10 certificate signing requests (RFC 2986) for ACME finalize (RFC 8555 section 7.4).
#include "openssl_util.hpp"

#include <fmt/format.h>
#include <openssl/pem.h>

#include <arpa/inet.h>

#include <algorithm>

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
  // An IP address goes in the SAN only: the CA/Browser Forum deprecates it as a CN.
  if (first.size() <= kMaxCommonName && !parse_ip(first)) {
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

namespace {

std::string public_key_der_of(EVP_PKEY* key) {
  int length = i2d_PUBKEY(key, nullptr);
  if (length <= 0) detail::throw_openssl("cannot encode a public key");
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &out) != length) detail::throw_openssl("cannot encode a public key");
  return der;
}

std::string general_name_text(const GENERAL_NAME* name) {
  if (name->type == GEN_DNS) {
    const ASN1_STRING* value = name->d.dNSName;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                       static_cast<std::size_t>(ASN1_STRING_length(value)));
  }
  char text[INET6_ADDRSTRLEN] = {};
  const ASN1_OCTET_STRING* address = name->d.iPAddress;
  int length = ASN1_STRING_length(address);
  const unsigned char* bytes = ASN1_STRING_get0_data(address);
  if ((length == 4 && inet_ntop(AF_INET, bytes, text, sizeof text)) ||
      (length == 16 && inet_ntop(AF_INET6, bytes, text, sizeof text)))
    return text;
  throw Error(ErrorKind::crypto, fmt::format("the CSR has an iPAddress entry of {} bytes", length),
              "make the CSR again with valid subjectAltName entries");
}

}  // namespace

CsrInfo parse_csr(std::string_view pem_or_der) {
  const std::string hint = "give a PKCS#10 certificate request, PEM (BEGIN CERTIFICATE REQUEST) or DER, as "
                           "`openssl req -new` makes it";
  detail::X509ReqPtr request;
  if (pem_or_der.find("-----BEGIN") != std::string_view::npos) {
    auto bio = detail::read_bio(pem_or_der);
    request.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const auto* in = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    request.reset(d2i_X509_REQ(nullptr, &in, static_cast<long>(pem_or_der.size())));
  }
  if (!request) detail::throw_openssl("the file holds no readable certificate request", hint);
  EVP_PKEY* key = X509_REQ_get0_pubkey(request.get());
  if (key == nullptr) detail::throw_openssl("the certificate request has no readable public key", hint);
  // A request whose signature does not verify was not made by the holder of its key.
  if (X509_REQ_verify(request.get(), key) != 1)
    detail::throw_openssl("the certificate request's signature does not verify with its own public key",
                          "make the CSR again with the private key it names");
  CsrInfo info;
  info.public_key_der = public_key_der_of(key);
  auto add = [&](std::string name) {
    if (std::find(info.names.begin(), info.names.end(), name) == info.names.end()) info.names.push_back(std::move(name));
  };
  const X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  if (int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); index >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* raw = nullptr;
    int length = ASN1_STRING_to_UTF8(&raw, cn);
    detail::Utf8Ptr text(raw);
    if (length < 0) detail::throw_openssl("cannot read the certificate request's common name", hint);
    add(std::string(reinterpret_cast<const char*>(text.get()), static_cast<std::size_t>(length)));
  }
  detail::ExtStackPtr extensions(X509_REQ_get_extensions(request.get()));
  if (extensions) {
    int critical = 0;
    detail::GeneralNamesPtr sans(
        static_cast<GENERAL_NAMES*>(X509V3_get_d2i(extensions.get(), NID_subject_alt_name, &critical, nullptr)));
    if (!sans && critical != -1) detail::throw_openssl("the certificate request's subjectAltName cannot be read", hint);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type == GEN_DNS || name->type == GEN_IPADD) add(general_name_text(name));
    }
  }
  detail::drain_openssl_errors();
  if (info.names.empty())
    throw Error(ErrorKind::crypto, "the certificate request names nothing (no common name, no subjectAltName)",
                "make the CSR again with the domain's names as subjectAltName entries");
  int length = i2d_X509_REQ(request.get(), nullptr);
  if (length <= 0) detail::throw_openssl("cannot DER-encode the certificate request");
  info.der.assign(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(info.der.data());
  if (i2d_X509_REQ(request.get(), &out) != length) detail::throw_openssl("cannot DER-encode the certificate request");
  return info;
}

std::string certificate_public_key_der(std::string_view certificate_pem) {
  X509Ptr cert = detail::first_certificate(certificate_pem);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) detail::throw_openssl("cannot read the certificate's public key");
  return public_key_der_of(key);
}

bool certificate_has_public_key(std::string_view certificate_pem, std::string_view public_key_der) {
  return certificate_public_key_der(certificate_pem) == public_key_der;
}

}  // namespace certcli::crypto
