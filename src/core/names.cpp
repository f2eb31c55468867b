// Pure rules about DNS names. See include/certcli/names.hpp.
// libidn2 does the IDNA 2008 / UTS #46 conversion, libpsl knows the public suffixes; this file
// is the only user of either, so their owners live here.
#include <certcli/error.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>
#include <idn2.h>
#include <libpsl.h>

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace certcli {
namespace {

struct IdnFree {
  void operator()(char* p) const { idn2_free(p); }
};
using IdnString = std::unique_ptr<char, IdnFree>;

// IDNA 2008 with the UTS #46 mapping, non-transitional: "ß" and "ς" are kept (not mapped to "ss"
// and "σ" as IDNA 2003 did), case and width are folded, and the input is NFC-normalised first.
constexpr int kToAsciiFlags = IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT;

constexpr std::string_view kSuffixHint = "give the name as it is registered, e.g. example.co.uk";

Error bad_name(std::string_view name, const std::string& why, std::string hint = {}) {
  if (hint.empty()) hint = "give a fully qualified name such as www.example.com";
  return Error(ErrorKind::invalid_input, fmt::format("'{}' is not a valid domain name: {}", name, why),
               std::move(hint), std::string(name));
}

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// idn2's result code; the converted text in `out` when it is IDN2_OK.
int to_ascii(const std::string& in, std::string& out) {
  char* raw = nullptr;
  int rc = idn2_to_ascii_8z(in.c_str(), &raw, kToAsciiFlags);
  IdnString owned(raw);
  if (rc == IDN2_OK) out = owned.get();
  return rc;
}

int to_unicode(const std::string& in, std::string& out) {
  char* raw = nullptr;
  int rc = idn2_to_unicode_8z8z(in.c_str(), &raw, 0);
  IdnString owned(raw);
  if (rc == IDN2_OK) out = owned.get();
  return rc;
}

bool has_a_label(std::string_view name) { return name.starts_with("xn--") || name.find(".xn--") != std::string_view::npos; }

// An "xn--" label must be what IDNA 2008 makes of some Unicode label: it decodes, and the result
// encodes back to the same label (which also refuses punycode of disallowed characters).
void check_a_label(std::string_view name, std::string_view label) {
  const std::string hint = "give the name in Unicode, or its A-label exactly as `idn2 NAME` prints it";
  std::string unicode, back;
  int rc = to_unicode(std::string(label), unicode);
  if (rc == IDN2_OK) rc = to_ascii(unicode, back);
  if (rc != IDN2_OK)
    throw bad_name(name, fmt::format("label '{}' is not a valid A-label ({})", label, idn2_strerror(rc)), hint);
  if (back != label)
    throw bad_name(name, fmt::format("label '{}' is not a valid A-label (it is not the IDNA 2008 form of '{}')", label,
                                     unicode),
                   hint);
}

// The newest of libpsl's built-in list and the system's (Debian's publicsuffix package), loaded
// once and kept for the life of the process. Data, not state: the answers do not change in a run.
const psl_ctx_t* suffix_list() {
  static const psl_ctx_t* const psl = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest ? latest : psl_builtin();
  }();
  if (!psl)
    throw Error(ErrorKind::internal, "no public suffix list is available to libpsl",
                "install Debian's publicsuffix package (/usr/share/publicsuffix)");
  return psl;
}

}  // namespace

std::string normalize_domain_name(std::string_view name) {
  if (name.empty()) throw bad_name(name, "it is empty");
  // Shown up to the NUL, which would end the message early.
  if (size_t nul = name.find('\0'); nul != std::string_view::npos)
    throw bad_name(name.substr(0, nul), "it contains a NUL byte after this");

  std::string_view wildcard = name.starts_with("*.") ? name.substr(0, 2) : std::string_view{};
  std::string_view written = name.substr(wildcard.size());
  std::string lower(wildcard);
  if (std::any_of(written.begin(), written.end(), [](unsigned char c) { return c >= 0x80; })) {
    std::string ascii;
    if (int rc = to_ascii(std::string(written), ascii); rc != IDN2_OK)
      throw bad_name(name, fmt::format("it has no IDNA 2008 form ({})", idn2_strerror(rc)),
                     "check the spelling; `idn2 NAME` shows the A-label (xn--) form of an internationalized name");
    lower += ascii;
  } else {
    lower += written;
  }
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');

  // One trailing dot is the DNS root, as in "example.com."; more is a typo.
  if (lower.ends_with(".."))
    throw bad_name(name, "it ends with two dots", "leave out the trailing dots (one, for the DNS root, is allowed)");
  if (lower.ends_with('.')) lower.pop_back();
  if (lower.empty()) throw bad_name(name, "it is only a dot");
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
    throw bad_name(name, "its last label is numeric, and it is not an IP address");
  for (std::string_view label : labels)
    if (label.starts_with("xn--")) check_a_label(name, label);
  // Under the list's implicit "*" rule every top-level label is a public suffix: "*.com" is.
  if (labels.size() < 2 && !is_wildcard(lower))
    throw bad_name(name, "it has a single label; certificates are issued for fully qualified names");

  // Names under a public suffix belong to different owners: no CA issues for the suffix itself
  // ("co.uk") or a wildcard over it ("*.co.uk"). PSL_TYPE_ANY counts the private section too
  // ("github.io"); the implicit "*" rule makes an unknown top-level label a suffix, never a
  // name of two labels or more.
  if (labels.size() < 2 || psl_is_public_suffix2(suffix_list(), std::string(rest).c_str(), PSL_TYPE_ANY)) {
    std::string why = is_wildcard(lower)
                          ? fmt::format("'{}' is a wildcard over the public suffix '{}'", name, rest)
                          : fmt::format("'{}' is a public suffix", name);
    throw Error(ErrorKind::invalid_input,
                why + ": names under it are registered by different owners, and no CA issues a certificate for it",
                std::string(kSuffixHint), std::string(name));
  }
  return lower;
}

