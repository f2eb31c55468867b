// certcli/names.hpp — pure rules about DNS names: validation, normalisation (IDNA 2008 through
// libidn2, the public suffix list through libpsl), wildcard coverage, how a name is shown, and
// the file-system-safe form of a name. No string from outside reaches a path before
// normalize_domain_name() has accepted it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace certcli {

// Turns a name as people write it into the form certcli stores and the CA sees: a Unicode name
// is converted to its A-label form (IDNA 2008, UTS #46 non-transitional mapping, so "ß" stays
// "ß" and a full-width dot is a dot), ASCII is lowercased, and one trailing dot is dropped.
// Then checks it: LDH labels of 1..63, 253 in all, at least two labels, an optional leading
// "*." wildcard label, every "xn--" label a valid A-label, and neither the name nor a
// wildcard's base a public suffix ("co.uk", "*.com"). Throws Error{invalid_input} naming the
// name, what is wrong and how to fix it.
std::string normalize_domain_name(std::string_view name);

bool is_wildcard(std::string_view name);

// IP address identifiers (RFC 8738). The canonical text of an IPv4 or IPv6 address (what
// inet_ntop prints: dotted decimal, or RFC 5952 lowercase with the longest zero run as "::"),
// brackets around IPv6 allowed ("[::1]"); nullopt when `text` is not an address. The unspecified
// addresses (0.0.0.0, ::) are not addresses a certificate can name: nullopt too.
std::optional<std::string> normalize_ip_address(std::string_view text);
// Whether a normalized name is an IP address rather than a DNS name (no DNS name normalizes to
// something that parses as an address: a numeric last label and ':' are refused there).
bool is_ip_address(std::string_view normalized_name);
// What certcli accepts wherever a certificate name is given: an IP address in its canonical
// form, else normalize_domain_name().
std::string normalize_name(std::string_view name);

// How a normalized name is shown to people: the name itself, or, when it has A-labels, its
// Unicode form followed by the stored form: "bücher.example.test (xn--bcher-kva.example.test)".
std::string display_name(std::string_view normalized_name);

// The Unicode form of a normalized name ("xn--bcher-kva.example.test" -> "bücher.example.test");
// the name itself when it has no A-labels.
std::string unicode_name(std::string_view normalized_name);

// The registered domain (the public suffix plus one label) a normalized name belongs to:
// "a.example.co.uk" and "*.b.example.co.uk" -> "example.co.uk". CAs count rate limits per
// registered domain.
std::string registered_domain(std::string_view normalized_name);

// Whether a certificate name (possibly "*.example.com") covers a host name. A wildcard covers
// exactly one label and never its apex (RFC 6125 6.4.3).
bool covers(std::string_view certificate_name, std::string_view host);

// The directory name a normalized entry name is stored under ("*.example.com" ->
// "_wildcard.example.com"; an IP address gets "ip-" with each ':' as '-': "ip-127.0.0.1",
// "ip-2001-db8--1" for 2001:db8::1). No DNS name has either form: "ip-127.0.0.1" has a numeric
// last label, and an IPv6 form is a single label.
std::string storage_name(std::string_view normalized_name);

}  // namespace certcli
