// The gate before toml++ (include/certcli/toml_guard.hpp). Two passes over the bytes: UTF-8 and
// control characters first, then a small lexer that knows only what TOML quotes and comments
// are, enough to tell where a character outside ASCII stands.
//
// Where toml++ 3.3.0 looks at a code point outside ASCII: is_non_ascii_horizontal_whitespace()
// is reached (and with it __builtin_unreachable for most of U+00A1..U+FEFE) wherever the parser
// skips whitespace or looks for the end of a bare value or key; inside a basic string only after
// a backslash (an escape, or a line-ending backslash skipping the whitespace that follows).
// Comments and the rest of a quoted string merely copy it. So those are the only places a
// character outside ASCII may stand.
#include <certcli/toml_guard.hpp>

#include <fmt/format.h>

#include <vector>

namespace certcli {
namespace {

// The code point starting at text[i] (checked to be valid UTF-8 by the first pass).
char32_t code_point_at(std::string_view text, std::size_t i, std::size_t& length) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (length == 1) return lead;
  char32_t c = lead & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) c = (c << 6) | (byte(k) & 0x3F);
  return c;
}

std::string describe(char32_t c) { return fmt::format("U+{:04X}", static_cast<std::uint32_t>(c)); }

// Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF) and no ASCII control
// character but tab, newline and carriage return. C1 controls (U+0080..U+009F) may stand in a
// quoted string, where toml++ writes them as they are (a CA's error text may hold one); the
// lexer refuses them anywhere else, as every character outside ASCII.
// `valid_size`: how many bytes from the start are checked and fine.
std::optional<TomlRefusal> refuse_bytes(std::string_view text, std::size_t& valid_size) {
  int line = 1;
  for (std::size_t i = 0; i < text.size();) {
    valid_size = i;
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      if (lead == '\n') {
        ++line;
      } else if ((lead < 0x20 && lead != '\t' && lead != '\r') || lead == 0x7F) {
        return TomlRefusal{line, fmt::format("the control character {} (certcli writes none; only tab, newline and "
                                             "carriage return belong in a TOML file)",
                                             describe(lead))};
      }
      ++i;
      continue;
    }
    std::size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                         : lead >= 0xF0 && lead <= 0xF4                                    ? 4
                                                                                           : 0;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    char32_t c = 0;
    if (valid) {
      c = code_point_at(text, i, length);
      valid = !(length == 3 && c < 0x800) && !(length == 4 && (c < 0x10000 || c > 0x10FFFF)) &&
              !(c >= 0xD800 && c <= 0xDFFF);
    }
    if (!valid)
      return TomlRefusal{line, fmt::format("byte 0x{:02X} at offset {} is not UTF-8 (the file is damaged, or was "
                                           "saved in another encoding)",
                                           lead, i)};
    i += length;
  }
  return std::nullopt;
}

