// "Did you mean ...?" for a mistyped command or option: a pure decision, no CLI11 in sight, so
// that it is unit-tested on its own (tests/unit/suggest_test.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::cli {

// Damerau-Levenshtein distance (optimal string alignment): the number of single-character
// insertions, deletions, substitutions and transpositions of two adjacent characters that turn
// `a` into `b`. Case-sensitive; "isue" -> "issue" is 1, "stauts" -> "status" is 1.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate the user most likely meant by `word`, compared without regard to ASCII case:
//  - the single nearest candidate within edit distance 2 (and nearer than the word is long, so
//    that "x" is not taken for "v");
//  - else the single candidate that `word` is a prefix of ("dom" -> "domain").
// Nothing when no candidate is near, or when two are equally near: a wrong guess misleads more
// than no guess. Duplicate candidates count once.
std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace certcli::cli
