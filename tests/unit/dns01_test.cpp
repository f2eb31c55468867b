// dns-01 solvers without a DNS server: the hook provider end to end with a real script, and what
// the RFC 2136 and manual providers decide before any DNS traffic. RFC 2136 updates and
// propagation against a real server are covered by the integration tests (Knot).
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
using namespace certcli::challenge;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

// A loopback UDP port nobody listens on: every question sent there fails at once (or times out).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A hook that appends its arguments and CERTCLI_DNS_* environment to calls.log beside it. The
// path has a space in it: it must reach exec as one argument.
fs::path write_hook(const fs::path& dir, const std::string& extra = "") {
  fs::path hook = dir / "dns hook.sh";
  std::ofstream(hook) << "#!/bin/sh\n"
                      << "log=\"$(dirname \"$0\")/calls.log\"\n"
                      << "printf 'argv %s|%s|%s|%s\\n' \"$#\" \"$1\" \"$2\" \"$3\" >> \"$log\"\n"
                      << "printf 'env %s|%s|%s|%s|%s\\n' \"$CERTCLI_DNS_ACTION\" \"$CERTCLI_DNS_FQDN\" "
                         "\"$CERTCLI_DNS_VALUE\" \"${CERTCLI_DNS_ZONE-none}\" \"$CERTCLI_DNS_DOMAIN\" >> \"$log\"\n"
                      << extra;
  fs::permissions(hook, fs::perms::owner_all);
  return hook;
}

struct Fixture {
  TempDir dir;
  dns::Resolver resolver{dns::ServerAddress{"127.0.0.1", closed_port()}, std::chrono::milliseconds{400}};
  std::vector<std::string> progress;
  DnsContext context() {
    DnsContext c;
    c.resolver = &resolver;
    c.getenv = [](const char*) -> const char* { return nullptr; };
    c.progress = [this](const std::string& line) { progress.push_back(line); };
    return c;
  }
  DnsSettings hook_settings(const std::string& extra = "") {
    DnsSettings settings;
    settings.hook = write_hook(dir.path, extra).string();
    settings.propagation = "off";
    settings.hook_timeout_seconds = 10;
    return settings;
  }
  fs::path log() const { return dir.path / "calls.log"; }
};

ChallengeTask task(const std::string& identifier, const std::string& token) {
  return ChallengeTask{identifier, "dns-01", token, token + ".thumbprint"};
}

}  // namespace

TEST_CASE("the hook is called as PROGRAM present|cleanup FQDN. VALUE with the CERTCLI_DNS_ environment",
          "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings();
  auto solver = make_dns_solver(settings, f.context());
  CHECK(solver->challenge_type() == "dns-01");
  CHECK(solver->describe() == "dns-01 via hook " + settings.hook);

  ChallengeTask apex = task("example.com", "tokenA");
  ChallengeTask wildcard = task("*.example.com", "tokenB");
  const std::string a = dns01_txt_value(apex.key_authorization);
  const std::string b = dns01_txt_value(wildcard.key_authorization);
  solver->present(apex);
  solver->present(wildcard);
  solver->wait_until_visible({apex, wildcard}, [](const std::string&) {});  // propagation off
  CHECK(solver->cleanup(apex) == "");
  CHECK(solver->cleanup(wildcard) == "");

  // The zone is unknown (certcli cannot see the DNS here), so CERTCLI_DNS_ZONE is not set.
  CHECK(read_text(f.log()) ==
        "argv 3|present|_acme-challenge.example.com.|" + a + "\n" +
        "env present|_acme-challenge.example.com.|" + a + "|none|example.com\n" +
        "argv 3|present|_acme-challenge.example.com.|" + b + "\n" +
        "env present|_acme-challenge.example.com.|" + b + "|none|*.example.com\n" +
        "argv 3|cleanup|_acme-challenge.example.com.|" + a + "\n" +
        "env cleanup|_acme-challenge.example.com.|" + a + "|none|example.com\n" +
        "argv 3|cleanup|_acme-challenge.example.com.|" + b + "\n" +
        "env cleanup|_acme-challenge.example.com.|" + b + "|none|*.example.com\n");
  // The failed CNAME check is a warning, not an error: the hook owns the DNS.
  REQUIRE_FALSE(f.progress.empty());
  CHECK_THAT(f.progress.front(), Catch::Contains("could not check _acme-challenge.example.com for a CNAME"));
}

TEST_CASE("a configured zone reaches the hook as CERTCLI_DNS_ZONE", "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings();
  settings.zone = "example.com";
  auto solver = make_dns_solver(settings, f.context());
  ChallengeTask t = task("www.example.com", "tok");
  solver->present(t);
  CHECK_THAT(read_text(f.log()), Catch::Contains("|example.com|www.example.com\n"));
  CHECK(solver->cleanup(t) == "");
}

