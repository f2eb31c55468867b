// Certificates and keys crossing certcli's edge (certcli/bundle.hpp): reading what an operator
// uploads, in whatever common form it comes, ordering its chain, and writing DER and PKCS#12.
#include "openssl_util.hpp"

#include <certcli/bundle.hpp>

#include <fmt/format.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace certcli::crypto {
namespace {

using detail::X509StackPtr;
using detail::X509StoreCtxPtr;
using detail::X509StorePtr;

using Pkcs12Ptr = std::unique_ptr<PKCS12, Deleter<PKCS12_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, Deleter<OSSL_DECODER_CTX_free>>;
using InfoAccessPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS, Deleter<AUTHORITY_INFO_ACCESS_free>>;

Error bad_input(const std::string& message, std::string hint, const std::string& source) {
  return Error(ErrorKind::invalid_input, message, std::move(hint), source);
}

std::size_t line_of(std::string_view text, std::size_t offset) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n')) + 1;
}

std::string to_pem(X509* cert) {
  auto bio = detail::write_bio();
  if (PEM_write_bio_X509(bio.get(), cert) != 1) detail::throw_openssl("cannot encode a certificate as PEM");
  return detail::bio_contents(bio.get());
}

X509Ptr from_pem(std::string_view pem) { return detail::first_certificate(pem); }

std::string der_of(X509* cert) {
  unsigned char* raw = nullptr;
  int length = i2d_X509(cert, &raw);
  detail::Utf8Ptr owned(raw);
  if (length <= 0) detail::throw_openssl("cannot encode a certificate as DER");
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(length));
}

std::string name_line(const X509_NAME* name) {
  auto bio = detail::write_bio();
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    detail::throw_openssl("cannot print a certificate name");
  return detail::bio_contents(bio.get());
}

std::string subject_of(X509* cert) { return name_line(X509_get_subject_name(cert)); }

bool is_self_signed(X509* cert) {
  // Names match and the certificate's own key verifies its signature.
  bool self = X509_check_issued(cert, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  detail::drain_openssl_errors();
  return self;
}

bool issued(X509* issuer, X509* child) {
  bool link = X509_check_issued(issuer, child) == X509_V_OK && X509_verify(child, X509_get0_pubkey(issuer)) == 1;
  detail::drain_openssl_errors();
  return link;
}

// The caIssuers URL of the Authority Information Access extension: where the CA publishes the
// certificate that issued this one.
std::string ca_issuers_url(X509* cert) {
  InfoAccessPtr access(static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  detail::drain_openssl_errors();
  if (!access) return {};
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(access.get()); ++i) {
    const ACCESS_DESCRIPTION* entry = sk_ACCESS_DESCRIPTION_value(access.get(), i);
    if (OBJ_obj2nid(entry->method) == NID_ad_ca_issuers && entry->location->type == GEN_URI) {
      const ASN1_IA5STRING* uri = entry->location->d.uniformResourceIdentifier;
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                         static_cast<std::size_t>(ASN1_STRING_length(uri)));
    }
  }
  return {};
}

// Whether a root of the system trust store issued `cert` (then the chain is complete without it).
bool issued_by_system_root(X509* cert) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!store || !context) detail::throw_openssl("cannot allocate a certificate store");
  if (X509_STORE_set_default_paths(store.get()) != 1 || X509_STORE_CTX_init(context.get(), store.get(), cert, nullptr) != 1) {
    detail::drain_openssl_errors();
    return false;
  }
  X509* raw = nullptr;
  bool found = X509_STORE_CTX_get1_issuer(&raw, context.get(), cert) == 1;
  X509Ptr issuer(raw);
  found = found && issuer && X509_verify(cert, X509_get0_pubkey(issuer.get())) == 1;
  detail::drain_openssl_errors();
  return found;
}

}  // namespace

