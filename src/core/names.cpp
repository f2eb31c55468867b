// Pure rules about DNS names. See include/certcli/names.hpp.
#include <certcli/error.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace certcli {
namespace {

Error bad_name(std::string_view name, const std::string& why, std::string hint = {}) {
  if (hint.empty()) hint = "give a fully qualified name such as www.example.com";
  return Error(ErrorKind::invalid_input, fmt::format("'{}' is not a valid domain name: {}", name, why),
               std::move(hint), std::string(name));
}

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

std::string normalize_domain_name(std::string_view name) {
  if (name.empty()) throw bad_name(name, "it is empty");
  std::string lower;
  lower.reserve(name.size());
  for (unsigned char c : name) {
    if (c >= 0x80)
      throw bad_name(name, "it contains non-ASCII characters",
                     "give the punycode (xn--) form of an internationalized name, e.g. from `idn2 NAME`");
    lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  if (lower.back() == '.') throw bad_name(name, "it ends with a dot", "leave out the trailing dot");
  // 253 characters is the longest name that fits 255 octets on the wire (RFC 1035 3.1).
  if (lower.size() > 253) throw bad_name(name, "it is longer than 253 characters");

  std::string_view rest = lower;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  std::vector<std::string_view> labels;
  for (size_t start = 0;;) {
    size_t dot = rest.find('.', start);
    labels.push_back(rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels.size() < 2)
    throw bad_name(name, "it has a single label; certificates are issued for fully qualified names");
  for (std::string_view label : labels) {
    if (label.empty()) throw bad_name(name, "it has an empty label (two dots in a row)");
    if (label == "*")
      throw bad_name(name, "a wildcard may only be the leftmost label, as in *.example.com");
    if (label.size() > 63) throw bad_name(name, fmt::format("label '{}' is longer than 63 characters", label));
    if (!std::all_of(label.begin(), label.end(), is_ldh))
      throw bad_name(name, fmt::format("label '{}' may hold only letters, digits and hyphens", label));
    if (label.front() == '-' || label.back() == '-')
      throw bad_name(name, fmt::format("label '{}' starts or ends with a hyphen", label));
  }
  if (std::all_of(labels.back().begin(), labels.back().end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw bad_name(name, "its last label is numeric; IP addresses are not supported yet");
  return lower;
}

bool is_wildcard(std::string_view name) { return name.starts_with("*."); }

bool covers(std::string_view certificate_name, std::string_view host) {
  if (!is_wildcard(certificate_name)) return certificate_name == host;
  std::string_view base = certificate_name.substr(1);  // ".example.com"
  if (host.size() <= base.size() || !host.ends_with(base)) return false;
  std::string_view first_label = host.substr(0, host.size() - base.size());
  return first_label.find('.') == std::string_view::npos && first_label != "*";
}

std::string storage_name(std::string_view normalized_name) {
  if (is_wildcard(normalized_name)) return "_wildcard" + std::string(normalized_name.substr(1));
  return std::string(normalized_name);
}

}  // namespace certcli
