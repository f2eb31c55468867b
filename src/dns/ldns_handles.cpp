// Shared conversions for dns/ (see ldns_handles.hpp).
#include "dns/ldns_handles.hpp"

#include <certcli/error.hpp>

#include <cctype>
#include <iterator>

namespace certcli::dns::detail {

ldns_rr_type to_ldns(RecordType type) {
  switch (type) {
    case RecordType::A: return LDNS_RR_TYPE_A;
    case RecordType::AAAA: return LDNS_RR_TYPE_AAAA;
    case RecordType::CNAME: return LDNS_RR_TYPE_CNAME;
    case RecordType::TXT: return LDNS_RR_TYPE_TXT;
    case RecordType::NS: return LDNS_RR_TYPE_NS;
    case RecordType::SOA: return LDNS_RR_TYPE_SOA;
    case RecordType::CAA: return LDNS_RR_TYPE_CAA;
  }
  throw Error(ErrorKind::internal, "unknown DNS record type");
}

const char* type_name(RecordType type) {
  switch (type) {
    case RecordType::A: return "A";
    case RecordType::AAAA: return "AAAA";
    case RecordType::CNAME: return "CNAME";
    case RecordType::TXT: return "TXT";
    case RecordType::NS: return "NS";
    case RecordType::SOA: return "SOA";
    case RecordType::CAA: return "CAA";
  }
  return "?";
}

std::string normalize_name(std::string_view name) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

RdfPtr absolute_name(const std::string& name) {
  std::string text = normalize_name(name) + ".";
  return RdfPtr(ldns_dname_new_frm_str(text.c_str()));
}

std::string name_of(const ldns_rdf* rdf) {
  if (rdf == nullptr) return {};
  MallocPtr<char> text(ldns_rdf2str(rdf));
  return text ? normalize_name(text.get()) : std::string();
}

timeval to_timeval(std::chrono::milliseconds timeout) {
  if (timeout.count() < 1) timeout = std::chrono::milliseconds{1};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

std::string describe(std::chrono::milliseconds timeout) {
  auto ms = timeout.count();
  if (ms < 1000) return std::to_string(ms) + " ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  std::string tenths = std::to_string(ms / 100);
  return tenths.substr(0, tenths.size() - 1) + "." + tenths.back() + " s";
}

std::string rcode_name(int rcode) {
  static const char* const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode >= 0 && rcode < static_cast<int>(std::size(names))) return names[rcode];
  return "RCODE " + std::to_string(rcode);
}

RdfPtr address_rdf(const ServerAddress& server) {
  bool v6 = server.host.find(':') != std::string::npos;
  RdfPtr rdf(ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, server.host.c_str()));
  if (!rdf) {
    throw Error(ErrorKind::invalid_input, "\"" + server.host + "\" is not an IP address of a DNS server",
                "give the server as an IPv4 or IPv6 address", server.host);
  }
  return rdf;
}

}  // namespace certcli::dns::detail
