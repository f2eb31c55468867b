// certcli/order_options.hpp — the pure decisions about how one order is placed and what is kept
// from it: which profile is sent (draft-ietf-acme-profiles), which of the CA's chains is kept
// (RFC 8555 7.4.2), whether an operator's CSR asks for the domain's names. Values in, values out:
// no clock, no files, no network.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certcli::lifecycle {

// A profile name as certcli accepts it from a user (what acme::parse_profiles keeps: 1 to 64 of
// [A-Za-z0-9._-]); "" is allowed (none). Throws Error{invalid_input} naming `option`.
void check_profile_name(const std::string& name, const std::string& option);
// A preferred chain's issuer CN: up to 256 printable characters, no control character; "" is
// allowed (none). Throws Error{invalid_input}.
void check_chain_name(const std::string& issuer_cn);

// What newOrder carries as its profile, and a note for the user when a preferred profile was
// not available.
struct ProfileChoice {
  std::string profile;  // empty: no profile field (the CA's default)
  std::string note;     // empty unless a preferred profile fell back to the default
};
// `required` (--profile) must be among `offered` (the directory's meta.profiles), else
// Error{invalid_input} naming the profiles the CA has (`ca` names the CA); `preferred`
// (--preferred-profile) is sent when offered, else nothing is, with a note. `required` wins
// when both are set. Neither: no profile.
ProfileChoice choose_profile(const std::map<std::string, std::string>& offered, const std::string& required,
                             const std::string& preferred, const std::string& ca);

// Among PEM chains (leaf first, the CA's default chain first), the index of the first whose
// topmost certificate is issued by, or is itself, a certificate with the common name
// `issuer_cn` (exact match); nullopt when none is (the caller keeps the default). A chain that
// does not parse is passed over.
std::optional<std::size_t> preferred_chain_index(const std::vector<std::string>& chains, const std::string& issuer_cn);

// How the names of a CSR differ from a domain's (both normalized; order does not matter).
struct NameDifference {
  std::vector<std::string> only_in_csr;     // sorted
  std::vector<std::string> only_in_domain;  // sorted
  bool same() const { return only_in_csr.empty() && only_in_domain.empty(); }
};
NameDifference compare_names(const std::vector<std::string>& csr_names, const std::vector<std::string>& domain_names);

}  // namespace certcli::lifecycle
