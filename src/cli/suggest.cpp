// Nearest-candidate suggestions for command-line typos; see suggest.hpp.
#include "cli/suggest.hpp"

#include <algorithm>

namespace certcli::cli {
namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // d[i][j]: distance between the first i characters of a and the first j of b.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty()) return std::nullopt;
  std::vector<std::string> unique;
  for (const auto& candidate : candidates)
    if (!candidate.empty() && std::find(unique.begin(), unique.end(), candidate) == unique.end())
      unique.push_back(candidate);

  const std::string typed = lowercase(word);
  constexpr std::size_t kMaxDistance = 2;
  std::optional<std::string> best;
  std::size_t best_distance = kMaxDistance + 1;
  bool tied = false;
  for (const auto& candidate : unique) {
    std::size_t distance = edit_distance(typed, lowercase(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
      tied = false;
    } else if (distance == best_distance) {
      tied = true;
    }
  }
  if (best && !tied && best_distance < typed.size()) return best;

  std::optional<std::string> prefixed;
  for (const auto& candidate : unique) {
    if (lowercase(candidate).starts_with(typed)) {
      if (prefixed) return std::nullopt;  // a prefix of several: no single guess
      prefixed = candidate;
    }
  }
  return prefixed;
}

}  // namespace certcli::cli
