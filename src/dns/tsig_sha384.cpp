// TSIG (RFC 8945) with HMAC-SHA-384, which ldns 1.8.3 cannot do itself: its table of digest
// algorithms spells the name "hmac-shac384.", so ldns_pkt_tsig_sign and ldns_pkt_tsig_verify
// fail for the real "hmac-sha384.". The packet handling stays with ldns (the TSIG record is
// built and placed the way ldns_pkt_tsig_sign does it); only the MAC is computed here.
#include "dns/ldns_handles.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <ctime>

namespace certcli::dns::detail {
namespace {

constexpr const char* kAlgorithm = "hmac-sha384.";
constexpr size_t kMacSize = 48;

void put16(std::string& out, unsigned value) {
  out += static_cast<char>((value >> 8) & 0xff);
  out += static_cast<char>(value & 0xff);
}

// A name in canonical wire form (RFC 4034 6.2: lowercased, uncompressed).
bool put_name(std::string& out, const ldns_rdf* name) {
  RdfPtr canonical(ldns_rdf_clone(name));
  if (!canonical) return false;
  ldns_dname2canonical(canonical.get());
  out.append(reinterpret_cast<const char*>(ldns_rdf_data(canonical.get())), ldns_rdf_size(canonical.get()));
  return true;
}

std::optional<std::string> hmac(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t size = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA384", nullptr, key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof mac, &size)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(mac), size);
}

// RFC 8945 4.3.3: the TSIG variables that follow the message in the MAC's input.
bool put_variables(std::string& out, const ldns_rr* tsig) {
  if (!put_name(out, ldns_rr_owner(tsig))) return false;
  put16(out, LDNS_RR_CLASS_ANY);
  out.append(4, '\0');  // TTL 0
  if (!put_name(out, ldns_rr_rdf(tsig, 0))) return false;
  for (size_t i : {size_t{1}, size_t{2}, size_t{5}, size_t{6}}) {  // time, fudge, error, other data
    const ldns_rdf* rdf = ldns_rr_rdf(tsig, i);
    out.append(reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf));
  }
  return true;
}

ldns_rdf* int16_data(const std::string& bytes) {
  std::string data;
  put16(data, static_cast<unsigned>(bytes.size()));
  data += bytes;
  return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, data.size(), data.data());
}

}  // namespace

std::optional<std::string> decode_base64(const std::string& secret) {
  if (secret.empty() || secret.size() % 4 != 0) return std::nullopt;
  std::string out(secret.size() / 4 * 3, '\0');
  int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             reinterpret_cast<const unsigned char*>(secret.data()), static_cast<int>(secret.size()));
  if (size < 0) return std::nullopt;
  size_t padding = secret.size() - secret.find_last_not_of('=') - 1;
  if (padding > 2) return std::nullopt;
  out.resize(static_cast<size_t>(size) - padding);
  return out;
}

