// Encrypted private keys at rest: crypto's encoding (scrypt PKCS#8) and the store's one pair of
// key read/write functions.
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

bool is_clear_key(const std::string& text) { return text.find("-----BEGIN PRIVATE KEY-----") != std::string::npos; }
bool is_encrypted_key(const std::string& text) {
  return text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos;
}

store::CertificateFiles files_with(const std::string& key_pem) { return {"CERT", "CHAIN", "FULLCHAIN", key_pem}; }

std::unique_ptr<store::Store> open(const fs::path& home, std::string passphrase, bool plain_live = false) {
  return store::open_file_store(home, nullptr, store::KeyProtection{std::move(passphrase), plain_live});
}

}  // namespace

TEST_CASE("an encrypted key opens with its passphrase and is the same key") {
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  std::string pem = key.to_encrypted_pem("correct horse");
  CHECK(is_encrypted_key(pem));
  CHECK(crypto::is_encrypted_key_pem(pem));
  CHECK(crypto::PrivateKey::from_pem(pem, "correct horse").public_pem() == key.public_pem());
  CHECK(crypto::reencode_key_pem(pem, "correct horse", "") == key.to_pem());
}

TEST_CASE("an encrypted key refuses a wrong or missing passphrase") {
  std::string pem = crypto::PrivateKey::generate(crypto::KeyType::rsa2048).to_encrypted_pem("right");
  CHECK_THROWS_WITH(crypto::PrivateKey::from_pem(pem, "wrong"), Catch::Contains("wrong passphrase"));
  CHECK_THROWS_WITH(crypto::PrivateKey::from_pem(pem), Catch::Contains("no passphrase"));
}

TEST_CASE("wipe empties a secret") {
  std::string secret = "hunter2";
  crypto::wipe(secret);
  CHECK(secret.empty());
}

TEST_CASE("a store with a passphrase writes every key encrypted and hands it out in clear") {
  TempDir dir;
  std::string clear = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  auto store = open(dir.path, "pass");
  store->save_account("ca", store::AccountRecord{"https://ca/acct/1", "https://ca/dir", {}, "ec256", {}}, clear);
  store->save_pending_key("example.com", clear);
  store->install_certificate("example.com", "20260101T000000Z", files_with(clear));

  for (const fs::path& file : {dir.path / "accounts/ca/account.key", dir.path / "domains/example.com/pending/key.pem",
                               dir.path / "domains/example.com/live/key.pem"})
    CHECK(is_encrypted_key(files::read_file(file)));
  CHECK(store->load_account_key("ca") == clear);
  CHECK(store->load_pending_key("example.com") == clear);
  CHECK(store->load_live_certificate("example.com")->private_key == clear);
  CHECK_NOTHROW(store->check_key_passphrase());
}

TEST_CASE("reading an encrypted key without its passphrase names the file and changes nothing") {
  TempDir dir;
  std::string clear = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  open(dir.path, "pass")->save_pending_key("example.com", clear);
  std::string before = files::read_file(dir.path / "domains/example.com/pending/key.pem");

  auto wrong = open(dir.path, "nope");
  CHECK_THROWS_WITH(wrong->load_pending_key("example.com"), Catch::Contains("pending/key.pem"));
  CHECK_THROWS_AS(wrong->check_key_passphrase(), Error);
  CHECK_THROWS_AS(wrong->convert_keys(false), Error);
  auto none = open(dir.path, "");
  CHECK_THROWS_WITH(none->check_key_passphrase(), Catch::Contains("no passphrase was given"));
  CHECK_THROWS_AS(none->convert_keys(false), Error);
  CHECK(files::read_file(dir.path / "domains/example.com/pending/key.pem") == before);
}

TEST_CASE("live_key plain keeps only the current live key in clear and encrypts it when it leaves live") {
  TempDir dir;
  std::string first = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  std::string second = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  auto store = open(dir.path, "pass", /*plain_live=*/true);
  store->install_certificate("example.com", "20260101T000000Z", files_with(first));
  CHECK(files::read_file(dir.path / "domains/example.com/live/key.pem") == first);

  store->install_certificate("example.com", "20260301T000000Z", files_with(second));
  CHECK(files::read_file(dir.path / "domains/example.com/live/key.pem") == second);
  CHECK(is_encrypted_key(files::read_file(dir.path / "domains/example.com/archive/20260101T000000Z/key.pem")));
}

TEST_CASE("keys decrypt then encrypt round-trips every key file") {
  TempDir dir;
  std::string clear = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  {
    auto plain = open(dir.path, "");
    plain->save_account("ca", store::AccountRecord{"https://ca/acct/1", "https://ca/dir", {}, "ec256", {}}, clear);
    plain->install_certificate("example.com", "20260101T000000Z", files_with(clear));
  }
  auto store = open(dir.path, "pass");
  CHECK(store->convert_keys(true).size() == 2);
  CHECK(is_encrypted_key(files::read_file(dir.path / "accounts/ca/account.key")));
  CHECK(is_encrypted_key(files::read_file(dir.path / "domains/example.com/archive/20260101T000000Z/key.pem")));
  CHECK(store->convert_keys(true).empty());

  CHECK(store->convert_keys(false).size() == 2);
  CHECK(is_clear_key(files::read_file(dir.path / "accounts/ca/account.key")));
  CHECK(files::read_file(dir.path / "domains/example.com/live/key.pem") == clear);
}

TEST_CASE("the live leaf alone is read without the key: a wrong passphrase does not stop status") {
  TempDir dir;
  std::string clear = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  open(dir.path, "pass")->install_certificate("example.com", "20260101T000000Z", files_with(clear));
  auto wrong = open(dir.path, "nope");
  CHECK_THROWS_WITH(wrong->load_live_certificate("example.com"), Catch::Contains("key.pem"));
  CHECK(wrong->load_live_leaf("example.com") == std::optional<std::string>("CERT"));
  CHECK_FALSE(wrong->load_live_leaf("other.example.com"));
}

TEST_CASE("the live certificate's public files are read without the key, for the pin table") {
  TempDir dir;
  std::string clear = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  open(dir.path, "pass")->install_certificate("example.com", "20260101T000000Z", files_with(clear));
  auto wrong = open(dir.path, "nope");
  auto files = wrong->load_live_public("example.com");
  REQUIRE(files);
  CHECK(files->certificate == "CERT");
  CHECK(files->chain == "CHAIN");
  CHECK(files->fullchain == "FULLCHAIN");
  CHECK(files->private_key.empty());
  CHECK_FALSE(wrong->load_live_public("other.example.com"));
}
