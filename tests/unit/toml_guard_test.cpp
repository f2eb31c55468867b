// The gate before toml++ (certcli/toml_guard.hpp): each shape it refuses, with its line, and
// what certcli itself writes passing through.
#include "store/records.hpp"

#include <certcli/error.hpp>
#include <certcli/toml_guard.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace certcli;

namespace {

// The line refuse_unsafe_toml names, or -1 when it lets the text through.
int refused_line(std::string_view text) {
  auto refusal = refuse_unsafe_toml(text);
  return refusal ? refusal->line : -1;
}

std::string reason_for(std::string_view text) {
  auto refusal = refuse_unsafe_toml(text);
  return refusal ? refusal->reason : std::string();
}

}  // namespace

TEST_CASE("the guard lets through what certcli writes, non-ASCII inside quotes included") {
  store::DomainRecord record;
  record.name = "xn--bcher-kva.example.test";
  record.names = {record.name, "www.example.test"};
  record.error = store::RecordedError{"urn:ietf:params:acme:error:dns", "NXDOMAIN für bücher\nline two\tтест", "fix it"};
  record.renewal.deploy_hook = "systemctl reload nginx # ünïcödé";
  std::string written = store::serialize(store::domain_to_toml(record));
  CHECK(refused_line(written) == -1);
  CHECK(store::domain_from_toml(store::parse_toml(written, "x"), "x").error->detail == record.error->detail);

  CHECK(refused_line("a = \"bücher\"\nb = 'тест'\n# a comment: ü\n") == -1);
  CHECK(refused_line("a = \"\"\"\nmulti ü\nline\"\"\"\nb = '''\nü'''\n") == -1);
  CHECK(refused_line("a = [1.5, 2.5, 3.5]\nt = 1979-05-27T07:32:00.999Z\n[a.b.c]\n[[d.e]]\n") == -1);
  CHECK(refused_line("a = \"x\\\"ü\"\n") == -1);  // an escaped quote does not end the string
  CHECK(refused_line("a = \"\\\\\"\nb = \"ü\"\n") == -1);
  CHECK(refused_line("") == -1);
  CHECK(refused_line("a = 1\r\nb = \"ü\"\r\n") == -1);
}

TEST_CASE("the guard refuses a character outside ASCII outside quotes, with its line") {
  CHECK(refused_line("a = 1\nmanagement = \xD0\x8B" "est'\n") == 2);
  CHECK_THAT(reason_for("a = \xD0\x8B\n"), Catch::Contains("U+040B") && Catch::Contains("outside quotes"));
  CHECK(refused_line("a = 1\nb = 2\nbü = 3\n") == 3);                // a bare key
  CHECK(refused_line("a = true\xC2\xA0\n") == 1);                     // after a value
  CHECK(refused_line("\xEF\xBB\xBF" "a = 1\n") == 1);                 // a byte order mark
  CHECK(refused_line("a = \"x\"\nb = 'y'\n\xE3\x80\x80" "c = 1\n") == 3);  // U+3000 starting a line
  CHECK(refused_line("a = \"one\nb = ü\n") == 2);  // a string never runs past its line
}

TEST_CASE("the guard knows a quote inside a bare value opens no string") {
  // toml++ reads a bare value up to whitespace, ']', '}', ',' or '#', quotes and all (found by
  // fuzz_state_records).
  CHECK(refused_line("name = -'1c01T00:su;0\xEF\xBB\xBB" "5:30\n") == 1);
  CHECK(refused_line("a = 1='\xC3\xBC'\n") == 1);
  CHECK(refused_line("a = 1['\xC3\xBC'\n") == 1);
  CHECK(refused_line("a = 1{'\xC3\xBC'\n") == 1);
  CHECK(refused_line("a = tru\xC3\xA9\n") == 1);
  CHECK(refused_line("a = 'x'\xC3\xA9\n") == 1);
  CHECK(refused_line("a = 1.'\xC3\xBC'\n") == 1);
  // Where a value or a key part starts, a quote does open a string.
  CHECK(refused_line("a = [1, 'ü', \"é\"]\nb = [\n  'ü', # ü\n  \"é\",\n]\n") == -1);
  CHECK(refused_line("a = {b = 'ü', c.\"é\" = 1}\n") == -1);
  CHECK(refused_line("a = 1 # c\nb.\"ü\" = 1\n[x.'é']\n") == -1);
}

