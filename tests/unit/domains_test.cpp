// Changing domains: adding names to one that exists, domain set, restore (by hand and by adding a
// removed name whose certificate is still valid), purge, and what domain show reports.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
using namespace std::chrono_literals;
using crypto::Deleter;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = parse_rfc3339("2026-03-01T12:00:00Z");
constexpr auto kDay = std::chrono::hours{24};

using certcli::testing::TempDir;

class TestClock final : public Clock {
 public:
  explicit TestClock(TimePoint now) : now_(now) {}
  TimePoint now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds d) override { now_ += std::chrono::duration_cast<std::chrono::seconds>(d); }
  void advance(std::chrono::seconds d) { now_ += d; }

 private:
  TimePoint now_;
};

// A self-signed certificate for `names`, valid from `from` to `until`, made with plain OpenSSL.
std::string certificate_pem(const std::vector<std::string>& names, TimePoint from, TimePoint until) {
  static const auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  crypto::X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242) == 1);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), subject) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()), from.time_since_epoch().count()) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(cert.get()), until.time_since_epoch().count()) != nullptr);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  std::string san;
  for (const auto& name : names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
  std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
  REQUIRE(ext);
  REQUIRE(X509_add_ext(cert.get(), ext.get(), -1) == 1);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  std::unique_ptr<BIO, Deleter<BIO_free_all>> bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

struct Fixture {
  TempDir dir;
  TestClock clock{kNow};
  std::unique_ptr<store::Store> store = store::open_file_store(dir.path / "home", &clock);

  lifecycle::AddDomainResult add(const std::string& name, std::vector<std::string> sans = {}) {
    lifecycle::AddDomainRequest request;
    request.name = name;
    request.extra_names = std::move(sans);
    return lifecycle::add_domain(*store, clock, request);
  }

  // What install does, without a CA: a live certificate for `names` and a ready record.
  void install(const std::string& name, const std::vector<std::string>& names, TimePoint until) {
    auto record = *store->load_domain(name);
    std::string pem = certificate_pem(names, clock.now() - kDay, until);
    record.live_version = store->install_certificate(name, format_compact_utc(clock.now()), {pem, "", pem, "key"});
    auto info = crypto::parse_certificate(pem);
    record.covered_names = info.sans;
    record.serial = info.serial_hex;
    record.not_before = info.not_before;
    record.expires_at = info.not_after;
    record.issued_at = clock.now();
    record.status = store::CertificateStatus::ready;
    record.phase = store::IssuePhase::completed;
    store->save_domain(record);
  }

  std::string activity() const { return files::read_file(dir.path / "home" / "activity.jsonl"); }
};

}  // namespace

TEST_CASE("adding a name to an existing domain adds it and keeps the names it had") {
  Fixture f;
  REQUIRE(f.add("example.com", {"www.example.com"}).created);
  auto result = f.add("example.com", {"api.example.com"});
  CHECK_FALSE(result.created);
  CHECK(result.added_names == std::vector<std::string>{"api.example.com"});
  CHECK(f.store->load_domain("example.com")->names ==
        std::vector<std::string>{"example.com", "www.example.com", "api.example.com"});
  CHECK(f.activity().find("\"added_names\":[\"api.example.com\"]") != std::string::npos);
}

TEST_CASE("adding the names a domain has already changes nothing") {
  Fixture f;
  f.add("example.com", {"www.example.com"});
  auto result = f.add("example.com", {"www.example.com"});
  CHECK_FALSE(result.created);
  CHECK(result.added_names.empty());
}

TEST_CASE("adding names with other challenge settings points to domain set") {
  Fixture f;
  f.add("example.com");
  lifecycle::AddDomainRequest request;
  request.name = "example.com";
  request.extra_names = {"www.example.com"};
  request.challenge.http.listen = "127.0.0.1:8080";
  try {
    lifecycle::add_domain(*f.store, f.clock, request);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK(e.hint().find("certcli domain set example.com") != std::string::npos);
  }
  CHECK(f.store->load_domain("example.com")->names.size() == 1);
}

TEST_CASE("a name added to a ready domain is not covered until a certificate holds it") {
  Fixture f;
  f.add("example.com");
  f.install("example.com", {"example.com"}, kNow + 80 * kDay);
  CHECK(lifecycle::domain_status(*f.store, "example.com").front().uncovered_names.empty());
  f.add("example.com", {"www.example.com"});
  auto details = lifecycle::domain_details(*f.store, "example.com");
  CHECK(details.status.uncovered_names == std::vector<std::string>{"www.example.com"});
  REQUIRE(details.names.size() == 2);
  CHECK(details.names[0].covered == true);
  CHECK(details.names[1].covered == false);
  CHECK(details.status.record.status == store::CertificateStatus::ready);
}

TEST_CASE("domain show lists the archive oldest first with each serial and expiry") {
  Fixture f;
  f.add("example.com");
  f.install("example.com", {"example.com"}, kNow + 80 * kDay);
  f.clock.advance(std::chrono::seconds{60});
  f.install("example.com", {"example.com"}, kNow + 90 * kDay);
  auto details = lifecycle::domain_details(*f.store, "example.com");
  REQUIRE(details.archive.size() == 2);
  CHECK_FALSE(details.archive[0].live);
  CHECK(details.archive[1].live);
  REQUIRE(details.archive[1].certificate);
  CHECK(details.archive[1].certificate->serial_hex == "1092");
  CHECK(details.archive[1].certificate->not_after == kNow + 90 * kDay);
}

