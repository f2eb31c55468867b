// Resolver: lookups through a recursive resolver and questions to one authoritative server,
// all through ldns; the zone of a name, its authoritative servers, CNAME chains and CAA.
#include "dns/ldns_handles.hpp"

#include <certcli/dns.hpp>
#include <certcli/error.hpp>

#include <algorithm>
#include <cctype>
#include <new>
#include <set>

namespace certcli::dns {
namespace {
using namespace detail;

ResolverPtr make_resolver(const std::optional<ServerAddress>& server, std::chrono::milliseconds timeout,
                          bool recursive) {
  ResolverPtr resolver;
  if (server) {
    resolver.reset(ldns_resolver_new());
    if (!resolver) throw std::bad_alloc();
    RdfPtr address = address_rdf(*server);
    if (ldns_resolver_push_nameserver(resolver.get(), address.get()) != LDNS_STATUS_OK) {
      throw Error(ErrorKind::internal, "ldns refused the DNS server address " + server->to_string());
    }
    ldns_resolver_set_port(resolver.get(), static_cast<uint16_t>(server->port));
  } else {
    ldns_resolver* raw = nullptr;
    ldns_status status = ldns_resolver_new_frm_file(&raw, nullptr);
    resolver.reset(raw);
    if (status != LDNS_STATUS_OK || !resolver || ldns_resolver_nameserver_count(resolver.get()) == 0) {
      throw Error(ErrorKind::network,
                  std::string("cannot use the system resolver: /etc/resolv.conf names no usable server (") +
                      (status != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(status) : "no nameserver line") + ")",
                  "name a DNS resolver explicitly, or fix /etc/resolv.conf", "/etc/resolv.conf");
    }
  }
  ldns_resolver* r = resolver.get();
  ldns_resolver_set_recursive(r, recursive);
  // `timeout` bounds the whole question: two tries (one retry) of half of it each.
  ldns_resolver_set_timeout(r, to_timeval(timeout / 2));
  ldns_resolver_set_retry(r, 2);
  ldns_resolver_set_retrans(r, 0);
  // UDP first; on a truncated answer ldns asks again with EDNS0 and then over TCP.
  ldns_resolver_set_usevc(r, false);
  ldns_resolver_set_fallback(r, true);
  ldns_resolver_set_igntc(r, false);
  // Names are always absolute: no search list or default domain may be appended.
  ldns_resolver_set_defnames(r, false);
  ldns_resolver_set_dnsrch(r, false);
  ldns_resolver_set_dnssec(r, false);
  ldns_resolver_set_random(r, false);
  ldns_resolver_set_fail(r, false);
  return resolver;
}

// "127.0.0.1:5353", or "the system resolver (10.0.0.2:53, 10.0.0.3:53)".
std::string describe_servers(const ldns_resolver* r, bool system) {
  std::string list;
  ldns_rdf** servers = ldns_resolver_nameservers(r);
  for (size_t i = 0; i < ldns_resolver_nameserver_count(r); ++i) {
    MallocPtr<char> text(ldns_rdf2str(servers[i]));
    ServerAddress address{text ? text.get() : "?", ldns_resolver_port(r) ? ldns_resolver_port(r) : 53};
    list += (list.empty() ? "" : ", ") + address.to_string();
  }
  return system ? "the system resolver (" + list + ")" : list;
}

struct Reply {
  PktPtr packet;
  std::string asked;  // who answered, for messages
};

Reply send(const std::optional<ServerAddress>& server, std::chrono::milliseconds timeout, bool recursive,
           const std::string& name, RecordType type) {
  RdfPtr qname = absolute_name(name);
  if (!qname) {
    throw Error(ErrorKind::invalid_input, "\"" + name + "\" is not a valid DNS name", "check the spelling of the name",
                name);
  }
  ResolverPtr resolver = make_resolver(server, timeout, recursive);
  std::string asked = describe_servers(resolver.get(), !server.has_value());
  ldns_pkt* raw = nullptr;
  ldns_status status = ldns_resolver_send(&raw, resolver.get(), qname.get(), to_ldns(type), LDNS_RR_CLASS_IN,
                                          recursive ? LDNS_RD : 0);
  PktPtr packet(raw);
  if (status != LDNS_STATUS_OK || !packet) {
    throw Error(ErrorKind::network,
                "no answer from " + asked + " for " + type_name(type) + " " + normalize_name(name) + " within " +
                    describe(timeout) + " (" + ldns_get_errorstr_by_id(status) + ")",
                "check that " + asked + " is running and answers DNS over UDP and TCP; a firewall may be dropping "
                "the packets",
                normalize_name(name));
  }
  return {std::move(packet), asked};
}

std::string owner_of(const ldns_rr* rr) { return name_of(ldns_rr_owner(rr)); }

// The bytes of a character-string (length-prefixed) or of a CAA value (the rest of the rdata).
std::string text_of(const ldns_rdf* rdf) {
  const auto* data = reinterpret_cast<const char*>(ldns_rdf_data(rdf));
  size_t size = ldns_rdf_size(rdf);
  ldns_rdf_type kind = ldns_rdf_get_type(rdf);
  if ((kind == LDNS_RDF_TYPE_STR || kind == LDNS_RDF_TYPE_TAG) && size > 0) {
    size_t length = std::min<size_t>(static_cast<unsigned char>(data[0]), size - 1);
    return std::string(data + 1, length);
  }
  return std::string(data, size);
}

std::string value_of(const ldns_rr* rr, RecordType type) {
  if (ldns_rr_rd_count(rr) == 0) return {};
  switch (type) {
    case RecordType::A:
    case RecordType::AAAA: {
      MallocPtr<char> text(ldns_rdf2str(ldns_rr_rdf(rr, 0)));
      return text ? text.get() : "";
    }
    case RecordType::TXT: {
      std::string joined;
      for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) joined += text_of(ldns_rr_rdf(rr, i));
      return joined;
    }
    case RecordType::NS:
    case RecordType::CNAME:
    case RecordType::SOA:
      return name_of(ldns_rr_rdf(rr, 0));
    case RecordType::CAA:
      return {};
  }
  return {};
}

std::optional<CaaRecord> caa_of(const ldns_rr* rr) {
  if (ldns_rr_rd_count(rr) != 3) return std::nullopt;
  CaaRecord caa;
  caa.flags = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
  caa.tag = text_of(ldns_rr_rdf(rr, 1));
  std::transform(caa.tag.begin(), caa.tag.end(), caa.tag.begin(), [](unsigned char c) { return std::tolower(c); });
  caa.value = text_of(ldns_rr_rdf(rr, 2));
  return caa;
}

Answer parse(const ldns_pkt* packet, const std::string& name, RecordType type) {
  Answer answer;
  answer.rcode = static_cast<int>(ldns_pkt_get_rcode(packet));
  answer.authoritative = ldns_pkt_aa(packet);
  const ldns_rr_list* records = ldns_pkt_answer(packet);
  size_t count = records ? ldns_rr_list_rr_count(records) : 0;

  // The CNAME chain the server followed itself, starting at the queried name.
  std::set<std::string> owners{name};
  std::string current = name;
  for (size_t hop = 0; hop < count; ++hop) {
    std::string next;
    for (size_t i = 0; i < count && next.empty(); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(records, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && owner_of(rr) == current) next = value_of(rr, RecordType::CNAME);
    }
    if (next.empty()) break;
    if (hop == 0) answer.cname = next;
    if (type == RecordType::CNAME || !owners.insert(next).second) break;
    current = next;
  }

  for (size_t i = 0; i < count; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(records, i);
    if (ldns_rr_get_type(rr) != to_ldns(type)) continue;
    if (type == RecordType::CNAME ? owner_of(rr) != name : owners.count(owner_of(rr)) == 0) continue;
    if (type == RecordType::CAA) {
      if (auto caa = caa_of(rr)) answer.caa.push_back(std::move(*caa));
    } else {
      answer.values.push_back(value_of(rr, type));
    }
  }
  return answer;
}

bool is_within(const std::string& name, const std::string& zone) {
  return name == zone || (name.size() > zone.size() && name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
                          name[name.size() - zone.size() - 1] == '.');
}

std::string parent_of(const std::string& name) {
  auto dot = name.find('.');
  return dot == std::string::npos ? std::string() : name.substr(dot + 1);
}

}  // namespace

