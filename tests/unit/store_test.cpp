#include "store/records.hpp"

#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

#include <csignal>
#include <cstdlib>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

store::DomainRecord sample_record() {
  store::DomainRecord r;
  r.name = "example.com";
  r.names = {"example.com", "www.example.com"};
  r.key_type = "ec384";
  r.challenge.http.listen = "127.0.0.1:8080";
  r.status = store::CertificateStatus::failed;
  r.phase = store::IssuePhase::validating;
  r.error = store::RecordedError{"urn:ietf:params:acme:error:connection", "could not connect", "open port 80"};
  r.directory_url = "https://ca.test/dir";
  r.order_url = "https://ca.test/order/1";
  r.created_at = TimePoint{std::chrono::seconds{1764000000}};
  r.last_updated_at = TimePoint{std::chrono::seconds{1764000123}};
  r.expires_at = TimePoint{std::chrono::seconds{1771776000}};
  return r;
}

}  // namespace

TEST_CASE("a domain record survives a save and load unchanged") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "home");
  store::DomainRecord saved = sample_record();
  store->save_domain(saved);
  auto loaded = store->load_domain("example.com");
  REQUIRE(loaded);
  CHECK(loaded->names == saved.names);
  CHECK(loaded->key_type == "ec384");
  CHECK(loaded->challenge.http.listen == "127.0.0.1:8080");
  CHECK(loaded->status == store::CertificateStatus::failed);
  CHECK(loaded->phase == store::IssuePhase::validating);
  REQUIRE(loaded->error);
  CHECK(loaded->error->hint == "open port 80");
  CHECK(loaded->order_url == saved.order_url);
  CHECK(loaded->created_at == saved.created_at);
  CHECK(loaded->last_updated_at == saved.last_updated_at);
  CHECK(loaded->expires_at == saved.expires_at);
  CHECK_FALSE(loaded->issued_at);
  CHECK(store->list_domains().size() == 1);
}

TEST_CASE("state directories are 0700 and key files 0600") {
  TempDir dir;
  fs::path home = dir.path / "home";
  auto store = store::open_file_store(home);
  store->save_domain(sample_record());
  store->save_account("ca-1", store::AccountRecord{"https://ca.test/acct/1", "https://ca.test/dir", {}, "ec256", {}},
                      "-----BEGIN PRIVATE KEY-----\n");
  store->install_certificate("example.com", "20261125T000000Z", {"CERT", "CHAIN", "CERTCHAIN", "KEY"});
  CHECK(mode_of(home) == 0700);
  CHECK(mode_of(home / "domains" / "example.com") == 0700);
  CHECK(mode_of(home / "accounts" / "ca-1") == 0700);
  CHECK(mode_of(home / "accounts" / "ca-1" / "account.key") == 0600);
  CHECK(mode_of(home / "domains" / "example.com" / "archive" / "20261125T000000Z" / "key.pem") == 0600);
  auto live = store->load_live_certificate("example.com");
  REQUIRE(live);
  CHECK(live->fullchain == "CERTCHAIN");
  CHECK(live->private_key == "KEY");
}

TEST_CASE("installing a certificate switches live and never overwrites an archived one") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->install_certificate("example.com", "v1", {"C1", "", "C1", "K1"});
  store->install_certificate("example.com", "v2", {"C2", "", "C2", "K2"});
  CHECK(store->load_live_certificate("example.com")->certificate == "C2");
  CHECK(store::read_file(dir.path / "domains" / "example.com" / "archive" / "v1" / "cert.pem") == "C1");
  CHECK(store->install_certificate("example.com", "v1", {"C3", "", "C3", "K3"}) == "v1-2");
  CHECK(store->load_live_certificate("example.com")->certificate == "C3");
  CHECK(store::read_file(dir.path / "domains" / "example.com" / "archive" / "v1" / "cert.pem") == "C1");
}

TEST_CASE("an atomic write replaces the whole file and leaves no temporary file") {
  TempDir dir;
  fs::path target = dir.path / "file.toml";
  store::write_file_atomic(target, "old", fs::perms::owner_read | fs::perms::owner_write);
  store::write_file_atomic(target, "new content", fs::perms::owner_read | fs::perms::owner_write);
  CHECK(store::read_file(target) == "new content");
  CHECK(mode_of(target) == 0600);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  CHECK_THROWS_AS(store::write_file_atomic(dir.path / "missing" / "x", "y", fs::perms::owner_read), Error);
}

TEST_CASE("a writer killed mid-write leaves either the old or the new file, never a partial one") {
  TempDir dir;
  fs::path target = dir.path / "state.toml";
  const size_t size = 4 << 20;
  store::write_file_atomic(target, std::string(size, 'a'), fs::perms::owner_read | fs::perms::owner_write);
  for (int round = 0; round < 5; ++round) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (char c = 'b';; c = c == 'z' ? 'b' : static_cast<char>(c + 1))
        store::write_file_atomic(target, std::string(size, c), fs::perms::owner_read | fs::perms::owner_write);
    }
    ::usleep(20000 + round * 7000);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::string content = store::read_file(target);
    REQUIRE(content.size() == size);
    CHECK(content.find_first_not_of(content.front()) == std::string::npos);
  }
}

