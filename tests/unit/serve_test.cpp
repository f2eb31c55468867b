// The pure rules of `certcli serve`: which names /allowed lets through, how a query value is
// decoded, which listen addresses count as loopback; and the http-01 answers the serve solver
// publishes into the state directory and serve reads back.
#include <certcli/challenge.hpp>
#include <certcli/clock.hpp>
#include <certcli/serve.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <sys/stat.h>

namespace store = certcli::store;
using certcli::lifecycle::decide_allowed;
using certcli::lifecycle::is_loopback_address;
using certcli::lifecycle::percent_decode;
using certcli::lifecycle::query_parameter;

namespace {

store::DomainRecord domain(const std::string& name, std::vector<std::string> names) {
  store::DomainRecord r;
  r.name = name;
  r.names = std::move(names);
  return r;
}

}  // namespace

TEST_CASE("serve allows a managed name, a SAN and a name a wildcard covers, never a wildcard's apex") {
  std::vector<store::DomainRecord> domains{domain("shop.example.com", {"shop.example.com", "www.shop.example.com"}),
                                           domain("*.wild.example.com", {"*.wild.example.com"})};
  CHECK(decide_allowed(domains, "shop.example.com", false, false).allowed);
  CHECK(decide_allowed(domains, "www.shop.example.com", false, false).allowed);
  CHECK(decide_allowed(domains, "a.wild.example.com", false, false).allowed);
  CHECK_FALSE(decide_allowed(domains, "wild.example.com", false, false).allowed);
  CHECK_FALSE(decide_allowed(domains, "a.b.wild.example.com", false, false).allowed);
  CHECK_FALSE(decide_allowed(domains, "other.example.com", false, false).allowed);
  CHECK(decide_allowed(domains, "gone.example.com", false, true).reason.find("removed") != std::string::npos);
}

TEST_CASE("serve refuses a name whose ownership is required and was not found at the last verify") {
  certcli::TimePoint now{std::chrono::seconds{1800000000}};
  store::DomainRecord d = domain("own.example.com", {"own.example.com"});
  d.verification.require_ownership = true;
  CHECK_FALSE(decide_allowed({d}, "own.example.com", false, false).allowed);
  d.verification.checked_at = now;
  d.verification.ownership_verified_at = now;
  CHECK(decide_allowed({d}, "own.example.com", false, false).allowed);
  // A later verify that did not find it.
  d.verification.checked_at = now + std::chrono::hours{1};
  CHECK_FALSE(decide_allowed({d}, "own.example.com", false, false).allowed);
  // Required by serve itself for every domain.
  store::DomainRecord plain = domain("plain.example.com", {"plain.example.com"});
  CHECK(decide_allowed({plain}, "plain.example.com", false, false).allowed);
  CHECK_FALSE(decide_allowed({plain}, "plain.example.com", true, false).allowed);
}

TEST_CASE("serve decodes query values and refuses malformed escapes") {
  CHECK(percent_decode("b%C3%BCcher.example.com") == "b\xC3\xBC" "cher.example.com");
  CHECK(percent_decode("a%2Eexample.com") == "a.example.com");
  CHECK_FALSE(percent_decode("a%zz"));
  CHECK_FALSE(percent_decode("a%2"));
  CHECK_FALSE(percent_decode("a%00b"));
  CHECK(query_parameter("x=1&domain=a.example&y", "domain") == "a.example");
  CHECK(query_parameter("domain", "domain") == "");
  CHECK_FALSE(query_parameter("domains=a", "domain"));
}

TEST_CASE("serve counts only loopback addresses as loopback") {
  CHECK(is_loopback_address("127.0.0.1"));
  CHECK(is_loopback_address("127.1.2.3"));
  CHECK(is_loopback_address("::1"));
  CHECK_FALSE(is_loopback_address("::"));
  CHECK_FALSE(is_loopback_address("0.0.0.0"));
  CHECK_FALSE(is_loopback_address("192.0.2.1"));
}

TEST_CASE("the serve solver publishes a key authorization 0600 for serve to read, and takes it away") {
  certcli::testing::TempDir home;
  auto directory = home.path / "http-01";
  auto solver = certcli::challenge::make_http_serve_solver(directory);
  certcli::challenge::ChallengeTask task{"a.example.com", "http-01", "tok-EN_1", "tok-EN_1.thumb"};
  solver->present(task);
  CHECK(certcli::challenge::read_published_key_authorization(directory, "tok-EN_1") == "tok-EN_1.thumb");
  struct stat st {};
  REQUIRE(::stat((directory / "tok-EN_1").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(certcli::challenge::read_published_key_authorization(directory, "../http-01/tok-EN_1"));
  CHECK_FALSE(certcli::challenge::read_published_key_authorization(directory, "missing"));
  std::filesystem::create_symlink(directory / "tok-EN_1", directory / "linked");
  CHECK_FALSE(certcli::challenge::read_published_key_authorization(directory, "linked"));
  CHECK(solver->cleanup(task).empty());
  CHECK_FALSE(certcli::challenge::read_published_key_authorization(directory, "tok-EN_1"));
}
