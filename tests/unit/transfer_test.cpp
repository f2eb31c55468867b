// The pure rules behind covers and upload: which certificate name covers a host, which names a
// certificate leaves uncovered and why, and how two name lists differ.
#include <certcli/transfer.hpp>

#include <catch2/catch.hpp>

using certcli::lifecycle::covering_name;
using certcli::lifecycle::explain_uncovered;
using certcli::lifecycle::name_difference;

TEST_CASE("covers: a wildcard covers exactly one label, never its apex nor two labels") {
  const std::vector<std::string> wildcard{"*.example.com"};
  CHECK(covering_name(wildcard, "a.example.com") == "*.example.com");
  CHECK_FALSE(covering_name(wildcard, "example.com"));
  CHECK_FALSE(covering_name(wildcard, "a.b.example.com"));
  CHECK_FALSE(covering_name(wildcard, "example.org"));
  CHECK_FALSE(covering_name(wildcard, "aexample.com"));
}

TEST_CASE("covers: an exact name wins over a wildcard, and a wildcard name covers itself") {
  const std::vector<std::string> names{"*.example.com", "www.example.com", "example.com"};
  CHECK(covering_name(names, "www.example.com") == "www.example.com");
  CHECK(covering_name(names, "example.com") == "example.com");
  CHECK(covering_name(names, "*.example.com") == "*.example.com");
  CHECK(covering_name(names, "api.example.com") == "*.example.com");
}

TEST_CASE("upload names each uncovered name with the wildcard rule that leaves it out") {
  auto uncovered = explain_uncovered({"example.com", "a.b.example.com", "x.example.com", "other.net"}, {"*.example.com"});
  REQUIRE(uncovered.size() == 3);
  CHECK(uncovered[0] == "example.com (*.example.com does not cover its apex)");
  CHECK(uncovered[1] == "a.b.example.com (*.example.com covers one label only)");
  CHECK(uncovered[2] == "other.net (no name of the certificate covers it)");
}

TEST_CASE("name_difference lists the names added and removed, in their order") {
  auto [added, removed] = name_difference({"a.test", "b.test"}, {"b.test", "c.test", "d.test"});
  CHECK(added == std::vector<std::string>{"c.test", "d.test"});
  CHECK(removed == std::vector<std::string>{"a.test"});
}
