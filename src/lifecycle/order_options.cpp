// The pure decisions of certcli/order_options.hpp.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/order_options.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace certcli::lifecycle {

void check_profile_name(const std::string& name, const std::string& option) {
  bool plain = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
  if (!plain)
    throw Error(ErrorKind::invalid_input, fmt::format("{} '{}' is not a profile name", option, name),
                "give a profile as the CA's directory lists it (letters, digits, '.', '_', '-'; at most 64)", name);
}

void check_chain_name(const std::string& issuer_cn) {
  bool printable = issuer_cn.size() <= 256 && std::none_of(issuer_cn.begin(), issuer_cn.end(), [](unsigned char c) {
    return c < 0x20 || c == 0x7f;
  });
  if (!printable)
    throw Error(ErrorKind::invalid_input, "the preferred chain is not a certificate's common name",
                "give the common name of the issuer the chain should end at, e.g. \"ISRG Root X1\" (at most 256 "
                "characters, no control characters)");
}

ProfileChoice choose_profile(const std::map<std::string, std::string>& offered, const std::string& required,
                             const std::string& preferred, const std::string& ca) {
  std::vector<std::string> names;
  for (const auto& [name, description] : offered) names.push_back(name);
  const std::string listed = names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
  if (!required.empty()) {
    if (offered.contains(required)) return {required, ""};
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} offers no certificate profile '{}' (its profiles: {})", ca, required, listed),
                names.empty() ? "leave out the profile, or use --preferred-profile, which falls back to the CA's default"
                              : fmt::format("choose one of {}, or use --preferred-profile to fall back to the CA's "
                                            "default when a profile is missing",
                                            listed),
                required);
  }
  if (preferred.empty()) return {};
  if (offered.contains(preferred)) return {preferred, ""};
  return {"", fmt::format("{} offers no profile '{}' (its profiles: {}); ordering with its default profile", ca,
                          preferred, listed)};
}

std::optional<std::size_t> preferred_chain_index(const std::vector<std::string>& chains, const std::string& issuer_cn) {
  if (issuer_cn.empty()) return std::nullopt;
  for (std::size_t i = 0; i < chains.size(); ++i) {
    std::vector<std::string> certificates = crypto::split_pem_certificates(chains[i]);
    if (certificates.empty()) continue;
    try {
      crypto::CertificateInfo top = crypto::parse_certificate(certificates.back());
      if (top.issuer_common_name == issuer_cn || top.subject_common_name == issuer_cn) return i;
    } catch (const Error&) {
      // Not a chain certcli can read: never the preferred one.
    }
  }
  return std::nullopt;
}

NameDifference compare_names(const std::vector<std::string>& csr_names, const std::vector<std::string>& domain_names) {
  std::set<std::string> csr(csr_names.begin(), csr_names.end());
  std::set<std::string> domain(domain_names.begin(), domain_names.end());
  NameDifference difference;
  std::set_difference(csr.begin(), csr.end(), domain.begin(), domain.end(), std::back_inserter(difference.only_in_csr));
  std::set_difference(domain.begin(), domain.end(), csr.begin(), csr.end(), std::back_inserter(difference.only_in_domain));
  return difference;
}

}  // namespace certcli::lifecycle
