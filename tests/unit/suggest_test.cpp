// The "did you mean" decision for mistyped commands and options (src/cli/suggest.cpp).
#include "cli/suggest.hpp"

#include <catch2/catch.hpp>

using certcli::cli::edit_distance;
using certcli::cli::nearest;

namespace {
const std::vector<std::string> kCommands = {"domain", "issue", "status"};
const std::vector<std::string> kDomainCommands = {"add", "list", "remove"};
const std::vector<std::string> kIssueOptions = {"help",    "email",   "agree-tos", "account-key-type", "http-listen",
                                                "webroot", "timeout", "json",      "home",             "directory",
                                                "ca",      "staging", "ca-bundle", "verbose",          "version"};
}  // namespace

TEST_CASE("edit distance counts insertions, deletions, substitutions and adjacent transpositions") {
  CHECK(edit_distance("issue", "issue") == 0);
  CHECK(edit_distance("isue", "issue") == 1);     // insertion
  CHECK(edit_distance("isssue", "issue") == 1);   // deletion
  CHECK(edit_distance("issie", "issue") == 1);    // substitution
  CHECK(edit_distance("stauts", "status") == 1);  // transposition
  CHECK(edit_distance("", "add") == 3);
  CHECK(edit_distance("add", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("a one-letter typo of a command is suggested") {
  CHECK(nearest("isue", kCommands) == "issue");
  CHECK(nearest("statsu", kCommands) == "status");
  CHECK(nearest("domian", kCommands) == "domain");
  CHECK(nearest("ad", kDomainCommands) == "add");
  CHECK(nearest("lsit", kDomainCommands) == "list");
}

TEST_CASE("a typo of an option name is suggested") {
  CHECK(nearest("timout", kIssueOptions) == "timeout");
  CHECK(nearest("emial", kIssueOptions) == "email");
  CHECK(nearest("agree-to", kIssueOptions) == "agree-tos");
  CHECK(nearest("ca-bundel", kIssueOptions) == "ca-bundle");
  CHECK(nearest("webrot", kIssueOptions) == "webroot");
}

TEST_CASE("two typos are still near, three are not") {
  CHECK(nearest("isu", kCommands) == "issue");
  CHECK(nearest("stts", kCommands) == "status");
  CHECK_FALSE(nearest("xyzzue", kCommands).has_value());
}

TEST_CASE("a unique prefix is suggested even when it is far") {
  CHECK(nearest("dom", kCommands) == "domain");
  CHECK(nearest("rem", kDomainCommands) == "remove");
  CHECK(nearest("account", kIssueOptions) == "account-key-type");
}

TEST_CASE("case does not matter, but the suggestion is spelt as the candidate") {
  CHECK(nearest("ISSUE", kCommands) == "issue");
  CHECK(nearest("Isue", kCommands) == "issue");
}

TEST_CASE("nothing is suggested when nothing is near") {
  CHECK_FALSE(nearest("frobnicate", kCommands).has_value());
  CHECK_FALSE(nearest("renew", kCommands).has_value());
  CHECK_FALSE(nearest("", kCommands).has_value());
  CHECK_FALSE(nearest("issue", {}).has_value());
}

TEST_CASE("a word is not fixed by replacing all of it") {
  // "x" is one substitution from "v", but that is no longer a typo of "v".
  CHECK_FALSE(nearest("x", {"v", "h"}).has_value());
  CHECK_FALSE(nearest("zz", {"ca"}).has_value());
}

TEST_CASE("two equally near candidates give no suggestion") {
  CHECK_FALSE(nearest("cat", {"cap", "car"}).has_value());
  CHECK_FALSE(nearest("ca", {"ca-bundle", "ca-path"}).has_value());  // a prefix of both
}

TEST_CASE("a candidate listed twice is not a tie with itself") {
  CHECK(nearest("jsn", {"json", "json", "help"}) == "json");
}
