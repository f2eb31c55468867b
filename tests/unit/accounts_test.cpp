// External Account Binding, key change, contact checks, named accounts and revocation records.
#include "lifecycle/steps.hpp"

#include <certcli/accounts.hpp>
#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>
#include <certcli/renewal.hpp>
#include <certcli/store.hpp>

#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

// An HMAC computed by OpenSSL's one-shot EVP_Q_mac, independent of crypto::hmac's EVP_MAC_CTX path.
std::string openssl_hmac(const char* digest, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t length = 0;
  REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.data(), key.size(),
                    reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out, &length) != nullptr);
  return std::string(reinterpret_cast<const char*>(out), length);
}

nlohmann::json decoded(const nlohmann::json& jws, const char* member) {
  return nlohmann::json::parse(crypto::base64url_decode(jws[member].get<std::string>()));
}

}  // namespace

TEST_CASE("hmac matches the RFC 4231 test vector for HMAC-SHA-256") {
  CHECK(crypto::to_hex(crypto::hmac("SHA256", "Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("an External Account Binding JWS MACs the account JWK under the kid and newAccount URL") {
  auto account_key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  const nlohmann::json jwk = crypto::public_jwk(account_key);
  const std::string mac_key = crypto::base64url_decode("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W");
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    acme::ExternalAccountBinding eab{"kid-1", mac_key, alg};
    nlohmann::json jws = acme::make_eab_jws(eab, jwk, "https://ca.test/new-acct");
    nlohmann::json header = decoded(jws, "protected");
    CHECK(header == nlohmann::json{{"alg", alg}, {"kid", "kid-1"}, {"url", "https://ca.test/new-acct"}});
    CHECK_FALSE(header.contains("nonce"));  // RFC 8555 7.3.4: the inner JWS has no nonce
    CHECK(decoded(jws, "payload") == jwk);
    const std::string digest = std::string("SHA") + (alg + 2);
    std::string expected = openssl_hmac(digest.c_str(), mac_key, jws["protected"].get<std::string>() + "." +
                                                                     jws["payload"].get<std::string>());
    CHECK(crypto::base64url_decode(jws["signature"].get<std::string>()) == expected);
  }
  CHECK_THROWS_AS(acme::make_eab_jws({"kid-1", mac_key, "RS256"}, jwk, "https://ca.test/new-acct"), Error);
  CHECK_THROWS_AS(acme::make_eab_jws({"", mac_key, "HS256"}, jwk, "https://ca.test/new-acct"), Error);
}

TEST_CASE("the inner JWS of a key change is signed by the new key over the account URL and old key") {
  auto old_key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  auto new_key = crypto::PrivateKey::generate(crypto::KeyType::rsa2048);
  nlohmann::json inner = acme::make_key_change_jws(new_key, crypto::public_jwk(old_key), "https://ca.test/acct/1",
                                                   "https://ca.test/key-change");
  nlohmann::json header = decoded(inner, "protected");
  CHECK(header["alg"] == "RS256");
  CHECK(header["jwk"] == crypto::public_jwk(new_key));
  CHECK(header["url"] == "https://ca.test/key-change");
  CHECK_FALSE(header.contains("nonce"));
  CHECK_FALSE(header.contains("kid"));
  CHECK(decoded(inner, "payload") ==
        nlohmann::json{{"account", "https://ca.test/acct/1"}, {"oldKey", crypto::public_jwk(old_key)}});
  std::string input = inner["protected"].get<std::string>() + "." + inner["payload"].get<std::string>();
  CHECK(crypto::jws_verify(new_key, input, crypto::base64url_decode(inner["signature"].get<std::string>())));
}

TEST_CASE("contact addresses are one plain e-mail address each") {
  CHECK_NOTHROW(lifecycle::check_contact_addresses({"ops@example.com", "mailto:admin+certs@sub.example.org"}));
  for (const char* bad : {"", "ops", "@example.com", "ops@", "a@b@example.com", "ops@example.com,evil@example.net",
                          "ops@example.com evil@example.net", "ops@example.com\nBcc: evil@example.net",
                          "mailto:ops@example.com?cc=evil@example.net", "mailto:mailto:ops@example.com",
                          "ops@localhost", "ops@exa mple.com", "ops;evil@example.com", "ops@example.com%2C"})
    CHECK_THROWS_AS(lifecycle::check_contact_addresses({bad}), Error);
}

TEST_CASE("named accounts live beside the default one and a bad name is refused") {
  lifecycle::CaSelection ca{"custom", "https://ca.test/dir", "ca.test-12345678"};
  CHECK(lifecycle::steps::account_store_id(ca, "") == "ca.test-12345678");
  CHECK(lifecycle::steps::account_store_id(ca, "default") == "ca.test-12345678");
  CHECK(lifecycle::steps::account_store_id(ca, "team-b") == "ca.test-12345678/team-b");
  for (const char* bad : {"../x", "a/b", "Team", "old-keys", "-x", "a.b", "0123456789012345678901234567890123"})
    CHECK_THROWS_AS(lifecycle::steps::account_store_id(ca, bad), Error);

  testing::TempDir dir;
  auto store = store::open_file_store(dir.path);
  store::AccountRecord record{"https://ca.test/acct/2", "https://ca.test/dir", {"ops@example.com"}, "ec384", {}};
  record.status = "deactivated";
  record.deactivated_at = TimePoint{std::chrono::seconds{1800000000}};
  record.eab_kid = "kid-1";
  store->save_account("ca.test-12345678/team-b", record, "KEY2");
  CHECK(fs::exists(dir.path / "accounts" / "ca.test-12345678" / "team-b" / "account.toml"));
  CHECK_FALSE(store->load_account("ca.test-12345678"));
  auto loaded = store->load_account("ca.test-12345678/team-b");
  REQUIRE(loaded);
  CHECK(loaded->status == "deactivated");
  CHECK(loaded->deactivated_at == record.deactivated_at);
  CHECK(loaded->eab_kid == "kid-1");
  CHECK_THROWS_AS(lifecycle::steps::refuse_deactivated(*loaded, ca, "team-b"), Error);

  std::string first = store->archive_account_key("ca.test-12345678/team-b", "20261128T100000Z", "OLD1");
  std::string second = store->archive_account_key("ca.test-12345678/team-b", "20261128T100000Z", "OLD2");
  CHECK(first != second);
  CHECK(files::read_file(first) == "OLD1");
  CHECK(files::read_file(second) == "OLD2");
  CHECK(*store->load_account_key("ca.test-12345678/team-b") == "KEY2");
}

TEST_CASE("a revoked certificate is due for renewal at once and its record keeps why") {
  store::DomainRecord record;
  record.name = "example.com";
  record.names = {"example.com"};
  record.status = store::CertificateStatus::ready;
  const TimePoint issued{std::chrono::seconds{1800000000}};
  record.not_before = issued;
  record.issued_at = issued;
  record.expires_at = issued + std::chrono::hours{24 * 90};
  CHECK_FALSE(renewal::renewal_due(record, issued + std::chrono::hours{24}, {}).due);
  record.revoked_at = issued + std::chrono::hours{2};
  record.revocation_reason = "keyCompromise";
  CHECK(renewal::renewal_due(record, issued + std::chrono::hours{24}, {}).due);

  testing::TempDir dir;
  auto store = store::open_file_store(dir.path);
  store->save_domain(record);
  auto loaded = store->load_domain("example.com");
  REQUIRE(loaded);
  CHECK(loaded->revoked_at == record.revoked_at);
  CHECK(loaded->revocation_reason == "keyCompromise");
}

TEST_CASE("revocation reasons map to their RFC 5280 codes") {
  CHECK(lifecycle::revocation_reason_code("") == 0);
  CHECK(lifecycle::revocation_reason_code("keyCompromise") == 1);
  CHECK(lifecycle::revocation_reason_code("affiliationChanged") == 3);
  CHECK(lifecycle::revocation_reason_code("superseded") == 4);
  CHECK(lifecycle::revocation_reason_code("cessationOfOperation") == 5);
  CHECK_FALSE(lifecycle::revocation_reason_code("caCompromise"));
}