Resolver::Resolver(std::optional<ServerAddress> server, std::chrono::milliseconds timeout)
    : server_(std::move(server)), timeout_(timeout) {}

Answer Resolver::lookup(const std::string& name, RecordType type) const {
  Reply reply = send(server_, timeout_, true, name, type);
  return parse(reply.packet.get(), normalize_name(name), type);
}

Answer Resolver::ask(const ServerAddress& server, const std::string& name, RecordType type) const {
  Reply reply = send(server, timeout_, false, name, type);
  return parse(reply.packet.get(), normalize_name(name), type);
}

std::vector<std::string> Resolver::addresses(const std::string& host) const {
  std::vector<std::string> all = lookup(host, RecordType::A).values;
  std::vector<std::string> v6 = lookup(host, RecordType::AAAA).values;
  all.insert(all.end(), v6.begin(), v6.end());
  return all;
}

std::string Resolver::find_zone(const std::string& name) const {
  const std::string start = normalize_name(name);
  std::string asked;
  for (std::string candidate = start; !candidate.empty(); candidate = parent_of(candidate)) {
    Reply reply = send(server_, timeout_, true, candidate, RecordType::SOA);
    asked = reply.asked;
    const ldns_pkt* packet = reply.packet.get();
    bool is_alias = false;
    const ldns_rr_list* records = ldns_pkt_answer(packet);
    for (size_t i = 0; records && i < ldns_rr_list_rr_count(records); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(records, i);
      if (owner_of(rr) != candidate) continue;
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) return candidate;
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME) is_alias = true;
    }
    // A negative answer (NXDOMAIN or no SOA at this name) carries the SOA of the zone that
    // holds the name in its authority section; behind a CNAME it would be the target's zone.
    const ldns_rr_list* authority = ldns_pkt_authority(packet);
    for (size_t i = 0; !is_alias && authority && i < ldns_rr_list_rr_count(authority); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(authority, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && !owner_of(rr).empty() && is_within(candidate, owner_of(rr))) {
        return owner_of(rr);
      }
    }
  }
  throw Error(ErrorKind::challenge,
              "no DNS zone holds " + start + ": neither it nor any parent name has an SOA record at " +
                  (asked.empty() ? std::string("the resolver") : asked),
              "check that the domain is registered and delegated; with a private DNS server, use it as the resolver",
              start);
}

