// What certcli accepts from a CA is held to what it asked for (issue #24, hostile CAs): the
// authorizations of an order, the names of a certificate, and the text shown from a CA.
#include "lifecycle/steps.hpp"

#include <certcli/acme.hpp>

#include <catch2/catch.hpp>

using namespace certcli;

namespace {

acme::Order order_with(std::vector<std::string> identifiers, std::size_t authorizations) {
  acme::Order order;
  order.url = "https://ca.test/order/1";
  for (auto& name : identifiers) order.identifiers.push_back({"dns", std::move(name)});
  for (std::size_t i = 0; i < authorizations; ++i)
    order.authorization_urls.push_back("https://ca.test/authz/" + std::to_string(i));
  return order;
}

}  // namespace

TEST_CASE("an order linking more authorizations than names is refused before any is fetched") {
  const std::vector<std::string> ordered{"example.com", "www.example.com"};
  CHECK_NOTHROW(acme::check_authorization_count(order_with(ordered, 2), ordered));
  CHECK_NOTHROW(acme::check_authorization_count(order_with(ordered, 1), ordered));  // "none missing" comes later
  CHECK_THROWS_AS(acme::check_authorization_count(order_with(ordered, 3), ordered), acme::CaMisbehaved);
  CHECK_THROWS_WITH(acme::check_authorization_count(order_with(ordered, 3000), ordered),
                    Catch::Contains("3000 authorizations for 2 names"));
  acme::Order twice = order_with(ordered, 2);
  twice.authorization_urls[1] = twice.authorization_urls[0];
  CHECK_THROWS_WITH(acme::check_authorization_count(twice, ordered), Catch::Contains("twice"));
}

TEST_CASE("an authorization for a name not ordered, or a second one for a name, is refused") {
  const std::vector<std::string> ordered{"example.com", "*.example.com"};
  CHECK_NOTHROW(acme::check_authorized_name("example.com", ordered, {}));
  CHECK_NOTHROW(acme::check_authorized_name("*.example.com", ordered, {"example.com"}));
  CHECK_THROWS_WITH(acme::check_authorized_name("victim.example.net", ordered, {}),
                    Catch::Contains("'victim.example.net', a name certcli did not order"));
  // A wildcard's authorization is not its apex's, nor the other way round.
  CHECK_THROWS_AS(acme::check_authorized_name("*.example.com", {"example.com"}, {}), acme::CaMisbehaved);
  CHECK_THROWS_WITH(acme::check_authorized_name("example.com", ordered, {"example.com"}),
                    Catch::Contains("a second authorization for 'example.com'"));
}

TEST_CASE("an order missing an authorization for a name ordered is refused") {
  const std::vector<std::string> ordered{"a.example.com", "b.example.com"};
  CHECK_NOTHROW(acme::check_every_name_authorized(ordered, {"b.example.com", "a.example.com"}));
  CHECK_THROWS_WITH(acme::check_every_name_authorized(ordered, {"a.example.com"}),
                    Catch::Contains("without an authorization for 'b.example.com'"));
}

TEST_CASE("a wildcard authorization is named with its '*.' prefix") {
  acme::Authorization authz;
  authz.identifier = {"dns", "example.com"};
  CHECK(acme::authorized_name(authz) == "example.com");
  authz.wildcard = true;
  CHECK(acme::authorized_name(authz) == "*.example.com");
}

TEST_CASE("a new order's identifiers must be exactly the names ordered") {
  const std::vector<std::string> ordered{"example.com", "www.example.com"};
  CHECK_NOTHROW(acme::check_order_identifiers(order_with({"www.example.com", "example.com"}, 2), ordered));
  CHECK_THROWS_WITH(acme::check_order_identifiers(order_with({"example.com", "www.example.com", "evil.test"}, 3), ordered),
                    Catch::Contains("did not ask for: 'evil.test'"));
  CHECK_THROWS_WITH(acme::check_order_identifiers(order_with({"example.com"}, 1), ordered),
                    Catch::Contains("without names certcli asked for: 'www.example.com'"));
}

TEST_CASE("a certificate's names must equal the names ordered, compared as certcli stores names") {
  using lifecycle::steps::certificate_names_mismatch;
  CHECK(certificate_names_mismatch({"example.com", "www.example.com"}, {"www.example.com", "example.com"}).empty());
  CHECK(certificate_names_mismatch({"example.com"}, {"EXAMPLE.com"}).empty());                 // DNS is case-blind
  CHECK(certificate_names_mismatch({"2001:db8::1"}, {"2001:0db8:0:0:0:0:0:1"}).empty());     // one address, two spellings
  CHECK(certificate_names_mismatch({"example.com"}, {"example.com", "example.com"}).empty());  // a repeat adds nothing
  CHECK(certificate_names_mismatch({"example.com"}, {"example.com", "victim.example.net"}) == "adds 'victim.example.net'");
  CHECK(certificate_names_mismatch({"example.com", "www.example.com"}, {"example.com"}) == "lacks 'www.example.com'");
  CHECK(certificate_names_mismatch({"192.0.2.1"}, {"192.0.2.2"}) == "lacks '192.0.2.1' and adds '192.0.2.2'");
  CHECK(certificate_names_mismatch({"*.example.com"}, {"example.com"}) == "lacks '*.example.com' and adds 'example.com'");
  CHECK_FALSE(certificate_names_mismatch({"example.com"}, {}).empty());
}

TEST_CASE("CA text keeps its words and shows its control characters as \\xNN") {
  CHECK(acme::ca_text("plain detail, ünïcode kept") == "plain detail, ünïcode kept");
  CHECK(acme::ca_text("clear \x1b[2Jthe screen") == "clear \\x1b[2Jthe screen");
  CHECK(acme::ca_text("line\r\nforged: yes\x7f") == "line\\x0d\\x0aforged: yes\\x7f");
  CHECK(acme::ca_text(std::string(2000, 'a'), 10) == "aaaaaaaaaa...");
}

TEST_CASE("a problem document's detail, type and subproblems are escaped where they are parsed") {
  auto body = nlohmann::json::parse(R"({
    "type": "urn:ietf:params:acme:error:malformed\u001b[31m",
    "detail": "bad \u001b]0;title\u0007 request",
    "subproblems": [{"type": "x", "detail": "\u001b[2J", "identifier": {"type": "dns", "value": "a\nb"}}]})");
  acme::Problem problem = acme::Problem::from_json(body, 400);
  CHECK(problem.detail == "bad \\x1b]0;title\\x07 request");
  const std::string text = problem.describe();
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find("\\x1b[2J") != std::string::npos);
  CHECK(text.find("a\\x0ab") != std::string::npos);
}
