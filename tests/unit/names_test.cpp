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
  refused("com", "single label");
  refused("example.com..", "two dots");
  refused(".", "only a dot");
  refused("a..example.com", "empty label");
  refused("-a.example.com", "hyphen");
  refused("a_b.example.com", "letters, digits and hyphens");
  refused("www.*.example.com", "wildcard");
  refused(std::string("b\xc3\xbc\0.example", 10), "NUL");
  refused("b\xc3\x28.example.test", "IDNA 2008");          // not UTF-8
  refused("\xf0\x9f\x92\xa9.example.test", "IDNA 2008");  // an emoji is disallowed
  refused("xn--zz.example.test", "'xn--zz' is not a valid A-label");
  refused("xn--ls8h.example.test", "not a valid A-label");  // an emoji, punycoded
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
  CHECK(covers("*.example.com", "*.example.com"));  // a wildcard domain's own name
  CHECK_FALSE(covers("*.example.com", "*.a.example.com"));
}

TEST_CASE("wildcard entries are stored under a path-safe name") {
  CHECK(storage_name("*.example.com") == "_wildcard.example.com");
  CHECK(storage_name("example.com") == "example.com");
}

TEST_CASE("Unicode names are converted to their A-label form (IDNA 2008, UTS 46 non-transitional)") {
  CHECK(normalize_domain_name("bücher.example.test") == "xn--bcher-kva.example.test");
  CHECK(normalize_domain_name("BÜCHER.Example.TEST") == "xn--bcher-kva.example.test");
  CHECK(normalize_domain_name("*.bücher.example.test") == "*.xn--bcher-kva.example.test");
  // Non-transitional: "ß" is a letter of its own, not "ss" as IDNA 2003 made it.
  CHECK(normalize_domain_name("straße.example.test") == "xn--strae-oqa.example.test");
  // UTS 46 maps a full-width dot (U+FF0E) and an ideographic full stop (U+3002) to "."
  CHECK(normalize_domain_name("bücher\xef\xbc\x8e" "example\xe3\x80\x82test") == "xn--bcher-kva.example.test");
  // Upper-case A-labels are the same label.
  CHECK(normalize_domain_name("XN--BCHER-KVA.example.test") == "xn--bcher-kva.example.test");
}

TEST_CASE("one trailing dot is the DNS root and is dropped") {
  CHECK(normalize_domain_name("example.com.") == "example.com");
  CHECK(normalize_domain_name("*.Example.com.") == "*.example.com");
  CHECK(normalize_domain_name("bücher.example.test.") == "xn--bcher-kva.example.test");
}

TEST_CASE("normalizing a normalized name changes nothing") {
  for (const char* name : {"bücher.example.test", "*.straße.example.co.uk", "example.com."}) {
    std::string once = normalize_domain_name(name);
    CHECK(normalize_domain_name(once) == once);
  }
}

TEST_CASE("public suffixes and wildcards over them are refused with the reason") {
  auto refused = [](const std::string& name, const std::string& reason) {
    try {
      normalize_domain_name(name);
      FAIL("accepted " << name);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_input);
      CHECK_THAT(e.what(), Catch::Contains(reason));
      CHECK_THAT(e.what(), Catch::Contains(name));
      CHECK_THAT(e.hint(), Catch::Contains("as it is registered"));
    }
  };
  refused("co.uk", "is a public suffix");
  refused("CO.UK.", "is a public suffix");
  refused("*.com", "wildcard over the public suffix 'com'");
  refused("*.co.uk", "wildcard over the public suffix 'co.uk'");
  refused("github.io", "is a public suffix");  // the list's private section counts too
  CHECK(normalize_domain_name("*.example.co.uk") == "*.example.co.uk");
  CHECK(normalize_domain_name("example.co.uk") == "example.co.uk");
  CHECK(normalize_domain_name("example.test") == "example.test");  // an unknown TLD is a suffix, its names are not
}

TEST_CASE("a name with A-labels is shown in Unicode beside its stored form") {
  CHECK(display_name("xn--bcher-kva.example.test") == "bücher.example.test (xn--bcher-kva.example.test)");
  CHECK(display_name("*.xn--bcher-kva.example.test") == "*.bücher.example.test (*.xn--bcher-kva.example.test)");
  CHECK(display_name("www.example.com") == "www.example.com");
  CHECK(unicode_name("xn--strae-oqa.example.test") == "straße.example.test");
  CHECK(unicode_name("example.com") == "example.com");
}

TEST_CASE("the registered domain is the public suffix plus one label") {
  CHECK(registered_domain("a.example.co.uk") == "example.co.uk");
  CHECK(registered_domain("b.example.co.uk") == registered_domain("a.example.co.uk"));
  CHECK(registered_domain("*.b.example.co.uk") == "example.co.uk");
  CHECK(registered_domain("example.co.uk") == "example.co.uk");
  CHECK(registered_domain("www.xn--bcher-kva.example.test") == "example.test");
  CHECK(registered_domain("deep.www.example.com") == "example.com");
}
