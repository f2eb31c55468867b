// Secrets in memory (issue #24): a key's PEM or a passphrase is wiped from the buffers that held
// it. What can be observed without reading freed memory: the buffer a string still owns.
#include <certcli/crypto.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace certcli;

namespace {

bool all_zero(const char* bytes, std::size_t size) {
  return std::all_of(bytes, bytes + size, [](char c) { return c == 0; });
}

}  // namespace

TEST_CASE("wipe zeroes a string's whole buffer, past its end too") {
  std::string secret(100, 'k');
  secret.resize(10);  // the 90 bytes past the end still hold 'k'
  const char* buffer = secret.data();
  const std::size_t capacity = secret.capacity();
  crypto::wipe(secret);
  CHECK(secret.empty());
  CHECK(secret.data() == buffer);  // no reallocation: the same buffer was overwritten
  CHECK(all_zero(buffer, capacity));
}

TEST_CASE("a SecretString moved or taken from a string leaves nothing in the source") {
  std::string short_text = "hunter2";  // short: kept inside the string object, not on the heap
  const char* inside = short_text.data();
  crypto::SecretString secret(std::move(short_text));
  CHECK(secret.str() == "hunter2");
  CHECK(all_zero(inside, 7));

  crypto::SecretString moved(std::move(secret));
  CHECK(moved.str() == "hunter2");
  CHECK(secret.empty());  // NOLINT(bugprone-use-after-move): the source is wiped on purpose

  crypto::SecretString pem(crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem());
  CHECK(crypto::PrivateKey::from_pem(pem.str()).type() == crypto::KeyType::ec256);
  const std::string& as_string = pem;  // passes where a const std::string& is taken
  CHECK(as_string.starts_with("-----BEGIN PRIVATE KEY-----"));
}
