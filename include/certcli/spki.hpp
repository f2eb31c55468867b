// certcli/spki.hpp — the crypto half of certificate pinning: SubjectPublicKeyInfo pins
// (RFC 7469: base64 of the SHA-256 of the DER SPKI) of certificates and keys in any common
// encoding, and whether a chain validates against a trust store. Part of crypto/: OpenSSL stays
// behind it. Reads bytes and returns values; never touches the store or the network.
#pragma once

#include <certcli/crypto.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::crypto {

// Standard base64 (RFC 4648 section 4) with padding: the alphabet pins are written in.
std::string base64_encode(std::string_view bytes);
// Nothing when `text` is not padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);

// The pin of a DER SubjectPublicKeyInfo: base64(SHA-256(spki)).
std::string spki_pin(std::string_view spki_der);
// The DER SPKI of a private key's public half.
std::string public_key_der(const PrivateKey& key);

// What a file a pin is computed from holds.
struct PinnedObject {
  std::string kind;  // "certificate", "private key" or "public key"
  std::string pin;
  std::optional<CertificateInfo> certificate;  // for a certificate
};
// A certificate (PEM or DER; the first of a PEM bundle), a private key (as read_private_key
// reads them; `passphrase` opens an encrypted one) or a public key (PEM "PUBLIC KEY" or DER
// SPKI). Throws Error{invalid_input} naming `source` when it holds none of them.
PinnedObject pinned_object(std::string_view bytes, const std::string& passphrase, const std::string& source);

// One certificate of a chain as pinning shows it.
struct ChainCertificate {
  std::string pem;
  CertificateInfo info;
  std::string pin;
  bool self_signed = false;
};
ChainCertificate describe_chain_certificate(const std::string& pem);

// Whether `chain` (PEM, leaf first, as served or as a file holds it) validates: against the
// system trust store, or the PEM file `ca_bundle` instead when it is given, plus the roots of
// the PEM text `extra_roots` (certcli's own bundle). Checks signatures and validity dates;
// with `host`, that the leaf names it too.
struct TrustVerdict {
  bool trusted = false;
  std::string detail;    // OpenSSL's reason when not trusted
  std::string root_pem;  // the anchor the path ended at, when one was found
  std::string anchor;    // "the system trust store", the ca_bundle file, or "certcli's trusted roots"
};
TrustVerdict verify_chain(const std::vector<std::string>& chain, const std::string& ca_bundle,
                          const std::string& extra_roots, const std::string& host = {});

}  // namespace certcli::crypto
