#include <certcli/dns.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>

using namespace certcli;
using certcli::dns::parse_server_address;

namespace {
ErrorKind kind_of_parse(const std::string& text) {
  try {
    parse_server_address(text, "--dns-resolver");
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::internal;  // no error: the tests below expect one
}
}  // namespace

TEST_CASE("a DNS server address is an IP literal with an optional port", "[dns]") {
  auto v4 = parse_server_address("192.0.2.1", "--dns-resolver");
  CHECK(v4.host == "192.0.2.1");
  CHECK(v4.port == 53);
  CHECK(parse_server_address("127.0.0.1:5353", "x").port == 5353);
  CHECK(parse_server_address("127.0.0.1", "x", 8053).port == 8053);

  auto v6 = parse_server_address("[2001:db8::1]:5353", "x");
  CHECK(v6.host == "2001:db8::1");
  CHECK(v6.port == 5353);
  CHECK(parse_server_address("2001:db8::1", "x").port == 53);  // bare IPv6: no port possible
  CHECK(parse_server_address("::1", "x").host == "::1");
  CHECK(parse_server_address("[::1]", "x").port == 53);
}

TEST_CASE("a DNS server address prints as host:port, IPv6 in brackets", "[dns]") {
  CHECK(dns::ServerAddress{"192.0.2.1", 53}.to_string() == "192.0.2.1:53");
  CHECK(dns::ServerAddress{"2001:db8::1", 53}.to_string() == "[2001:db8::1]:53");
  CHECK(parse_server_address("[::1]:5353", "x").to_string() == "[::1]:5353");
}

TEST_CASE("a DNS server given by host name or malformed is refused as invalid input", "[dns]") {
  for (const char* bad : {"", "dns.example.com", "dns.example.com:53", "localhost", "192.0.2.1:", "192.0.2.1:0",
                          "192.0.2.1:65536", "192.0.2.1:53x", "192.0.2.1:-1", "192.0.2", "256.0.0.1", "[2001:db8::1",
                          "[2001:db8::1]5353", "[192.0.2.1]:53", "2001:db8::zz", "[::1]:", " 192.0.2.1"}) {
    INFO(bad);
    CHECK(kind_of_parse(bad) == ErrorKind::invalid_input);
  }
}

TEST_CASE("a refused DNS server address names the setting and the value", "[dns]") {
  try {
    parse_server_address("dns.example.com", "--dns-resolver");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("--dns-resolver") && Catch::Contains("dns.example.com") &&
                             Catch::Contains("host name"));
    CHECK(e.subject() == "dns.example.com");
    CHECK_FALSE(e.hint().empty());
  }
}

TEST_CASE("TSIG keys sign with HMAC-SHA-256, -384 or -512 only", "[dns]") {
  for (const char* good : {"hmac-sha256", "hmac-sha384", "hmac-sha512", "HMAC-SHA256", "hmac-sha512."}) {
    INFO(good);
    CHECK_NOTHROW(dns::check_tsig_algorithm(good));
  }
  for (const char* bad : {"", "hmac-md5", "hmac-md5.sig-alg.reg.int", "hmac-sha1", "hmac-sha224", "sha256",
                          "hmac-sha256..", "hmac-sha256 "}) {
    INFO(bad);
    CHECK_THROWS_AS(dns::check_tsig_algorithm(bad), Error);
    try {
      dns::check_tsig_algorithm(bad);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_input);
    }
  }
}
