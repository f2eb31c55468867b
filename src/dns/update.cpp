// RFC 2136 dynamic update of one TXT value, signed with TSIG (RFC 8945), through ldns, and the
// update that changes nothing which tells whether a server would accept the key for a zone.
#include "dns/ldns_handles.hpp"

#include <certcli/dns.hpp>
#include <certcli/error.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <new>

namespace certcli::dns {
namespace {
using namespace detail;

// TSIG error codes (RFC 8945 6), carried in the TSIG record of a NOTAUTH answer.
constexpr int kBadSig = 16;
constexpr int kBadKey = 17;
constexpr int kBadTime = 18;

bool is_within(const std::string& name, const std::string& zone) {
  return name == zone || (name.size() > zone.size() && name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
                          name[name.size() - zone.size() - 1] == '.');
}

RrPtr txt_record(const std::string& owner, const std::string& value, bool add, int ttl) {
  RrPtr rr(ldns_rr_new());
  if (!rr) throw std::bad_alloc();
  ldns_rr_set_owner(rr.get(), absolute_name(owner).release());
  ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TXT);
  // RFC 2136 2.5.1 adds to an RRset with class IN; 2.5.4 deletes one RR with class NONE, TTL 0.
  ldns_rr_set_class(rr.get(), add ? LDNS_RR_CLASS_IN : LDNS_RR_CLASS_NONE);
  ldns_rr_set_ttl(rr.get(), add ? static_cast<uint32_t>(std::max(ttl, 0)) : 0);
  // A character-string holds at most 255 bytes; longer values are split as zone files do.
  size_t offset = 0;
  do {
    std::string chunk = value.substr(offset, 255);
    std::string data(1, static_cast<char>(chunk.size()));
    data += chunk;
    ldns_rdf* rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, data.size(), data.data());
    if (!rdf || !ldns_rr_push_rdf(rr.get(), rdf)) throw std::bad_alloc();
    offset += chunk.size();
  } while (offset < value.size());
  return rr;
}

struct Exchange {
  PktPtr reply;
  MallocPtr<uint8_t> wire;
  size_t size = 0;
};

// One datagram and one retry, each with half of `timeout`; TCP when the answer is truncated.
bool exchange(const ServerAddress& server, ldns_buffer* query, std::chrono::milliseconds timeout, Exchange& out) {
  size_t length = 0;
  RdfPtr address = address_rdf(server);
  MallocPtr<sockaddr_storage> to(
      ldns_rdf2native_sockaddr_storage(address.get(), static_cast<uint16_t>(server.port), &length));
  if (!to) throw std::bad_alloc();
  timeval half = to_timeval(timeout / 2);
  for (int attempt = 0; attempt < 2 && !out.wire; ++attempt) {
    uint8_t* bytes = nullptr;
    if (ldns_udp_send(&bytes, query, to.get(), static_cast<socklen_t>(length), half, &out.size) == LDNS_STATUS_OK) {
      out.wire.reset(bytes);
    } else {
      std::free(bytes);
    }
  }
  if (!out.wire) return false;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, out.wire.get(), out.size) != LDNS_STATUS_OK) return false;
  out.reply.reset(raw);
  if (ldns_pkt_tc(out.reply.get())) {
    out.reply.reset();
    out.wire.reset();
    uint8_t* bytes = nullptr;
    if (ldns_tcp_send(&bytes, query, to.get(), static_cast<socklen_t>(length), half, &out.size) != LDNS_STATUS_OK) {
      std::free(bytes);
      return false;
    }
    out.wire.reset(bytes);
    raw = nullptr;
    if (ldns_wire2pkt(&raw, out.wire.get(), out.size) != LDNS_STATUS_OK) return false;
    out.reply.reset(raw);
  }
  return true;
}

int tsig_error_of(const ldns_pkt* reply) {
  const ldns_rr* tsig = ldns_pkt_tsig(reply);
  if (!tsig || ldns_rr_rd_count(tsig) < 6) return 0;
  return ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
}