TEST_CASE("a failing hook's error names it, its exit status and the end of its stderr", "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings("echo 'starting' >&2\necho 'provider said: invalid API token' >&2\nexit 7\n");
  auto solver = make_dns_solver(settings, f.context());
  ChallengeTask t = task("example.com", "tok");
  try {
    solver->present(t);
    FAIL("present succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::challenge);
    CHECK_THAT(e.what(), Catch::Contains(settings.hook));
    CHECK_THAT(e.what(), Catch::Contains("exited with status 7"));
    CHECK_THAT(e.what(), Catch::Contains("provider said: invalid API token"));
    CHECK_THAT(e.hint(), Catch::Contains("present _acme-challenge.example.com."));
    CHECK(e.subject() == "example.com");
  }
  // Nothing was recorded as presented, so nothing is cleaned up.
  std::string before = read_text(f.log());
  CHECK(solver->cleanup(t) == "");
  CHECK(read_text(f.log()) == before);
}

TEST_CASE("a hook that does not finish in time is stopped and says so", "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings("exec sleep 30\n");
  settings.hook_timeout_seconds = 1;
  auto solver = make_dns_solver(settings, f.context());
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(solver->present(task("example.com", "tok")),
                    Catch::Contains("did not finish within 1 s and was stopped"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{5});
}

TEST_CASE("a failing cleanup hook is a warning with its exit status, never an exception", "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings("[ \"$1\" = cleanup ] && { echo 'record not found' >&2; exit 4; }\nexit 0\n");
  auto solver = make_dns_solver(settings, f.context());
  ChallengeTask t = task("example.com", "tok");
  solver->present(t);
  std::string warning = solver->cleanup(t);
  CHECK_THAT(warning, Catch::Contains("exited with status 4"));
  CHECK_THAT(warning, Catch::Contains("record not found"));
  // Removed once: a second cleanup of the same task does not call the hook again.
  std::string before = read_text(f.log());
  CHECK(solver->cleanup(t) == "");
  CHECK(read_text(f.log()) == before);
}

TEST_CASE("cleanup of a task never presented does nothing", "[dns01]") {
  Fixture f;
  auto solver = make_dns_solver(f.hook_settings(), f.context());
  CHECK(solver->cleanup(task("example.com", "never")) == "");
  CHECK_FALSE(fs::exists(f.log()));
}

TEST_CASE("a record that never becomes visible fails after the propagation timeout with the fix", "[dns01]") {
  Fixture f;
  DnsSettings settings = f.hook_settings();
  settings.propagation = "";  // authoritative; the zone cannot be found here, so the resolver is used
  settings.propagation_timeout_seconds = 1;
  settings.propagation_interval_seconds = 1;
  auto solver = make_dns_solver(settings, f.context());
  CHECK(solver->propagation_timeout() == std::chrono::seconds{1});
  ChallengeTask t = task("example.com", "tok");
  solver->present(t);
  std::vector<std::string> lines;
  try {
    solver->wait_until_visible({t}, [&](const std::string& line) { lines.push_back(line); });
    FAIL("the record was seen");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::challenge);
    CHECK_THAT(e.what(), Catch::Contains("_acme-challenge.example.com TXT"));
    CHECK_THAT(e.hint(), Catch::Contains("--dns-propagation-timeout"));
    CHECK(e.subject() == "example.com");
  }
  REQUIRE(lines.size() >= 2);
  CHECK_THAT(lines[0], Catch::Contains("checking through the resolver instead"));
  CHECK_THAT(lines[1], Catch::StartsWith("waiting for _acme-challenge.example.com TXT through the resolver"));
  CHECK(solver->cleanup(t) == "");
}

TEST_CASE("the TSIG secret is resolved when the solver is made, and never shown", "[dns01]") {
  Fixture f;
  DnsSettings settings;
  settings.rfc2136_server = "192.0.2.53";
  settings.tsig_key = "certcli-test";
  settings.tsig_secret = "$ENV:CERTCLI_TEST_TSIG";
  DnsContext context = f.context();

  CHECK_THROWS_AS(make_dns_solver(settings, context), Error);
  try {
    make_dns_solver(settings, context);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::Contains("CERTCLI_TEST_TSIG"));
  }

  const std::string secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
  context.getenv = [&](const char* name) -> const char* {
    return std::string(name) == "CERTCLI_TEST_TSIG" ? secret.c_str() : nullptr;
  };
  auto solver = make_dns_solver(settings, context);
  CHECK(solver->describe() == "dns-01 via RFC 2136 at 192.0.2.53:53 (key certcli-test)");
  CHECK(solver->cleanup(task("example.com", "never")) == "");
}

TEST_CASE("the manual and unconfigured dns-01 solvers", "[dns01]") {
  Fixture f;
  DnsSettings manual;
  manual.manual = true;
  CHECK(make_dns_solver(manual, f.context())->describe() == "dns-01 by hand");

  DnsSettings none;
  CHECK_THROWS_MATCHES(make_dns_solver(none, f.context()), Error,
                       Catch::Predicate<Error>([](const Error& e) { return e.kind() == ErrorKind::invalid_input; }));
}
