// A domain.toml is outside input when it is loaded (issue #24): a hand-edited or planted record
// with a name, path or URL certcli would never write is refused with the file and line, before
// any value reaches a CA, a path or a request.
#include "store/records.hpp"

#include <certcli/error.hpp>

#include <catch2/catch.hpp>

using namespace certcli;

namespace {

const std::string kSource = "/state/domains/example.com/domain.toml";

store::DomainRecord load(const std::string& text) {
  return store::domain_from_toml(store::parse_toml(text, kSource), kSource);
}

// The message of the refusal of `text`, which must be Error{state}.
std::string refusal(const std::string& text) {
  try {
    (void)load(text);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    return e.what();
  }
  FAIL("the record was loaded: " << text);
  return {};
}

const std::string kCertificate = "[certificate]\nstatus = \"pending\"\n";

}  // namespace

TEST_CASE("a record as certcli writes it loads, names, webroot and URLs included") {
  store::DomainRecord record;
  record.name = "example.com";
  record.names = {"example.com", "*.example.com", "xn--bcher-kva.example.test", "192.0.2.1", "2001:db8::1"};
  record.challenge.http.webroot = "/var/www/html";
  record.directory_url = "https://acme.example/directory";
  record.order_url = "https://acme.example/order/1";
  store::DomainRecord loaded = load(store::serialize(store::domain_to_toml(record)));
  CHECK(loaded.names == record.names);
  CHECK(loaded.challenge.http.webroot == "/var/www/html");
  CHECK(loaded.directory_url == record.directory_url);
}

TEST_CASE("a name with a path traversal is refused with the file and its line") {
  CHECK_THAT(refusal("name = \"example.com\"\nnames = [\n  \"example.com\",\n  \"../../etc\",\n]\n" + kCertificate),
             Catch::StartsWith(kSource + ":4: 'names' holds '../../etc', which is not a name certcli can order"));
  CHECK_THAT(refusal("name = \"../../etc\"\n" + kCertificate), Catch::StartsWith(kSource + ":1: 'name' holds '../../etc'"));
}

TEST_CASE("a name with an escape sequence is refused, the escape shown and not sent") {
  const std::string message = refusal("name = \"example.com\"\nnames = [\"example.com\", \"\\u001b[2Jevil.com\"]\n" +
                                      kCertificate);
  CHECK_THAT(message, Catch::StartsWith(kSource + ":2: 'names' holds '\\x1b[2Jevil.com'"));
  CHECK(message.find('\x1b') == std::string::npos);
}

TEST_CASE("a name not in the form certcli stores is refused, naming that form") {
  CHECK_THAT(refusal("name = \"Example.COM\"\n" + kCertificate),
             Catch::Contains("'name' holds 'Example.COM', which certcli stores as 'example.com'"));
}

TEST_CASE("a relative or control-character webroot is refused with its line") {
  CHECK_THAT(refusal("name = \"example.com\"\n" + kCertificate + "[challenge]\nwebroot = \"var/www\"\n"),
             Catch::StartsWith(kSource + ":5: 'webroot' holds 'var/www', which is not an absolute path"));
  CHECK_THAT(refusal("name = \"example.com\"\n[challenge]\nwebroot = \"/var/www\\n/etc\"\n"),
             Catch::StartsWith(kSource + ":3: 'webroot' holds '/var/www\\x0a/etc'"));
}

TEST_CASE("a directory or order URL that is not http(s) is refused with its line") {
  CHECK_THAT(refusal("name = \"example.com\"\n[certificate]\nstatus = \"pending\"\ndirectory_url = \"file:///etc/passwd\"\n"),
             Catch::StartsWith(kSource + ":4: 'directory_url' holds 'file:///etc/passwd', which is not an http(s) URL"));
  CHECK_THAT(refusal("name = \"example.com\"\n[certificate]\nstatus = \"pending\"\norder_url = \"https://a b\"\n"),
             Catch::StartsWith(kSource + ":4: 'order_url'"));
}

TEST_CASE("a 50,000-level dotted key in a record is refused with its line before the parser") {
  std::string dotted = "a";
  for (int i = 0; i < 50000; ++i) dotted += ".a";
  CHECK_THAT(refusal("name = \"example.com\"\n" + dotted + " = 1\n"), Catch::StartsWith(kSource + ":2: "));
}
