// src/lifecycle/config_values.hpp — private to config.cpp and config_values.cpp. Owns what one
// config.toml value means: resolving its $ENV:/$FILE: references and the checks of each key.
// Knows nothing of the file itself: reading, writing and the order of keys stay in config.cpp.
#pragma once

#include <certcli/config.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace certcli::config::detail {

enum class Kind { text, integer, text_list, integer_list };

struct KeySpec {
  std::string_view key;  // "renewal.buffer_days"
  Kind kind;
  bool secret;                // never shown, whatever way it is written
  std::string_view excludes;  // the key it cannot be set together with
  std::string_view built_in;  // what applies when the key is unset; empty: nothing
  std::string_view example;   // a value, for hints
};

// What is wrong with one value and what fixes it; the caller adds the file, line and key.
struct Problem {
  std::string what;
  std::string fix;
  // False when the file is not what needs fixing (an unset variable, an unreadable file).
  bool fixed_in_file = true;
};

// A value as written: in the file, or as `certcli config set` takes it.
using Value = std::variant<std::string, std::int64_t, std::vector<std::string>, std::vector<std::int64_t>>;

// "$ENV:..." or "$FILE:...".
bool is_reference(std::string_view text);

// Checks one value of `spec`'s key and stores it in `config`; throws Problem. `getenv` null: a
// reference's form is checked, but it is not resolved (and its value is not checked).
void apply(Config& config, const KeySpec& spec, const Value& value, const Getenv* getenv);

}  // namespace certcli::config::detail