ldns_status sign_hmac_sha384(ldns_pkt* query, const std::string& key_name, const std::string& secret, uint16_t fudge) {
  auto key = decode_base64(secret);
  if (!key) return LDNS_STATUS_INVALID_B64;
  uint8_t* raw = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&raw, query, &size) != LDNS_STATUS_OK) return LDNS_STATUS_ERR;
  MallocPtr<uint8_t> wire(raw);

  RrPtr tsig(ldns_rr_new());
  RdfPtr owner(ldns_dname_new_frm_str(key_name.c_str()));
  RdfPtr algorithm(ldns_dname_new_frm_str(kAlgorithm));
  if (!tsig || !owner || !algorithm) return LDNS_STATUS_MEM_ERR;
  ldns_rr_set_owner(tsig.get(), owner.release());
  ldns_rr_set_type(tsig.get(), LDNS_RR_TYPE_TSIG);
  ldns_rr_set_class(tsig.get(), LDNS_RR_CLASS_ANY);
  ldns_rr_set_ttl(tsig.get(), 0);
  auto now = static_cast<uint64_t>(std::time(nullptr));
  std::string time_signed;
  for (int shift = 40; shift >= 0; shift -= 8) time_signed += static_cast<char>((now >> shift) & 0xff);
  std::string fudge_bytes, id, zero;
  put16(fudge_bytes, fudge);
  put16(id, ldns_pkt_id(query));
  put16(zero, 0);
  ldns_rdf* fields[] = {algorithm.release(),
                        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TSIGTIME, time_signed.size(), time_signed.data()),
                        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16, 2, fudge_bytes.data()),
                        int16_data(std::string(kMacSize, '\0')),  // replaced by the MAC below
                        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16, 2, id.data()),    // original ID
                        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16, 2, zero.data()),  // error
                        int16_data("")};                                              // other data
  for (ldns_rdf* field : fields) {
    if (!field || !ldns_rr_push_rdf(tsig.get(), field)) return LDNS_STATUS_MEM_ERR;
  }
  std::string input(reinterpret_cast<const char*>(wire.get()), size);
  if (!put_variables(input, tsig.get())) return LDNS_STATUS_ERR;
  auto mac = hmac(*key, input);
  if (!mac) return LDNS_STATUS_CRYPTO_TSIG_ERR;
  ldns_rdf_deep_free(ldns_rr_set_rdf(tsig.get(), int16_data(*mac), 3));
  ldns_pkt_set_tsig(query, tsig.release());
  return LDNS_STATUS_OK;
}

bool verify_hmac_sha384(const uint8_t* wire, size_t size, const std::string& secret, const ldns_rdf* request_mac) {
  auto key = decode_base64(secret);
  if (!key || size < LDNS_HEADER_SIZE || !request_mac) return false;
  // The answer as signed: without its TSIG record (the last one) and with ARCOUNT one less.
  size_t counts[4];
  for (size_t i = 0; i < 4; ++i) counts[i] = (size_t{wire[4 + 2 * i]} << 8) | wire[5 + 2 * i];
  if (counts[3] == 0) return false;
  size_t position = LDNS_HEADER_SIZE;
  const ldns_pkt_section sections[] = {LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
                                       LDNS_SECTION_ADDITIONAL};
  for (size_t s = 0; s < 4; ++s) {
    size_t count = s == 3 ? counts[3] - 1 : counts[s];
    for (size_t i = 0; i < count; ++i) {
      ldns_rr* skipped = nullptr;
      if (ldns_wire2rr(&skipped, wire, size, &position, sections[s]) != LDNS_STATUS_OK) return false;
      ldns_rr_free(skipped);
    }
  }
  ldns_rr* raw = nullptr;
  size_t tsig_position = position;
  if (ldns_wire2rr(&raw, wire, size, &tsig_position, LDNS_SECTION_ADDITIONAL) != LDNS_STATUS_OK) return false;
  RrPtr tsig(raw);
  if (ldns_rr_get_type(tsig.get()) != LDNS_RR_TYPE_TSIG || ldns_rr_rd_count(tsig.get()) < 7) return false;

  std::string message(reinterpret_cast<const char*>(wire), position);
  size_t arcount = counts[3] - 1;
  message[10] = static_cast<char>(arcount >> 8);
  message[11] = static_cast<char>(arcount & 0xff);
  const ldns_rdf* original_id = ldns_rr_rdf(tsig.get(), 4);
  message.replace(0, 2, reinterpret_cast<const char*>(ldns_rdf_data(original_id)), 2);

  // RFC 8945 4.3.3: request MAC (with its length), answer, TSIG variables.
  std::string input(reinterpret_cast<const char*>(ldns_rdf_data(request_mac)), ldns_rdf_size(request_mac));
  input += message;
  if (!put_variables(input, tsig.get())) return false;
  auto mac = hmac(*key, input);
  const ldns_rdf* received = ldns_rr_rdf(tsig.get(), 3);
  if (!mac || ldns_rdf_size(received) != mac->size() + 2) return false;
  return CRYPTO_memcmp(ldns_rdf_data(received) + 2, mac->data(), mac->size()) == 0;
}

}  // namespace certcli::dns::detail
