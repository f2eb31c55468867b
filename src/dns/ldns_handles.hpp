// src/dns/ldns_handles.hpp — owners for ldns handles and the small conversions every file of
// dns/ shares (names, record types, durations). Private to dns/: no other module sees ldns.
#pragma once

#include <certcli/dns.hpp>

// ldns 1.8.3's one public header declares its DSA/RSA helpers with OpenSSL's RSA and DSA
// types, which OPENSSL_NO_DEPRECATED (set for the whole project) hides. dns/ calls none of
// them (tsig_sha384.cpp uses only current OpenSSL 3 calls), so the flag is lifted for these
// files only.
#undef OPENSSL_NO_DEPRECATED
#include <ldns/ldns.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace certcli::dns::detail {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
inline void free_bytes(void* p) { std::free(p); }

using ResolverPtr = std::unique_ptr<ldns_resolver, Deleter<ldns_resolver_deep_free>>;
using PktPtr = std::unique_ptr<ldns_pkt, Deleter<ldns_pkt_free>>;
using RdfPtr = std::unique_ptr<ldns_rdf, Deleter<ldns_rdf_deep_free>>;
using RrPtr = std::unique_ptr<ldns_rr, Deleter<ldns_rr_free>>;
using RrListPtr = std::unique_ptr<ldns_rr_list, Deleter<ldns_rr_list_deep_free>>;
using BufferPtr = std::unique_ptr<ldns_buffer, Deleter<ldns_buffer_free>>;
// Memory ldns hands over with malloc (wire buffers, sockaddrs, strings).
template <class T>
using MallocPtr = std::unique_ptr<T, Deleter<free_bytes>>;

ldns_rr_type to_ldns(RecordType type);
const char* type_name(RecordType type);

// "Example.COM." and "example.com" both become "example.com"; the root stays "".
std::string normalize_name(std::string_view name);
// An absolute ldns name for `name` (written with or without the trailing dot); nullptr when
// ldns cannot parse it.
RdfPtr absolute_name(const std::string& name);
// An ldns domain name rdf as certcli writes names: lowercased, no trailing dot.
std::string name_of(const ldns_rdf* rdf);

// ldns timeouts are struct timeval.
timeval to_timeval(std::chrono::milliseconds timeout);
// "5 s", "1.5 s", "200 ms" for messages.
std::string describe(std::chrono::milliseconds timeout);

// "NOERROR", "SERVFAIL", "NOTAUTH" ... ("RCODE 23" for one without a name).
std::string rcode_name(int rcode);

// An ldns address rdf for a ServerAddress host (A or AAAA).
RdfPtr address_rdf(const ServerAddress& server);

// The bytes of a TSIG secret written in base64; nullopt when it is not valid base64.
std::optional<std::string> decode_base64(const std::string& secret);

// TSIG with hmac-sha384, which ldns 1.8.3 cannot compute (tsig_sha384.cpp): sign `query` as
// ldns_pkt_tsig_sign would, and verify an answer's wire form against the request's MAC rdf.
ldns_status sign_hmac_sha384(ldns_pkt* query, const std::string& key_name, const std::string& secret, uint16_t fudge);
bool verify_hmac_sha384(const uint8_t* wire, size_t size, const std::string& secret, const ldns_rdf* request_mac);

}  // namespace certcli::dns::detail
