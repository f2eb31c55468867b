#include <certcli/error.hpp>
#include <certcli/names.hpp>

#include <catch2/catch.hpp>

using namespace certcli;

TEST_CASE("domain names are lowercased and accepted when they are LDH labels") {
  CHECK(normalize_domain_name("WWW.Example.COM") == "www.example.com");
  CHECK(normalize_domain_name("xn--bcher-kva.example") == "xn--bcher-kva.example");
  CHECK(normalize_domain_name("*.example.com") == "*.example.com");
}

TEST_CASE("malformed domain names are refused with the reason") {
  auto refused = [](const std::string& name, const std::string& reason) {
    try {
      normalize_domain_name(name);
      FAIL("accepted " << name);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_input);
      CHECK_THAT(e.what(), Catch::Contains(reason));
    }
  };
  refused("", "empty");
  refused("localhost", "single label");
  refused("example.com.", "dot");
  refused("a..example.com", "empty label");
  refused("-a.example.com", "hyphen");
  refused("a_b.example.com", "letters, digits and hyphens");
  refused("www.*.example.com", "wildcard");
  refused("bücher.example", "non-ASCII");
  refused(std::string(64, 'a') + ".example.com", "63");
  refused("../../etc/passwd", "label");
  refused("192.168.0.1", "numeric");
}

TEST_CASE("a wildcard covers exactly one label and never its apex") {
  CHECK(covers("*.example.com", "www.example.com"));
  CHECK_FALSE(covers("*.example.com", "example.com"));
  CHECK_FALSE(covers("*.example.com", "a.b.example.com"));
  CHECK_FALSE(covers("*.example.com", "wwwexample.com"));
  CHECK(covers("example.com", "example.com"));
  CHECK_FALSE(covers("example.com", "www.example.com"));
}

TEST_CASE("wildcard entries are stored under a path-safe name") {
  CHECK(storage_name("*.example.com") == "_wildcard.example.com");
  CHECK(storage_name("example.com") == "example.com");
}