TEST_CASE("the guard refuses a backslash before a character outside ASCII in a string") {
  CHECK(refused_line("a = \"\\\xC3\xBC\"\n") == 1);
  CHECK(refused_line("x = 1\na = \"\"\"\n\\\xC3\xBC\"\"\"\n") == 3);
  // A line-ending backslash skips whitespace, toml++ testing each character for it.
  CHECK(refused_line("a = \"\"\"one \\\n\n   \xD0\x8B\"\"\"\n") == 3);
  CHECK(refused_line("a = \"\"\"one \\\n  two \xD0\x8B\"\"\"\n") == -1);
}

TEST_CASE("the guard refuses bytes that are not UTF-8, with their line") {
  CHECK(refused_line("a = 1\nb = \"\xFF\"\n") == 2);
  CHECK(refused_line("a = \"\xC0\xAF\"\n") == 1);          // overlong
  CHECK(refused_line("a = \"\xED\xA0\x80\"\n") == 1);      // a surrogate
  CHECK(refused_line("a = \"\xF4\x90\x80\x80\"\n") == 1);  // past U+10FFFF
  CHECK(refused_line("a = \"\xE2\x82\"\n") == 1);          // cut short
  CHECK(refused_line("a = \"\xE2\x82") == 1);              // cut short at the end
  CHECK_THAT(reason_for("\xBF"), Catch::Contains("not UTF-8"));
}

TEST_CASE("the guard refuses ASCII control characters but tab, newline and carriage return") {
  CHECK(refused_line(std::string("a = 1\nb = \"x\0y\"\n", 16)) == 2);
  CHECK(refused_line("a = \"\x1B[31m\"\n") == 1);
  CHECK(refused_line("a = 1\x7F\n") == 1);
  CHECK(refused_line("a = \"\xC2\x85\"\n") == -1);  // C1 in a string: toml++ writes it so
  CHECK(refused_line("a = 1\n\xC2\x85\n") == 2);      // and outside ASCII elsewhere
  CHECK(refused_line("a = \"\tb\"\r\n") == -1);
}

TEST_CASE("the guard refuses nesting and dotted keys deeper than certcli writes") {
  CHECK(refused_line("a = 1\n" + std::string(33, '[') + std::string(33, ']') + "\n") == 2);
  CHECK(refused_line("a = " + std::string(32, '[') + std::string(32, ']') + "\n") == -1);
  CHECK(refused_line("x = 1\ny = {a = {b = {c = 1}}}\n") == -1);
  std::string deep_inline = "a = ";
  for (int i = 0; i < 40; ++i) deep_inline += "{b = ";
  CHECK(refused_line(deep_inline) == 1);
  // Across lines: an array left open is still open on the next line.
  std::string across;
  for (int i = 0; i < 40; ++i) across += "[\n";
  CHECK(refused_line("a = " + across) == 33);

  std::string dotted = "a";
  for (int i = 0; i < 50000; ++i) dotted += ".a";
  CHECK(refused_line("x = 1\n" + dotted + " = 1\n") == 2);
  CHECK_THAT(reason_for(dotted + " = 1\n"), Catch::Contains("dotted key"));
  CHECK(refused_line("[" + dotted + "]\n") == 1);
  CHECK(refused_line("\"a\".\"b\".c = 1\n") == -1);
}

TEST_CASE("the guard refuses a file larger than 1 MiB without a line") {
  std::string big = "a = \"" + std::string(kTomlMaxBytes, 'x') + "\"\n";
  auto refusal = refuse_unsafe_toml(big);
  REQUIRE(refusal);
  CHECK(refusal->line == 0);
  CHECK_THAT(refusal->reason, Catch::Contains("1048576"));
}

TEST_CASE("the toml++ crash reproducer is refused cleanly with its file and line") {
  // CMake compiles this file by its absolute path: the reproducer is found beside it.
  std::ifstream in(std::filesystem::path(__FILE__).parent_path().parent_path() / "fuzz" / "crashes" /
                       "fuzz_state_records-tomlplusplus-unreachable",
                   std::ios::binary);
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(refused_line(text) == 4);
  try {
    (void)store::parse_toml(text, "/state/domains/x/domain.toml");
    FAIL("the reproducer reached the parser");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::state);
    CHECK_THAT(e.what(), Catch::StartsWith("/state/domains/x/domain.toml:4: "));
  }
}
