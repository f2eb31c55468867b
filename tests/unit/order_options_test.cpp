// The pure decisions about one order: profile choice, preferred chain, CSR names, IP names.
#include <certcli/acme.hpp>
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/order_options.hpp>

#include <catch2/catch.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>

using namespace certcli;
using namespace certcli::lifecycle;

namespace {

using BioPtr = std::unique_ptr<BIO, crypto::Deleter<BIO_free_all>>;
using ReqPtr = std::unique_ptr<X509_REQ, crypto::Deleter<X509_REQ_free>>;

// A certificate named `subject_cn`, claiming `issuer_cn` as its issuer (self-signed: the chain
// decision reads names only).
std::string certificate(const std::string& subject_cn, const std::string& issuer_cn) {
  static const crypto::PrivateKey key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  crypto::X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7) == 1);
  auto name_of = [](const std::string& cn) {
    X509_NAME* name = X509_NAME_new();
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                       -1, -1, 0) == 1);
    return name;
  };
  X509_NAME* subject = name_of(subject_cn);
  X509_NAME* issuer = name_of(issuer_cn);
  REQUIRE(X509_set_subject_name(cert.get(), subject) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), issuer) == 1);
  X509_NAME_free(subject);
  X509_NAME_free(issuer);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()), 1767323045) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(cert.get()), 1775099045) != nullptr);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string csr_pem(const std::string& der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  ReqPtr request(d2i_X509_REQ(nullptr, &in, static_cast<long>(der.size())));
  REQUIRE(request);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_REQ(bio.get(), request.get()) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TEST_CASE("IP addresses are accepted in canonical form and stored under a path-safe name") {
  CHECK(normalize_name("127.0.0.1") == "127.0.0.1");
  CHECK(normalize_name("2001:DB8:0:0::1") == "2001:db8::1");
  CHECK(normalize_name("[::1]") == "::1");
  CHECK(normalize_name("WWW.Example.com") == "www.example.com");
  CHECK(is_ip_address("192.0.2.1"));
  CHECK(is_ip_address("2001:db8::1"));
  CHECK_FALSE(is_ip_address("example.com"));
  CHECK_FALSE(is_ip_address("2001:DB8::1"));  // not normalized
  CHECK(storage_name("127.0.0.1") == "ip-127.0.0.1");
  CHECK(storage_name("2001:db8::1") == "ip-2001-db8--1");
  CHECK(storage_name("::ffff:192.0.2.1") == "ip---ffff-192.0.2.1");
  CHECK(storage_name("*.example.com") == "_wildcard.example.com");
}

TEST_CASE("what is not an IP address falls to the domain name rules") {
  CHECK_FALSE(normalize_ip_address("0.0.0.0"));  // unspecified
  CHECK_FALSE(normalize_ip_address("::"));
  CHECK_FALSE(normalize_ip_address("1.2.3"));
  CHECK_FALSE(normalize_ip_address("010.0.0.1"));
  CHECK_FALSE(normalize_ip_address("fe80::1%eth0"));
  CHECK_FALSE(normalize_ip_address("1.2.3.4.example.com"));
  CHECK_THROWS_AS(normalize_name("1.2.3"), Error);
  CHECK_THROWS_AS(normalize_name("256.1.1.1"), Error);
  // No domain name is stored where an IP address is.
  CHECK_THROWS_AS(normalize_domain_name("ip-127.0.0.1"), Error);
}

TEST_CASE("the preferred chain is the first whose top certificate names the issuer") {
  const std::string leaf = certificate("example.com", "Pebble Intermediate A");
  const std::vector<std::string> chains = {
      leaf + certificate("Pebble Intermediate A", "Pebble Root A"),
      leaf + certificate("Pebble Intermediate B", "Pebble Root B"),
      leaf + certificate("Pebble Intermediate C", "Pebble Root C") + certificate("Pebble Root C", "Pebble Root C"),
  };
  CHECK(preferred_chain_index(chains, "Pebble Root B") == std::optional<std::size_t>{1});
  CHECK(preferred_chain_index(chains, "Pebble Root A") == std::optional<std::size_t>{0});
  CHECK(preferred_chain_index(chains, "Pebble Root C") == std::optional<std::size_t>{2});      // the root itself
  CHECK(preferred_chain_index(chains, "Pebble Intermediate B") == std::optional<std::size_t>{1});  // top subject
  CHECK_FALSE(preferred_chain_index(chains, "ISRG Root X1"));   // none: the caller keeps the default
  CHECK_FALSE(preferred_chain_index(chains, "pebble root b"));  // exact match only
  CHECK_FALSE(preferred_chain_index(chains, ""));
  CHECK_FALSE(preferred_chain_index({"not a chain"}, "Pebble Root A"));
}

TEST_CASE("a required profile the CA lacks is refused naming the CA's profiles") {
  const std::map<std::string, std::string> offered = {{"classic", ""}, {"shortlived", "6 days"}};
  CHECK(choose_profile(offered, "shortlived", "", "the CA").profile == "shortlived");
  try {
    choose_profile(offered, "tlsserver", "", "the CA at X");
    FAIL("accepted a profile the CA lacks");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::Contains("no certificate profile 'tlsserver'") && Catch::Contains("classic, shortlived"));
  }
  CHECK_THROWS_AS(choose_profile({}, "classic", "", "the CA"), Error);
}