TEST_CASE("domain set replaces the http-01 part and keeps the rest") {
  Fixture f;
  f.add("example.com");
  TempDir webroot;
  lifecycle::SetDomainRequest request;
  request.name = "example.com";
  request.challenge = challenge::Settings{};
  request.challenge->http.webroot = webroot.path.string();
  request.buffer_days = 20;
  auto result = lifecycle::set_domain(*f.store, f.clock, request);
  REQUIRE(result.changes.size() == 2);
  CHECK(result.changes[0].setting == "challenge");
  CHECK(result.changes[1].setting == "buffer_days");
  auto record = *f.store->load_domain("example.com");
  CHECK(record.challenge.http.webroot == webroot.path.string());
  CHECK(record.renewal.buffer_days == 20);
  CHECK(f.activity().find("\"event\":\"domain.changed\"") != std::string::npos);
  // The same again changes nothing and writes nothing.
  CHECK(lifecycle::set_domain(*f.store, f.clock, request).changes.empty());
}

TEST_CASE("domain set refuses what domain add refuses") {
  Fixture f;
  f.add("example.com");
  lifecycle::SetDomainRequest request;
  request.name = "example.com";
  request.key_type = "ec999";
  CHECK_THROWS_AS(lifecycle::set_domain(*f.store, f.clock, request), Error);
  request.key_type.reset();
  request.buffer_days = 400;
  CHECK_THROWS_AS(lifecycle::set_domain(*f.store, f.clock, request), Error);
  request.buffer_days.reset();
  request.challenge = challenge::Settings{};
  request.challenge->http.webroot = "/nonexistent/certcli/webroot";
  CHECK_THROWS_AS(lifecycle::set_domain(*f.store, f.clock, request), Error);
  request.name = "unknown.example.com";
  request.challenge.reset();
  request.key_type = "ec384";
  try {
    lifecycle::set_domain(*f.store, f.clock, request);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::not_found);
  }
  CHECK(f.store->load_domain("example.com")->key_type == "ec256");
}

TEST_CASE("restore brings back the newest removed copy and refuses when there is none or the name is back") {
  Fixture f;
  f.add("example.com");
  lifecycle::remove_domain(*f.store, f.clock, "example.com");
  f.clock.advance(std::chrono::seconds{10});
  f.add("example.com", {"www.example.com"});
  lifecycle::remove_domain(*f.store, f.clock, "example.com");
  auto restored = lifecycle::restore_domain(*f.store, f.clock, "example.com");
  CHECK(restored.record.names.size() == 2);  // the newer copy
  CHECK(f.activity().find("\"event\":\"domain.restored\"") != std::string::npos);
  try {
    lifecycle::restore_domain(*f.store, f.clock, "example.com");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
  }
  try {
    lifecycle::restore_domain(*f.store, f.clock, "never.example.com");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::not_found);
  }
}

TEST_CASE("adding a removed name whose certificate is still valid restores it as ready") {
  Fixture f;
  f.add("example.com", {"www.example.com"});
  f.install("example.com", {"example.com", "www.example.com"}, kNow + 60 * kDay);
  auto record = *f.store->load_domain("example.com");
  record.status = store::CertificateStatus::failed;  // a renewal failed; the certificate still serves
  f.store->save_domain(record);
  lifecycle::remove_domain(*f.store, f.clock, "example.com");
  f.clock.advance(kDay);
  auto result = f.add("example.com", {"www.example.com"});
  CHECK_FALSE(result.restored_from.empty());
  CHECK(result.record.status == store::CertificateStatus::ready);
  CHECK(f.store->load_live_certificate("example.com"));
  CHECK(f.store->load_domain("example.com")->expires_at == kNow + 60 * kDay);
}

TEST_CASE("adding a removed name whose certificate expired or whose names differ starts afresh") {
  Fixture f;
  f.add("example.com");
  f.install("example.com", {"example.com"}, kNow + 2 * kDay);
  lifecycle::remove_domain(*f.store, f.clock, "example.com");
  SECTION("expired") {
    f.clock.advance(3 * kDay);
    auto result = f.add("example.com");
    CHECK(result.created);
    CHECK(result.restored_from.empty());
    CHECK(result.record.status == store::CertificateStatus::pending);
    CHECK_FALSE(f.store->load_live_certificate("example.com"));
  }
  SECTION("other names") {
    auto result = f.add("example.com", {"www.example.com"});
    CHECK(result.created);
    CHECK(result.record.status == store::CertificateStatus::pending);
  }
}

TEST_CASE("purge deletes the domain and every removed copy of it, and nothing else") {
  Fixture f;
  f.add("example.com");
  f.add("example.com.example.net");
  lifecycle::remove_domain(*f.store, f.clock, "example.com.example.net");
  lifecycle::remove_domain(*f.store, f.clock, "example.com");
  f.clock.advance(std::chrono::seconds{5});
  f.add("example.com", {"www.example.com"});
  auto deleted = lifecycle::purge_domain(*f.store, f.clock, "example.com");
  CHECK(deleted.size() == 2);  // the domain and its one removed copy
  CHECK_FALSE(f.store->load_domain("example.com"));
  CHECK_FALSE(f.store->newest_removed("example.com"));
  CHECK(f.store->newest_removed("example.com.example.net"));
  CHECK(f.activity().find("\"event\":\"domain.purged\"") != std::string::npos);
  CHECK_THROWS_AS(lifecycle::purge_domain(*f.store, f.clock, "example.com"), Error);
}
