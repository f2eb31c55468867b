#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>
#include <certcli/trace.hpp>

#include <catch2/catch.hpp>

using namespace certcli;

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

}  // namespace

TEST_CASE("the -v trace of a newAccount shows what was asked but no signature and no EAB MAC") {
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  acme::ExternalAccountBinding eab{"kid-1", "mac key bytes, 32 of them......", "HS256"};
  nlohmann::json eab_jws = acme::make_eab_jws(eab, crypto::public_jwk(key), "https://ca.test/new-account");
  nlohmann::json payload = {{"termsOfServiceAgreed", true}, {"externalAccountBinding", eab_jws}};
  nlohmann::json jws = acme::make_jws(key, {{"alg", "ES256"}, {"nonce", "n1"}, {"url", "https://ca.test/new-account"}},
                                      payload.dump());
  std::string trace = joined(acme::trace_lines({true, "POST https://ca.test/new-account",
                                                {{"content-type", "application/jose+json"}}, jws.dump()}));
  CHECK(trace.find("> POST https://ca.test/new-account") != std::string::npos);
  CHECK(trace.find("termsOfServiceAgreed") != std::string::npos);  // the payload, decoded
  CHECK(trace.find("kid-1") != std::string::npos);
  CHECK(trace.find(jws["signature"].get<std::string>()) == std::string::npos);
  CHECK(trace.find(eab_jws["signature"].get<std::string>()) == std::string::npos);
  CHECK(trace.find(crypto::base64url_encode(eab.mac_key)) == std::string::npos);
}

TEST_CASE("the -v trace never shows a key authorization or a private key") {
  std::string token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
  std::string thumbprint = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
  std::string key_authorization = token + "." + thumbprint;
  std::string pem = crypto::PrivateKey::generate(crypto::KeyType::ec256).to_pem();
  std::string trace = joined(acme::trace_lines({false, "HTTP 200", {}, key_authorization + "\n" + pem}));
  CHECK(trace.find(key_authorization) == std::string::npos);
  CHECK(trace.find("PRIVATE KEY") == std::string::npos);
  CHECK(trace.find("(key authorization redacted)") != std::string::npos);
  // The token alone (in a challenge object, a URL) is not a secret and stays readable.
  CHECK(acme::redact_secrets("https://ca.test/chall/" + token) == "https://ca.test/chall/" + token);
}

TEST_CASE("the -v trace redacts JSON members named like secrets") {
  std::string trace = joined(acme::trace_lines(
      {false, "HTTP 200", {}, R"({"success":true,"eab_kid":"k","eab_hmac_key":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"})"}));
  CHECK(trace.find("c2VjcmV0LXNlY3JldC1zZWNyZXQ") == std::string::npos);
  CHECK(trace.find(R"("eab_kid":"k")") != std::string::npos);
}