std::vector<std::string> read_certificates(std::string_view bytes, const std::string& source) {
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw bad_input(fmt::format("{} is empty", source), "give the file that holds the certificate", source);
  std::vector<std::string> certificates;
  if (bytes.find("-----BEGIN ") == std::string_view::npos) {
    // DER: exactly one certificate, nothing after it.
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const unsigned char* cursor = data;
    X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(bytes.size())));
    detail::drain_openssl_errors();
    if (!cert)
      throw bad_input(fmt::format("{} holds no certificate: it is neither PEM (no '-----BEGIN CERTIFICATE-----' line) nor "
                                  "a DER certificate",
                                  source),
                      "give the certificate as PEM or DER; `openssl x509 -in FILE -noout -text` shows what a file holds",
                      source);
    if (cursor != data + bytes.size())
      throw bad_input(fmt::format("{} holds a DER certificate followed by {} more bytes", source,
                                  static_cast<std::size_t>(data + bytes.size() - cursor)),
                      "a DER file holds one certificate; give the chain as PEM, or in a file of its own", source);
    certificates.push_back(to_pem(cert.get()));
    return certificates;
  }
  std::size_t position = 0;
  for (int block = 1;; ++block) {
    std::size_t begin = bytes.find("-----BEGIN ", position);
    if (begin == std::string_view::npos) break;
    std::size_t label_end = bytes.find("-----", begin + 11);
    std::string label(bytes.substr(begin + 11, label_end == std::string_view::npos ? 0 : label_end - begin - 11));
    const std::size_t line = line_of(bytes, begin);
    const std::string where = fmt::format("{}: block {} (line {})", source, block, line);
    std::string end_line = "-----END " + label + "-----";
    std::size_t end = label_end == std::string_view::npos ? std::string_view::npos : bytes.find(end_line, label_end);
    if (end == std::string_view::npos)
      throw bad_input(fmt::format("{} is cut short: '-----BEGIN {}-----' has no END line", where, label),
                      "the file was truncated or edited; take it again from where it came", source);
    position = end + end_line.size();
    if (label != "CERTIFICATE") {
      std::string hint = label.find("PRIVATE KEY") != std::string::npos
                             ? "give the private key in a file of its own with --key"
                             : "the file should hold only '-----BEGIN CERTIFICATE-----' blocks";
      throw bad_input(fmt::format("{} is a {}, not a CERTIFICATE", where, label), hint, source);
    }
    auto bio = detail::read_bio(bytes.substr(begin, position - begin));
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      std::string why = detail::drain_openssl_errors();
      throw bad_input(fmt::format("{} is not a valid certificate{}", where, why.empty() ? "" : " (" + why + ")"),
                      "the block is damaged; take the file again from where it came", source);
    }
    certificates.push_back(to_pem(cert.get()));
  }
  if (certificates.empty())
    throw bad_input(fmt::format("{} holds no complete PEM block", source), "give the certificate as PEM or DER", source);
  return certificates;
}

std::string read_private_key(std::string_view bytes, const std::string& passphrase, const std::string& source) {
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw bad_input(fmt::format("{} is empty", source), "give the file that holds the private key", source);
  if (bytes.find("-----BEGIN ") != std::string_view::npos) {
    if (bytes.find("PRIVATE KEY-----") == std::string_view::npos)
      throw bad_input(fmt::format("{} holds no PRIVATE KEY block", source),
                      "give the private key (PKCS#8, PKCS#1 or SEC1 PEM, or DER) with --key", source);
    try {
      return PrivateKey::from_pem(bytes, passphrase).to_pem();
    } catch (const Error& e) {
      throw bad_input(fmt::format("{}: {}", source, e.what()),
                      crypto::is_encrypted_key_pem(bytes) ? "give its passphrase with --key-passphrase-file" : e.hint(),
                      source);
    }
  }
  // DER: PKCS#8 (maybe encrypted) or a traditional RSA/EC structure; the decoder tries each.
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!decoder) detail::throw_openssl("cannot set up a key decoder");
  if (!passphrase.empty())
    OSSL_DECODER_CTX_set_passphrase(decoder.get(), reinterpret_cast<const unsigned char*>(passphrase.data()),
                                    passphrase.size());
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t length = bytes.size();
  bool ok = OSSL_DECODER_from_data(decoder.get(), &data, &length) == 1;
  PkeyPtr key(raw);
  detail::drain_openssl_errors();
  if (!ok || !key)
    throw bad_input(fmt::format("{} holds no private key: it is neither PEM nor a DER private key{}", source,
                                passphrase.empty() ? "" : " (or the passphrase does not open it)"),
                    "give the private key as PEM or DER (an encrypted one with --key-passphrase-file)", source);
  auto bio = detail::write_bio();
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    detail::throw_openssl("cannot encode the private key as PEM");
  try {
    return PrivateKey::from_pem(detail::bio_contents(bio.get())).to_pem();
  } catch (const Error& e) {
    throw bad_input(fmt::format("{}: {}", source, e.what()), e.hint(), source);
  }
}

