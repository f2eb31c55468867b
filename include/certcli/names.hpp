// certcli/names.hpp — pure rules about DNS names: validation, normalisation (IDNA 2008 through
// libidn2, the public suffix list through libpsl), wildcard coverage, how a name is shown, and
// the file-system-safe form of a name. No string from outside reaches a path before
// normalize_domain_name() has accepted it.
#pragma once

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
// "_wildcard.example.com").
std::string storage_name(std::string_view normalized_name);

}  // namespace certcli