enum class Context { bare, comment, basic, literal, multiline_basic, multiline_literal };

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::optional<TomlRefusal> run() {
    while (i_ < text_.size() && !refusal_) {
      const char c = text_[i_];
      switch (context_) {
        case Context::bare: bare(c); break;
        case Context::comment:
          if (c == '\n') {
            context_ = Context::bare;
            bare(c);
          }
          break;
        case Context::basic: basic(c); break;
        case Context::literal:
          if (c == '\'' || c == '\n') context_ = Context::bare;
          break;
        case Context::multiline_basic: multiline_basic(c); break;
        case Context::multiline_literal:
          if (c == '\'' && starts_triple('\'')) close_triple('\'');
          break;
      }
      // i_ is the last character consumed; only quotes are ever skipped over.
      if (i_ < text_.size() && text_[i_] == '\n') {
        ++line_;
        key_parts_ = 1;
      }
      ++i_;
    }
    return refusal_;
  }

 private:
  void refuse(std::string reason) {
    if (!refusal_) refusal_ = TomlRefusal{line_, std::move(reason)};
  }

  bool non_ascii(char c) const { return static_cast<unsigned char>(c) >= 0x80; }
  char32_t here() const {
    std::size_t length = 0;
    return code_point_at(text_, i_, length);
  }

  bool starts_triple(char quote) const { return text_.substr(i_, 3) == std::string_view(std::string(3, quote)); }
  // At the closing triple quote: up to two more quotes belong to the string (TOML 1.0).
  void close_triple(char quote) {
    i_ += 2;
    for (int extra = 0; extra < 2 && i_ + 1 < text_.size() && text_[i_ + 1] == quote; ++extra) ++i_;
    context_ = Context::bare;
  }

  // toml++ reads a bare value (a number, a date, true) up to a value terminator, whatever else
  // it holds: a quote, '=', '[' or '{' inside one starts nothing, and a character outside ASCII
  // there is tested for whitespace.
  static bool ends_value(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ']' || c == '}' || c == ',' || c == '#';
  }

  void bare(char c) {
    if (in_token_ && !ends_value(c)) {
      if (non_ascii(c)) refuse_outside_quotes();
      return;
    }
    in_token_ = false;
    switch (c) {
      case '#': context_ = Context::comment; return;
      case '"':
        if (starts_triple('"')) {
          i_ += 2;
          context_ = Context::multiline_basic;
        } else {
          context_ = Context::basic;
        }
        return;
      case '\'':
        if (starts_triple('\'')) {
          i_ += 2;
          context_ = Context::multiline_literal;
        } else {
          context_ = Context::literal;
        }
        return;
      case '[':
      case '{':
        open_.push_back({c, in_value_});
        if (static_cast<int>(open_.size()) > kTomlMaxDepth)
          refuse(fmt::format("arrays or tables nested more than {} deep (certcli writes 3)", kTomlMaxDepth));
        key_parts_ = 1;
        if (c == '{') in_value_ = false;  // a key comes first
        return;
      case ']':
      case '}':
        if (!open_.empty()) {
          in_value_ = open_.back().in_value;
          open_.pop_back();
        }
        return;
      case '\n':
        // A line ends a key = value, but not an array, whose next line holds more values.
        in_value_ = !open_.empty() && open_.back().bracket == '[' && open_.back().in_value;
        return;
      // A value's own dots (1.5, a time's fraction) are counted from '=' or ',' on: one or two.
      case '=':
        key_parts_ = 1;
        in_value_ = true;
        return;
      case ',':
        key_parts_ = 1;
        in_value_ = open_.empty() || open_.back().bracket == '[';  // in an inline table, a key follows
        return;
      case ' ':
      case '\t':
      case '\r': return;
      case '.':
        if (++key_parts_ > kTomlMaxDepth)
          refuse(fmt::format("a dotted key of more than {} parts (certcli writes at most 3)", kTomlMaxDepth));
        return;
      default:
        if (non_ascii(c)) refuse_outside_quotes();
        if (in_value_) in_token_ = true;
    }
  }

  void refuse_outside_quotes() {
    refuse(fmt::format("the character {} outside quotes (certcli writes characters beyond ASCII only inside "
                       "quoted strings: quote the value)",
                       describe(here())));
  }

  // After a backslash toml++ tests the next character for whitespace; outside ASCII that is the
  // undefined behaviour, and certcli never escapes such a character.
  bool escape_at_next() {
    if (i_ + 1 >= text_.size()) return false;
    ++i_;
    if (non_ascii(text_[i_])) {
      refuse(fmt::format("a backslash before the character {} in a string (certcli never writes it)",
                         describe(here())));
      return false;
    }
    return true;
  }

  void basic(char c) {
    if (c == '\\') {
      if (escape_at_next() && text_[i_] == '\n') context_ = Context::bare;  // toml++ rejects it anyway
    } else if (c == '"' || c == '\n') {
      context_ = Context::bare;
    }
  }

  void multiline_basic(char c) {
    if (skipping_whitespace_) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return;
      if (non_ascii(c)) {
        refuse(fmt::format("the character {} after a line-ending backslash (certcli never writes one)",
                           describe(here())));
        return;
      }
      skipping_whitespace_ = false;
    }
    if (c == '\\') {
      if (!escape_at_next()) return;
      const char next = text_[i_];
      if (next == ' ' || next == '\t' || next == '\n' || next == '\r') skipping_whitespace_ = true;
    } else if (c == '"' && starts_triple('"')) {
      close_triple('"');
    }
  }

  std::string_view text_;
  std::size_t i_ = 0;
  int line_ = 1;
  struct Open {
    char bracket;   // '[' or '{'
    bool in_value;  // opened where a value stands (an array, an inline table), not a [table] header
  };
  std::vector<Open> open_;  // [ and { open at once
  bool in_value_ = false;   // a value, not a key, stands here
  bool in_token_ = false;   // inside a bare value (1.5, 2025-01-01T00:00:00Z, true)
  int key_parts_ = 1;  // parts of the dotted key being read
  bool skipping_whitespace_ = false;
  Context context_ = Context::bare;
  std::optional<TomlRefusal> refusal_;
};

}  // namespace

std::optional<TomlRefusal> refuse_unsafe_toml(std::string_view text) {
  if (text.size() > kTomlMaxBytes)
    return TomlRefusal{0, fmt::format("{} bytes, more than the {} certcli reads (it writes a few KiB)", text.size(),
                                      kTomlMaxBytes)};
  // The first problem in the file is named: the lexer reads what comes before a bad byte.
  std::size_t valid_size = text.size();
  auto bad_byte = refuse_bytes(text, valid_size);
  if (!bad_byte) valid_size = text.size();
  if (auto refusal = Lexer(text.substr(0, valid_size)).run()) return refusal;
  return bad_byte;
}

}  // namespace certcli