// What an update is, for the messages about it: "127.0.0.1:53 did not apply the update adding
// TXT "x" at NAME in zone Z: <why>".
struct UpdateContext {
  std::string where;    // the server
  std::string apex;     // the zone
  std::string what;     // "the update adding TXT \"x\" at NAME", "a test update that changes nothing"
  std::string verb;     // "apply", "accept"
  std::string subject;  // the name the Error is about
  std::string changes;  // REFUSED: what the policy must allow, "TXT records at NAME", "zone Z"
};

// The key's canonical name and algorithm ("certcli-test.", "hmac-sha256."), checked.
struct SigningKey {
  std::string name;
  std::string algorithm;
  std::string label;  // the name as messages write it
};

SigningKey check_key(const TsigKey& key) {
  check_tsig_algorithm(key.algorithm);
  SigningKey out{normalize_name(key.name) + ".", normalize_name(key.algorithm) + ".", normalize_name(key.name)};
  // Checked here, not left to ldns_pkt_tsig_sign: that leaks the record it was building when
  // the secret does not decode.
  if (!decode_base64(key.secret)) {
    throw Error(ErrorKind::invalid_input, "the secret of TSIG key " + out.label + " is not valid base64",
                "copy the secret exactly as the DNS server's configuration has it", out.label);
  }
  return out;
}