TEST_CASE("a damaged domain file is reported with its path and line") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(sample_record());
  fs::path file = dir.path / "domains" / "example.com" / "domain.toml";
  store::write_file_atomic(file, "name = \"example.com\"\n[certificate\nstatus = 3\n", fs::perms::owner_read | fs::perms::owner_write);
  try {
    store->load_domain("example.com");
    FAIL("a damaged file loaded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK_THAT(e.what(), Catch::Contains("domain.toml:2: "));
  }
}

TEST_CASE("a wrong value in a domain file is reported with its file, line and key") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(sample_record());
  fs::path file = dir.path / "domains" / "example.com" / "domain.toml";
  store::write_file_atomic(file, "name = \"example.com\"\n\n[certificate]\nstatus = 3\n",
                           fs::perms::owner_read | fs::perms::owner_write);
  try {
    store->load_domain("example.com");
    FAIL("a damaged file loaded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":4: 'status' is not a string"));
  }
}

TEST_CASE("listing domains reports a damaged record beside the readable ones") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  for (const char* name : {"a.example.com", "b.example.com", "c.example.com"}) {
    auto record = sample_record();
    record.name = name;
    record.names = {name};
    store->save_domain(record);
  }
  fs::path damaged = dir.path / "domains" / "b.example.com" / "domain.toml";
  store::write_file_atomic(damaged, "name = \"b.example.com\"\nstatus = \xD0\x8B" "est\n",
                           fs::perms::owner_read | fs::perms::owner_write);

  store::DomainListing listing = store->list_domains_and_damage();
  REQUIRE(listing.records.size() == 2);
  CHECK(listing.records[0].name == "a.example.com");
  CHECK(listing.records[1].name == "c.example.com");
  REQUIRE(listing.unreadable.size() == 1);
  CHECK(listing.unreadable[0].name == "b.example.com");
  CHECK(listing.unreadable[0].file == damaged.string());
  CHECK(listing.unreadable[0].error.kind() == ErrorKind::state);
  CHECK_THAT(listing.unreadable[0].error.what(), Catch::StartsWith(damaged.string() + ":2: "));
  CHECK_THROWS_AS(store->list_domains(), Error);
}

TEST_CASE("saving a domain never replaces a damaged record") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(sample_record());
  fs::path file = dir.path / "domains" / "example.com" / "domain.toml";
  const std::string damaged = "name = \"example.com\"\n[certificate\n";
  store::write_file_atomic(file, damaged, fs::perms::owner_read | fs::perms::owner_write);
  try {
    store->save_domain(sample_record());
    FAIL("a damaged record was replaced");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK_THAT(e.what(), Catch::Contains("domain.toml:2: ") && Catch::Contains("does not replace it"));
  }
  CHECK(store::read_file(file) == damaged);
}

TEST_CASE("the state lock is exclusive between processes and names the holder") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  auto held = store->lock(std::chrono::seconds{1});
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto other = store::open_file_store(dir.path);
    try {
      other->lock(std::chrono::seconds{0});
      std::_Exit(1);
    } catch (const Error& e) {
      std::_Exit(std::string(e.what()).find(std::to_string(::getppid())) != std::string::npos ? 0 : 2);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the store refuses names that were not validated") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  CHECK_THROWS_AS(store->load_domain("../escape"), Error);
  CHECK_THROWS_AS(store->load_domain("Example.com"), Error);
}

TEST_CASE("taking a lock sweeps the temporary files a killed writer under that lock left behind") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(sample_record());
  fs::path domain_dir = dir.path / "domains" / "example.com";
  store::write_file_atomic(domain_dir / ".domain.toml.tmp-AbC123", "half", fs::perms::owner_read);
  store::write_file_atomic(dir.path / ".config.toml.tmp-XyZ789", "half", fs::perms::owner_read);
  store::write_file_atomic(dir.path / ".keep-me", "not ours", fs::perms::owner_read);
  // The state lock sweeps outside domains/ only: a domain's writer holds that domain's lock.
  { auto lock = store->lock(std::chrono::seconds{1}); }
  CHECK_FALSE(fs::exists(dir.path / ".config.toml.tmp-XyZ789"));
  CHECK(fs::exists(domain_dir / ".domain.toml.tmp-AbC123"));
  { auto lock = store->lock_domain("example.com", std::chrono::seconds{1}); }
  CHECK_FALSE(fs::exists(domain_dir / ".domain.toml.tmp-AbC123"));
  CHECK(fs::exists(domain_dir / "domain.toml"));
  CHECK(fs::exists(dir.path / ".keep-me"));
}