std::vector<std::pair<std::string, ServerAddress>> Resolver::authoritative_servers(const std::string& zone) const {
  const std::string apex = normalize_name(zone);
  Answer ns = lookup(apex, RecordType::NS);
  if (ns.values.empty()) {
    throw Error(ErrorKind::challenge,
                "the zone " + apex + " has no NS records (the resolver answered " + rcode_name(ns.rcode) + ")",
                "check the zone's delegation and its NS records", apex);
  }
  // A resolver given with a port other than 53 is a test or split-horizon server that is
  // also the zone's authoritative server (the name servers' addresses point at it), so the
  // questions to the authoritative servers go to that port too.
  int port = server_ && server_->port != 53 ? server_->port : 53;
  std::vector<std::pair<std::string, ServerAddress>> servers;
  for (const std::string& host : ns.values) {
    for (const std::string& address : addresses(host)) servers.push_back({host, ServerAddress{address, port}});
  }
  if (servers.empty()) {
    std::string names;
    for (const std::string& host : ns.values) names += (names.empty() ? "" : ", ") + host;
    throw Error(ErrorKind::challenge, "none of the name servers of " + apex + " (" + names + ") has an address",
                "give the name servers A or AAAA records (glue at the parent zone if they lie inside " + apex + ")",
                apex);
  }
  return servers;
}

std::string Resolver::follow_cnames(const std::string& name) const {
  std::string current = normalize_name(name);
  std::set<std::string> seen{current};
  for (int hops = 0;; ++hops) {
    Answer answer = lookup(current, RecordType::CNAME);
    if (answer.cname.empty()) return current;
    if (hops == 8) {
      throw Error(ErrorKind::challenge, "the CNAME chain from " + normalize_name(name) + " is longer than 8 names",
                  "point the name more directly at its target", normalize_name(name));
    }
    if (!seen.insert(answer.cname).second) {
      throw Error(ErrorKind::challenge,
                  "the CNAME chain from " + normalize_name(name) + " loops back to " + answer.cname,
                  "fix the CNAME records so that the chain ends at a name with records", normalize_name(name));
    }
    current = answer.cname;
  }
}

std::vector<CaaRecord> Resolver::relevant_caa(const std::string& name, std::string* found_at) const {
  std::string current = normalize_name(name);
  if (current.rfind("*.", 0) == 0) current.erase(0, 2);
  // RFC 8659 3: climb towards the root (not asking the root itself) until a name has CAA.
  for (; !current.empty(); current = parent_of(current)) {
    Answer answer = lookup(current, RecordType::CAA);
    if (answer.rcode == LDNS_RCODE_SERVFAIL) {
      throw Error(ErrorKind::challenge,
                  "the resolver could not look up CAA records of " + current + " (SERVFAIL)",
                  "a CA refuses to issue while the CAA lookup fails: fix the DNS of " + current, current);
    }
    if (!answer.caa.empty()) {
      if (found_at) *found_at = current;
      return answer.caa;
    }
  }
  if (found_at) found_at->clear();
  return {};
}

}  // namespace certcli::dns
