// The rules that keep certcli inside its state directory: which link targets it follows, which
// directories it trusts, which it adopts as a home, and that the store refuses planted links and
// FIFOs instead of following or blocking on them.
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;
using certcli::testing::TempDir;

namespace {

std::string contents(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("a live link is followed only when it names one version under archive/") {
  CHECK(files::is_archive_link_target("archive/20261128T130000Z"));
  CHECK(files::is_archive_link_target("archive/20261128T130000Z-2"));
  CHECK_FALSE(files::is_archive_link_target("archive/.."));
  CHECK_FALSE(files::is_archive_link_target("archive/."));
  CHECK_FALSE(files::is_archive_link_target("archive/"));
  CHECK_FALSE(files::is_archive_link_target("archive/a/b"));
  CHECK_FALSE(files::is_archive_link_target("archive/../../etc"));
  CHECK_FALSE(files::is_archive_link_target("/etc"));
  CHECK_FALSE(files::is_archive_link_target("../other.example.com/archive/x"));
  CHECK_FALSE(files::is_archive_link_target("archives/x"));
}

TEST_CASE("a state directory is private only when owned by the user and writable by nobody else") {
  CHECK(files::is_private_directory(1000, 040700, 1000));
  CHECK(files::is_private_directory(1000, 040755, 1000));  // readable by others: tightened on write, not refused
  CHECK_FALSE(files::is_private_directory(1000, 040770, 1000));
  CHECK_FALSE(files::is_private_directory(1000, 040702, 1000));
  CHECK_FALSE(files::is_private_directory(65534, 040700, 0));  // root does not trust nobody's directory
  CHECK_FALSE(files::is_private_directory(0, 040700, 1000));
}

TEST_CASE("only an empty directory or certcli's own layout is adopted as a state directory") {
  CHECK(store::looks_like_state_directory({}));
  CHECK(store::looks_like_state_directory({"domains"}));
  CHECK(store::looks_like_state_directory({"accounts", "something-newer"}));
  CHECK(store::looks_like_state_directory({".lock", "activity.jsonl", "activity.jsonl.20261101T000000Z", "config.toml"}));
  CHECK(store::looks_like_state_directory({"config.toml", ".config.toml.tmp-abc123"}));
  CHECK_FALSE(store::looks_like_state_directory({"main.c"}));
  CHECK_FALSE(store::looks_like_state_directory({"config.toml", "Makefile"}));
  CHECK_FALSE(store::looks_like_state_directory({"passwd", "shadow", "hosts"}));
}

TEST_CASE("the store refuses a linked lock file and leaves its target alone") {
  TempDir dir;
  fs::path home = dir.path / "home";
  auto store = store::open_file_store(home);
  { auto lock = store->lock(std::chrono::seconds(1)); }
  write(dir.path / "victim", "precious");
  fs::remove(home / ".lock");
  fs::create_symlink(dir.path / "victim", home / ".lock");
  CHECK_THROWS_AS(store->lock(std::chrono::seconds(1)), Error);
  CHECK(contents(dir.path / "victim") == "precious");
}

TEST_CASE("the store does not append activity through a link") {
  TempDir dir;
  fs::path home = dir.path / "home";
  auto store = store::open_file_store(home);
  store->append_activity({{"event", "test"}, {"time", "2026-11-28T00:00:00Z"}});
  write(dir.path / "victim", "precious");
  fs::remove(home / "activity.jsonl");
  fs::create_symlink(dir.path / "victim", home / "activity.jsonl");
  CHECK_THROWS_AS(store->append_activity({{"event", "test"}, {"time", "2026-11-28T00:00:00Z"}}), Error);
  CHECK(contents(dir.path / "victim") == "precious");
}

TEST_CASE("a FIFO where a record should be is an error, not a hang") {
  TempDir dir;
  fs::path home = dir.path / "home";
  fs::create_directories(home / "domains" / "example.com");
  ::chmod(home.c_str(), 0700);
  ::chmod((home / "domains").c_str(), 0700);
  ::chmod((home / "domains" / "example.com").c_str(), 0700);
  REQUIRE(::mkfifo((home / "domains" / "example.com" / "domain.toml").c_str(), 0600) == 0);
  auto store = store::open_file_store(home);
  try {
    (void)store->load_domain("example.com");
    FAIL("a FIFO was read as a record");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK(std::string(e.what()).find("FIFO") != std::string::npos);
  }
}

TEST_CASE("a stray non-empty directory is not adopted as a state directory, and nothing in it changes") {
  TempDir dir;
  fs::path stray = dir.path / "project";
  fs::create_directory(stray);
  ::chmod(stray.c_str(), 0755);
  write(stray / "main.c", "int main;");
  write(stray / ".main.c.tmp-abcdef", "not certcli's");
  auto store = store::open_file_store(stray);
  CHECK_THROWS_AS(store->lock(std::chrono::seconds(1)), Error);
  struct stat st {};
  REQUIRE(::stat(stray.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
  CHECK(fs::exists(stray / ".main.c.tmp-abcdef"));
  CHECK_FALSE(fs::exists(stray / ".lock"));
}