// Builds the UPDATE for ctx.apex with `prerequisites` and `updates`, signs it with `key`, sends
// it, and maps the answer: returns when its RCODE is one of `accepted` (and, for a signed update,
// the answer is signed with the same key); otherwise throws Error{challenge} with the RCODE in
// words and a hint, or Error{network} when nothing answers.
void send_update(const ServerAddress& server, const ldns_rr_list* prerequisites, const ldns_rr_list* updates,
                 const std::optional<TsigKey>& key, std::chrono::milliseconds timeout, const UpdateContext& ctx,
                 std::initializer_list<int> accepted) {
  RdfPtr zone_name = absolute_name(ctx.apex);
  if (!zone_name) {
    throw Error(ErrorKind::invalid_input, "\"" + ctx.apex + "\" is not a valid DNS name", "check the zone's name", ctx.apex);
  }
  PktPtr query(ldns_update_pkt_new(zone_name.release(), LDNS_RR_CLASS_IN, prerequisites, updates, nullptr));
  if (!query) throw std::bad_alloc();
  ldns_pkt_set_rd(query.get(), false);  // RFC 2136 2.2: the bits after the opcode are zero
  ldns_pkt_set_random_id(query.get());

  std::optional<SigningKey> signing;
  if (key) {
    signing = check_key(*key);
    // fudge 300 s: the window RFC 8945 5.2.3 recommends for clock differences.
    ldns_status status = signing->algorithm == "hmac-sha384."
                             ? sign_hmac_sha384(query.get(), signing->name, key->secret, 300)
                             : ldns_pkt_tsig_sign(query.get(), signing->name.c_str(), key->secret.c_str(), 300,
                                                  signing->algorithm.c_str(), nullptr);
    if (status != LDNS_STATUS_OK) {
      throw Error(ErrorKind::crypto,
                  "cannot sign the update with TSIG key " + signing->label + " (" + normalize_name(key->algorithm) +
                      "): " + ldns_get_errorstr_by_id(status),
                  "check the key's algorithm and secret", signing->label);
    }
  }

  BufferPtr wire(ldns_buffer_new(LDNS_MIN_BUFLEN));
  if (!wire || ldns_pkt2buffer_wire(wire.get(), query.get()) != LDNS_STATUS_OK) {
    throw Error(ErrorKind::internal, "cannot encode " + ctx.what);
  }
  Exchange result;
  if (!exchange(server, wire.get(), timeout, result)) {
    throw Error(ErrorKind::network,
                "no answer from " + ctx.where + " to " + ctx.what + " in zone " + ctx.apex + " within " + describe(timeout),
                "check that the DNS server is running and accepts updates over UDP and TCP at " + ctx.where, ctx.subject);
  }
  const ldns_pkt* reply = result.reply.get();
  if (ldns_pkt_id(reply) != ldns_pkt_id(query.get()) || !ldns_pkt_qr(reply)) {
    throw Error(ErrorKind::network, "the answer from " + ctx.where + " to " + ctx.what + " does not match it",
                "something between certcli and the server altered the answer; try again", ctx.subject);
  }

  const std::string key_label = signing ? signing->label : std::string();
  const int rcode = static_cast<int>(ldns_pkt_get_rcode(reply));
  const int tsig_error = tsig_error_of(reply);
  auto refuse = [&](const std::string& why, const std::string& hint) {
    throw Error(ErrorKind::challenge,
                ctx.where + " did not " + ctx.verb + " " + ctx.what + " in zone " + ctx.apex + ": " + why, hint,
                ctx.subject);
  };
  if (std::find(accepted.begin(), accepted.end(), rcode) == accepted.end()) {
    switch (rcode) {
      case LDNS_RCODE_NOTAUTH:
        if (!key) {
          refuse("it does not accept unsigned updates for zone " + ctx.apex + " (or the zone is not served there) (NOTAUTH)",
                 "give the TSIG key the server expects, and check that it serves the zone");
        }
        if (tsig_error == kBadSig) {
          refuse("the signature of key " + key_label + " did not verify (NOTAUTH, BADSIG)",
                 "the secret differs from the one the server has for key " + key_label + "; copy it again");
        }
        if (tsig_error == kBadKey) {
          // Knot answers BADKEY too for a key it knows whose ACL does not allow this update.
          refuse("the server does not know key " + key_label + " with algorithm " + normalize_name(key->algorithm) +
                     ", or does not allow it to update zone " + ctx.apex + " (NOTAUTH, BADKEY)",
                 "check the key's name and algorithm against the server's configuration, and that the zone's "
                 "update ACL names the key");
        }
        if (tsig_error == kBadTime) {
          refuse("the signature's time is outside the server's window (NOTAUTH, BADTIME)",
                 "synchronise this machine's clock (or the server's) with NTP");
        }
        refuse("the server does not accept key " + key_label + " for zone " + ctx.apex +
                   " (or the zone is not served there) (NOTAUTH)",
               "allow the key to update the zone in the server's configuration, and check that it serves " + ctx.apex);
        break;
      case LDNS_RCODE_REFUSED:
        refuse(std::string("the server refused the update: its policy does not allow ") +
                   (key ? "key " + key_label : std::string("unsigned updates")) + " to change " + ctx.changes +
                   " (REFUSED)",
               "allow " + (key ? "the key" : std::string("the update")) + " to change " + ctx.changes +
                   " in the server's update policy or ACL");
        break;
      case LDNS_RCODE_NOTZONE:
        refuse(ctx.subject + " is not inside zone " + ctx.apex + " as the server knows it (NOTZONE)",
               "update the zone that holds " + ctx.subject + " (it may be delegated to a zone of its own)");
        break;
      case LDNS_RCODE_SERVFAIL:
        refuse("the server failed while applying it (SERVFAIL)", "look at the DNS server's log");
        break;
      case LDNS_RCODE_NOTIMPL:
        refuse("the server does not implement dynamic updates (NOTIMP)",
               "send the update to the zone's primary server, with dynamic updates enabled");
        break;
      default:
        refuse("the server answered " + rcode_name(rcode), "look at the DNS server's log");
    }
  }

  if (signing) {
    // RFC 8945 5.3: the answer to a signed request is signed with the same key; an answer
    // that is not cannot be told from a forged one.
    const ldns_rr* query_tsig = ldns_pkt_tsig(query.get());
    auto unverified = [&](const std::string& why) {
      throw Error(ErrorKind::challenge,
                  "the answer of " + ctx.where + " to " + ctx.what + " in zone " + ctx.apex + " cannot be trusted: " + why,
                  "check that nothing between certcli and the server alters DNS messages, and try again", ctx.subject);
    };
    if (!ldns_pkt_tsig(reply)) unverified("it carries no TSIG signature although the update was signed with key " + key_label);
    bool verified = signing->algorithm == "hmac-sha384."
                        ? verify_hmac_sha384(result.wire.get(), result.size, key->secret, ldns_rr_rdf(query_tsig, 3))
                        : ldns_pkt_tsig_verify(result.reply.get(), result.wire.get(), result.size, signing->name.c_str(),
                                               key->secret.c_str(), ldns_rr_rdf(query_tsig, 3));
    if (!verified) {
      unverified("its TSIG signature does not verify with key " + key_label);
    }
  }
}

