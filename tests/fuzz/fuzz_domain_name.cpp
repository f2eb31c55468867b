// Fuzzes the domain-name rules: normalize_domain_name() is the gate every name from outside
// passes before it reaches a path, so what it accepts must be lowercase, stable and safe as a
// directory name. covers() is also called on raw input and must never throw.
#include <certcli/error.hpp>
#include <certcli/names.hpp>

#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // covers() is noexcept in spirit: a throw escapes and is reported by libFuzzer.
  (void)certcli::covers(input, input);
  (void)certcli::is_wildcard(input);
  std::size_t half = size / 2;
  (void)certcli::covers(input.substr(0, half), input.substr(half));

  std::string name;
  try {
    name = certcli::normalize_domain_name(input);
  } catch (const certcli::Error&) {
    return 0;
  }
  const char* shown = name.c_str();
  // Unicode input becomes its A-label form and one trailing dot is dropped, so the length may
  // change; a name that was already plain ASCII LDH keeps it, give or take that dot.
  bool ascii = std::all_of(input.begin(), input.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    std::size_t expected = input.size() - (!input.empty() && input.back() == '.' ? 1 : 0);
    FUZZ_CHECK(name.size() == expected, "normalized '%s' changed length", shown);
  }
  FUZZ_CHECK(name.size() <= 253, "normalized '%s' is longer than a DNS name may be", shown);
  for (char c : name) {
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "normalized '%s' is not lowercase", shown);
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*',
               "normalized '%s' holds a character outside LDH/./*", shown);
  }
  std::string again;
  try {
    again = certcli::normalize_domain_name(name);
  } catch (const certcli::Error& e) {
    FUZZ_CHECK(false, "normalize('%s') accepted, normalize(result) threw: %s", shown, e.what());
  }
  FUZZ_CHECK(again == name, "normalize is not idempotent: '%s' -> '%s'", shown, again.c_str());

  std::string stored = certcli::storage_name(name);
  FUZZ_CHECK(!stored.empty(), "storage_name('%s') is empty", shown);
  FUZZ_CHECK(stored.find('/') == std::string::npos, "storage_name('%s') = '%s' holds '/'", shown, stored.c_str());
  FUZZ_CHECK(stored.front() != '.', "storage_name('%s') = '%s' starts with '.'", shown, stored.c_str());
  FUZZ_CHECK(stored.find('*') == std::string::npos, "storage_name('%s') = '%s' holds '*'", shown, stored.c_str());

  // A plain name covers itself; a wildcard never covers its own apex.
  if (!certcli::is_wildcard(name)) {
    FUZZ_CHECK(certcli::covers(name, name), "'%s' does not cover itself", shown);
  } else {
    FUZZ_CHECK(!certcli::covers(name, name.substr(2)), "'%s' covers its apex", shown);
    FUZZ_CHECK(certcli::covers(name, "x" + name.substr(1)), "'%s' does not cover x%s", shown, shown + 1);
  }
  return 0;
}
