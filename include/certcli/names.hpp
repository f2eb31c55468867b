// certcli/names.hpp — pure rules about DNS names: validation, normalisation, wildcard coverage,
// and the file-system-safe form of a name. No string from outside reaches a path before
// normalize_domain_name() has accepted it.
#pragma once

#include <string>
#include <string_view>

namespace certcli {

// Lowercases and checks a domain name (LDH labels of 1..63, 253 in all, at least two labels,
// an optional leading "*." wildcard label, no trailing dot). Non-ASCII input is refused with a
// hint to give the punycode (xn--) form. Throws Error{invalid_input} naming what is wrong.
std::string normalize_domain_name(std::string_view name);

bool is_wildcard(std::string_view name);

// Whether a certificate name (possibly "*.example.com") covers a host name. A wildcard covers
// exactly one label and never its apex (RFC 6125 6.4.3).
bool covers(std::string_view certificate_name, std::string_view host);

// The directory name a normalized entry name is stored under ("*.example.com" ->
// "_wildcard.example.com").
std::string storage_name(std::string_view normalized_name);

}  // namespace certcli