// RFC 2136 2.4.4 "name is in use": class ANY, type ANY, TTL 0, no rdata.
RrPtr name_in_use(const std::string& owner) {
  RrPtr rr(ldns_rr_new());
  if (!rr) throw std::bad_alloc();
  ldns_rr_set_owner(rr.get(), absolute_name(owner).release());
  ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_ANY);
  ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_ANY);
  ldns_rr_set_ttl(rr.get(), 0);
  return rr;
}

}  // namespace

void update_txt(const ServerAddress& server, const std::string& zone, const std::string& fqdn,
                const std::string& value, bool add, int ttl, const std::optional<TsigKey>& key,
                std::chrono::milliseconds timeout) {
  const std::string apex = normalize_name(zone);
  const std::string owner = normalize_name(fqdn);
  const std::string action = std::string(add ? "adding" : "removing") + " TXT \"" + value + "\" " +
                             (add ? "at " : "from ") + owner;
  if (apex.empty() || !is_within(owner, apex)) {
    throw Error(ErrorKind::invalid_input, owner + " does not lie in the zone " + (apex.empty() ? "\"\"" : apex),
                "update the name in the zone that holds it", owner);
  }
  if (!absolute_name(apex) || !absolute_name(owner)) {
    throw Error(ErrorKind::invalid_input, "\"" + owner + "\" is not a valid DNS name", "check the name", owner);
  }
  RrListPtr updates(ldns_rr_list_new());
  if (!updates || !ldns_rr_list_push_rr(updates.get(), txt_record(owner, value, add, ttl).release())) {
    throw std::bad_alloc();
  }
  UpdateContext ctx{server.to_string(), apex, "the update " + action, "apply", owner, "TXT records at " + owner};
  send_update(server, nullptr, updates.get(), key, timeout, ctx, {LDNS_RCODE_NOERROR});
}

void check_update_access(const ServerAddress& server, const std::string& zone, const std::optional<TsigKey>& key,
                         std::chrono::milliseconds timeout) {
  const std::string apex = normalize_name(zone);
  if (apex.empty() || !absolute_name(apex)) {
    throw Error(ErrorKind::invalid_input, "\"" + zone + "\" is not a valid zone name", "check the zone's name", zone);
  }
  // A random name that does not exist, required to be in use: the server authenticates the key
  // and applies its policy, then finds the prerequisite false (NXDOMAIN) and changes nothing.
  // With no update records, per-record policy (Knot's update-owner/update-type, BIND's
  // update-policy name rules) is not exercised: only the key and the zone's ACL are.
  char label[32];
  std::snprintf(label, sizeof label, "certcli-probe-%04x%04x%04x", static_cast<unsigned>(ldns_get_random()),
                static_cast<unsigned>(ldns_get_random()), static_cast<unsigned>(ldns_get_random()));
  const std::string probe = std::string(label) + "." + apex;
  RrListPtr prerequisites(ldns_rr_list_new());
  if (!prerequisites || !ldns_rr_list_push_rr(prerequisites.get(), name_in_use(probe).release())) {
    throw std::bad_alloc();
  }
  RrListPtr no_updates(ldns_rr_list_new());  // ldns_update_pkt_new wants a list, even an empty one
  if (!no_updates) throw std::bad_alloc();
  UpdateContext ctx{server.to_string(), apex, "a test update (one that changes nothing)", "accept", apex, "zone " + apex};
  // NXDOMAIN: the key and the policy were accepted and the prerequisite failed. NOERROR would
  // mean the random name exists; with no update records nothing changed either way.
  send_update(server, prerequisites.get(), no_updates.get(), key, timeout, ctx, {LDNS_RCODE_NXDOMAIN, LDNS_RCODE_NOERROR});
}

}  // namespace certcli::dns