bool is_wildcard(std::string_view name) { return name.starts_with("*."); }

std::optional<std::string> normalize_ip_address(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  // Longer than any address text (45 for an IPv6 with an embedded IPv4): not one.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string copy(text);
  unsigned char bytes[16] = {};
  char out[INET6_ADDRSTRLEN] = {};
  // inet_pton is strict: no "1.2.3", no octal "010.0.0.1", no zone id "fe80::1%eth0".
  if (::inet_pton(AF_INET, copy.c_str(), bytes) == 1) {
    if (std::all_of(bytes, bytes + 4, [](unsigned char b) { return b == 0; })) return std::nullopt;
    if (!::inet_ntop(AF_INET, bytes, out, sizeof out)) return std::nullopt;
    return std::string(out);
  }
  if (::inet_pton(AF_INET6, copy.c_str(), bytes) == 1) {
    if (std::all_of(bytes, bytes + 16, [](unsigned char b) { return b == 0; })) return std::nullopt;
    if (!::inet_ntop(AF_INET6, bytes, out, sizeof out)) return std::nullopt;
    return std::string(out);
  }
  return std::nullopt;
}

bool is_ip_address(std::string_view normalized_name) {
  auto ip = normalize_ip_address(normalized_name);
  return ip && *ip == normalized_name;
}

std::string normalize_name(std::string_view name) {
  if (auto ip = normalize_ip_address(name)) return *ip;
  return normalize_domain_name(name);
}

std::string unicode_name(std::string_view normalized_name) {
  if (!has_a_label(normalized_name)) return std::string(normalized_name);
  std::string_view prefix = is_wildcard(normalized_name) ? normalized_name.substr(0, 2) : std::string_view{};
  std::string unicode;
  if (to_unicode(std::string(normalized_name.substr(prefix.size())), unicode) != IDN2_OK)
    return std::string(normalized_name);  // normalize_domain_name() accepted it, so this does not happen
  return std::string(prefix) + unicode;
}

std::string display_name(std::string_view normalized_name) {
  std::string unicode = unicode_name(normalized_name);
  if (unicode == normalized_name) return unicode;
  return fmt::format("{} ({})", unicode, normalized_name);
}

std::string registered_domain(std::string_view normalized_name) {
  std::string base(is_wildcard(normalized_name) ? normalized_name.substr(2) : normalized_name);
  const char* registered = psl_registrable_domain(suffix_list(), base.c_str());
  // Null only for a public suffix, which normalize_domain_name() refuses: the name is its own.
  return registered ? std::string(registered) : base;
}

bool covers(std::string_view certificate_name, std::string_view host) {
  // A wildcard name held by a certificate covers the same wildcard asked for (a domain's own
  // "*.example.com"), but never a wildcard of another level.
  if (certificate_name == host) return true;
  if (!is_wildcard(certificate_name)) return false;
  std::string_view base = certificate_name.substr(1);  // ".example.com"
  if (host.size() <= base.size() || !host.ends_with(base)) return false;
  std::string_view first_label = host.substr(0, host.size() - base.size());
  return first_label.find('.') == std::string_view::npos && first_label != "*";
}

std::string storage_name(std::string_view normalized_name) {
  if (is_ip_address(normalized_name)) {
    std::string path = "ip-" + std::string(normalized_name);
    std::replace(path.begin(), path.end(), ':', '-');
    return path;
  }
  if (is_wildcard(normalized_name)) return "_wildcard" + std::string(normalized_name.substr(1));
  return std::string(normalized_name);
}

}  // namespace certcli