OrderedChain order_chain(const std::vector<std::string>& certificates, const std::string& key_pem) {
  if (certificates.empty()) throw Error(ErrorKind::internal, "order_chain without certificates");
  std::vector<X509Ptr> pool;
  std::vector<std::string> seen;  // DER, to drop a certificate given twice
  for (const auto& pem : certificates) {
    X509Ptr cert = from_pem(pem);
    std::string der = der_of(cert.get());
    if (std::find(seen.begin(), seen.end(), der) != seen.end()) continue;
    seen.push_back(std::move(der));
    pool.push_back(std::move(cert));
  }
  std::size_t leaf_index = 0;
  bool found_leaf = false;
  if (!key_pem.empty()) {
    PrivateKey key = PrivateKey::from_pem(key_pem);
    for (std::size_t i = 0; i < pool.size() && !found_leaf; ++i)
      if (EVP_PKEY_eq(key.get(), X509_get0_pubkey(pool[i].get())) == 1) leaf_index = i, found_leaf = true;
    detail::drain_openssl_errors();
  }
  for (std::size_t i = 0; i < pool.size() && !found_leaf; ++i)
    if (X509_check_ca(pool[i].get()) == 0) leaf_index = i, found_leaf = true;

  OrderedChain chain;
  std::vector<std::size_t> path{leaf_index};
  std::vector<bool> used(pool.size(), false);
  used[leaf_index] = true;
  bool reached_root = is_self_signed(pool[leaf_index].get());
  while (!reached_root) {
    X509* current = pool[path.back()].get();
    std::size_t next = pool.size();
    for (std::size_t i = 0; i < pool.size() && next == pool.size(); ++i)
      if (!used[i] && issued(pool[i].get(), current)) next = i;
    if (next == pool.size()) break;
    used[next] = true;
    path.push_back(next);
    reached_root = is_self_signed(pool[next].get());
  }
  X509* last = pool[path.back()].get();
  if (!reached_root && !issued_by_system_root(last)) {
    std::string issuer = name_line(X509_get_issuer_name(last));
    std::string url = ca_issuers_url(last);
    throw Error(ErrorKind::invalid_input,
                fmt::format("the chain does not link: the intermediate certificate '{}' that issued '{}' is missing "
                            "(it is neither in the files given nor a root of the system trust store)",
                            issuer, subject_of(last)),
                url.empty() ? fmt::format("add the certificate of '{}' to --chain (your CA publishes it), or the whole "
                                          "chain up to and including a private root",
                                          issuer)
                            : fmt::format("add the certificate of '{}' to --chain; the CA publishes it at {}", issuer, url),
                subject_of(last));
  }
  if (reached_root && path.size() > 1) {
    chain.notes.push_back(fmt::format("dropped the root '{}': servers do not send it, clients already hold it",
                                      subject_of(pool[path.back()].get())));
    path.pop_back();
  } else if (reached_root) {
    chain.notes.push_back("the certificate is self-signed: it has no chain");
  }
  for (std::size_t i = 0; i < pool.size(); ++i)
    if (!used[i])
      chain.notes.push_back(fmt::format("dropped '{}': it is not part of the certificate's chain", subject_of(pool[i].get())));
  // The input order was leaf first, then each issuer: anything else was reordered.
  for (std::size_t i = 0; i < path.size(); ++i)
    if (path[i] != i) chain.reordered = true;
  chain.leaf = to_pem(pool[path.front()].get());
  for (std::size_t i = 1; i < path.size(); ++i) chain.intermediates.push_back(to_pem(pool[path[i]].get()));
  return chain;
}

std::string certificate_der(std::string_view pem) {
  X509Ptr cert = from_pem(pem);
  return der_of(cert.get());
}

std::string make_pkcs12(const std::string& certificate_pem, const std::string& chain_pem, const std::string& key_pem,
                        const Pkcs12Options& options) {
  if (options.password.empty()) throw Error(ErrorKind::internal, "make_pkcs12 needs a password");
  X509Ptr leaf = from_pem(certificate_pem);
  PrivateKey key = PrivateKey::from_pem(key_pem);
  X509StackPtr chain(sk_X509_new_null());
  if (!chain) detail::throw_openssl("cannot allocate a certificate list");
  for (const auto& pem : split_pem_certificates(chain_pem)) {
    X509Ptr cert = from_pem(pem);
    if (sk_X509_push(chain.get(), cert.get()) <= 0) detail::throw_openssl("cannot build the certificate list");
    cert.release();  // owned by the stack now
  }
  const int bag_nid = options.legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
  const char* name = options.friendly_name.empty() ? nullptr : options.friendly_name.c_str();
  // The MAC is added below, so that the modern form gets SHA-256 instead of PKCS12_create's SHA-1.
  Pkcs12Ptr p12(PKCS12_create_ex(options.password.c_str(), name, key.get(), leaf.get(), chain.get(), bag_nid, bag_nid,
                                 PKCS12_DEFAULT_ITER, -1, 0, nullptr, nullptr));
  if (!p12) detail::throw_openssl("cannot build the PKCS#12 file");
  const EVP_MD* mac = options.legacy ? EVP_sha1() : EVP_sha256();
  if (PKCS12_set_mac(p12.get(), options.password.c_str(), -1, nullptr, 0, PKCS12_DEFAULT_ITER, mac) != 1)
    detail::throw_openssl("cannot add the PKCS#12 MAC");
  unsigned char* raw = nullptr;
  int length = i2d_PKCS12(p12.get(), &raw);
  detail::Utf8Ptr owned(raw);
  if (length <= 0) detail::throw_openssl("cannot encode the PKCS#12 file");
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(length));
}

}  // namespace certcli::crypto
