// certcli/toml_guard.hpp — the gate every TOML file (state records, config.toml) passes before
// toml++ sees it. Owns the rule "what shapes of TOML may reach the parser"; it parses nothing
// and reads no file: the caller passes the text and names the file in its own error.
//
// Why: Debian's toml++ 3.3.0 reaches __builtin_unreachable (undefined behaviour) on many
// non-ASCII code points wherever it tests for whitespace (upstream marzer/tomlplusplus#190/#295)
// and recurses without limit on a very long dotted key. certcli writes these files itself, so it
// refuses, with the line, the bytes and shapes it never writes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace certcli {

// Far above any record or config.toml certcli writes (a few KiB).
inline constexpr std::size_t kTomlMaxBytes = 1024 * 1024;
// Nesting of [ and { at once, and key parts of one dotted key (a.b.c is 3). certcli writes 3.
inline constexpr int kTomlMaxDepth = 32;

struct TomlRefusal {
  int line = 0;        // 1-based; 0 when it is about the whole file (its size)
  std::string reason;  // what was found, in the user's words
};

// Why `text` must not reach the TOML parser, or nothing when it may: larger than kTomlMaxBytes;
// not UTF-8; an ASCII control character other than tab, newline and carriage return; a
// character outside ASCII anywhere but inside a quoted string or a comment, or right after a
// backslash in a string; deeper than kTomlMaxDepth. Pure: no file, no parser.
std::optional<TomlRefusal> refuse_unsafe_toml(std::string_view text);

}  // namespace certcli