TEST_CASE("a preferred profile the CA lacks falls back to the default with a note") {
  const std::map<std::string, std::string> offered = {{"classic", ""}};
  ProfileChoice kept = choose_profile(offered, "", "classic", "the CA");
  CHECK(kept.profile == "classic");
  CHECK(kept.note.empty());
  ProfileChoice fallback = choose_profile(offered, "", "shortlived", "the CA");
  CHECK(fallback.profile.empty());
  CHECK_THAT(fallback.note, Catch::Contains("'shortlived'") && Catch::Contains("default"));
  CHECK(choose_profile({}, "", "", "the CA").profile.empty());
  CHECK(choose_profile(offered, "classic", "other", "the CA").profile == "classic");  // required wins
}

TEST_CASE("profile names and chain names from the command line are checked") {
  CHECK_NOTHROW(check_profile_name("short-lived_1.0", "--profile"));
  CHECK_NOTHROW(check_profile_name("", "--profile"));
  CHECK_THROWS_AS(check_profile_name("has space", "--profile"), Error);
  CHECK_NOTHROW(check_chain_name("ISRG Root X1"));
  CHECK_THROWS_AS(check_chain_name("bad\nname"), Error);
}

TEST_CASE("a CSR's names are compared with the domain's as sets") {
  CHECK(compare_names({"b.example.com", "a.example.com"}, {"a.example.com", "b.example.com"}).same());
  NameDifference d = compare_names({"a.example.com", "c.example.com"}, {"a.example.com", "b.example.com"});
  CHECK(d.only_in_csr == std::vector<std::string>{"c.example.com"});
  CHECK(d.only_in_domain == std::vector<std::string>{"b.example.com"});
}

TEST_CASE("a CSR is read as PEM or DER with its CN and SANs, and its signature is checked") {
  const crypto::PrivateKey key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  const std::string der = crypto::make_csr_der(key, {"example.com", "www.example.com", "192.0.2.1"});
  for (const std::string& form : {der, csr_pem(der)}) {
    crypto::CsrInfo csr = crypto::parse_csr(form);
    CHECK(csr.der == der);
    CHECK(csr.names == std::vector<std::string>{"example.com", "www.example.com", "192.0.2.1"});
  }
  std::string tampered = der;
  tampered[tampered.size() - 5] ^= 0x01;  // inside the signature
  CHECK_THROWS_AS(crypto::parse_csr(tampered), Error);
  CHECK_THROWS_AS(crypto::parse_csr("not a CSR"), Error);
}

TEST_CASE("a CSR whose first name is an IP address has no common name") {
  const crypto::PrivateKey key = crypto::PrivateKey::generate(crypto::KeyType::ec256);
  crypto::CsrInfo csr = crypto::parse_csr(crypto::make_csr_der(key, {"127.0.0.1", "::1"}));
  CHECK(csr.names == std::vector<std::string>{"127.0.0.1", "::1"});
}

TEST_CASE("Link headers yield the alternate chains, checked as CA URLs") {
  const std::vector<std::string> links = {
      "<https://ca.test/dir>;rel=\"index\"",
      "<https://ca.test/cert/1/1>;rel=\"alternate\", <https://ca.test/cert/1/2>; rel=alternate",
      "<https://ca.test/cert/1/1>;rel=\"alternate\"",  // a repeat
      "<https://ca.test/up>;rel=\"up alternate\""};
  CHECK(acme::parse_alternate_links(links) ==
        std::vector<std::string>{"https://ca.test/cert/1/1", "https://ca.test/cert/1/2", "https://ca.test/up"});
  CHECK(acme::parse_alternate_links({}).empty());
  CHECK_THROWS_AS(acme::parse_alternate_links({"<http://ca.test/cert/1/1>;rel=\"alternate\""}), acme::CaMisbehaved);
}

TEST_CASE("an authorization for an IP address is accepted and its address normalized") {
  nlohmann::json body = {{"status", "pending"},
                         {"identifier", {{"type", "ip"}, {"value", "2001:DB8::1"}}},
                         {"challenges", nlohmann::json::array()}};
  acme::Authorization authz = acme::parse_authorization(body, "https://ca.test/authz/1");
  CHECK(authz.identifier.type == "ip");
  CHECK(authz.identifier.value == "2001:db8::1");
  body["identifier"]["value"] = "127.0.0.1/8";
  CHECK_THROWS_AS(acme::parse_authorization(body, "https://ca.test/authz/1"), acme::CaMisbehaved);
  body["identifier"] = {{"type", "dns"}, {"value", "127.0.0.1"}};  // an address is not a dns name
  CHECK_THROWS_AS(acme::parse_authorization(body, "https://ca.test/authz/1"), acme::CaMisbehaved);
}