TEST_CASE("one domain's lock does not wait for another's, and a lock wait ends on a stop request") {
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  auto held = store->lock_domain("example.com", std::chrono::seconds{1});
  auto other_domain = store->lock_domain("example.org", std::chrono::seconds{0});
  CHECK(other_domain != nullptr);
  auto state = store->lock(std::chrono::seconds{0});
  CHECK(state != nullptr);
  pid_t child = ::fork();
  if (child == 0) {
    // Another process: the same domain is busy; Ctrl-C during the wait ends it at once.
    auto again = store::open_file_store(dir.path);
    int code = 0;
    try {
      again->lock_domain("example.com", std::chrono::seconds{0});
      code = 1;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::state) code = 2;
    }
    request_stop();
    try {
      again->lock_domain("example.com", std::chrono::seconds{30});
      code = 3;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::interrupted) code = 4;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("covered names survive a save and load") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "home");
  store::DomainRecord saved = sample_record();
  saved.covered_names = {"example.com", "www.example.com"};
  store->save_domain(saved);
  CHECK(store->load_domain("example.com")->covered_names == saved.covered_names);
}

TEST_CASE("list_archive gives the versions oldest first and marks the live one") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "home");
  store->save_domain(sample_record());
  CHECK(store->list_archive("example.com").empty());
  store->install_certificate("example.com", "20260101T000000Z", {"one", "", "one", "k"});
  store->install_certificate("example.com", "20260101T000000Z", {"two", "", "two", "k"});  // same second: -2
  store->install_certificate("example.com", "20260102T000000Z", {"three", "", "three", "k"});
  auto versions = store->list_archive("example.com");
  REQUIRE(versions.size() == 3);
  CHECK(versions[0].version == "20260101T000000Z");
  CHECK(versions[1].version == "20260101T000000Z-2");
  CHECK(versions[1].certificate == "two");
  CHECK_FALSE(versions[1].live);
  CHECK(versions[2].live);
}

TEST_CASE("removed copies are told apart from a longer name's and restored newest first") {
  TempDir dir;
  auto store = store::open_file_store(dir.path / "home");
  store::DomainRecord longer = sample_record();
  longer.name = "example.com.example.net";
  longer.names = {longer.name};
  store->save_domain(longer);
  store->remove_domain(longer.name, "20260101T000000Z");
  CHECK_FALSE(store->newest_removed("example.com"));
  store->save_domain(sample_record());
  store->remove_domain("example.com", "20260101T000000Z");
  store::DomainRecord newer = sample_record();
  newer.key_type = "rsa2048";
  store->save_domain(newer);
  store->remove_domain("example.com", "20260201T000000Z");
  auto removed = store->newest_removed("example.com");
  REQUIRE(removed);
  CHECK(removed->stamp == "20260201T000000Z");
  REQUIRE(removed->record);
  CHECK(removed->record->key_type == "rsa2048");
  CHECK(fs::path(store->restore_domain("example.com")).filename() == "example.com.20260201T000000Z");
  CHECK(store->load_domain("example.com")->key_type == "rsa2048");
  CHECK_THROWS_AS(store->restore_domain("example.com"), Error);  // managed again
  CHECK(store->newest_removed("example.com")->stamp == "20260101T000000Z");
}

TEST_CASE("listing a large store reads every record in name order, with damage in its place") {
  // Enough records that the listing parses on several threads (FileStore::scan_domain_records).
  TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(sample_record());  // makes the state directory as certcli does
  const int count = 700;
  for (int i = 0; i < count; ++i) {
    auto record = sample_record();
    record.name = fmt::format("d{:04}.example.com", i);
    record.names = {record.name};
    fs::path domain = dir.path / "domains" / record.name;
    fs::create_directory(domain);
    fs::permissions(domain, fs::perms::owner_all, fs::perm_options::replace);
    std::string text = i == 321 ? std::string("name = [\n") : store::serialize(store::domain_to_toml(record));
    store::write_file_atomic(domain / "domain.toml", text, fs::perms::owner_read | fs::perms::owner_write);
  }
  fs::path empty = dir.path / "domains" / "e.example.com";  // a directory without a record is skipped
  fs::create_directory(empty);
  fs::permissions(empty, fs::perms::owner_all, fs::perm_options::replace);

  store::DomainListing listing = store->list_domains_and_damage();
  REQUIRE(listing.records.size() == static_cast<size_t>(count));  // 699 generated + example.com
  CHECK(listing.records.front().name == "d0000.example.com");
  CHECK(listing.records[320].name == "d0320.example.com");
  CHECK(listing.records[321].name == "d0322.example.com");
  CHECK(listing.records.back().name == "example.com");
  CHECK(std::is_sorted(listing.records.begin(), listing.records.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  REQUIRE(listing.unreadable.size() == 1);
  CHECK(listing.unreadable[0].name == "d0321.example.com");
  CHECK_THROWS_AS(store->list_domains(), Error);
}
