// Fuzzes the TOML state records (domains/<name>/domain.toml, accounts/<ca>/account.toml): they
// are hand-editable, so anything may be in them. Parsing must end in a record or in
// certcli::Error{state}; and a domain record that loads must survive a write and a re-read
// unchanged (what certcli does on every save).
//
// No input is skipped: parse_toml passes every text through refuse_unsafe_toml
// (certcli/toml_guard.hpp) first, which keeps what makes toml++ 3.3.0 reach
// __builtin_unreachable (upstream marzer/tomlplusplus#190/#295; the reproducer is
// tests/fuzz/crashes/fuzz_state_records-tomlplusplus-unreachable) from the parser. A crash
// here is a hole in that guard.
#include <certcli/error.hpp>
#include <certcli/store.hpp>

#include "fuzz_check.hpp"
#include "store/records.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

const char* text_of(const std::optional<certcli::TimePoint>& t) {
  static std::string buffer;
  buffer = t ? std::to_string(t->time_since_epoch().count()) : "(none)";
  return buffer.c_str();
}

void check_round_trip(const certcli::store::DomainRecord& record) {
  using namespace certcli::store;
  std::string written = serialize(domain_to_toml(record));
  DomainRecord again;
  try {
    again = domain_from_toml(parse_toml(written, "fuzz-rewritten"), "fuzz-rewritten");
  } catch (const certcli::Error& e) {
    FUZZ_CHECK(false, "a loaded record does not load after saving: %s\n--- written:\n%s", e.what(), written.c_str());
  }
  FUZZ_CHECK(again.name == record.name, "name changed over a round trip\n--- written:\n%s", written.c_str());
  FUZZ_CHECK(again.names == record.names, "names changed over a round trip\n--- written:\n%s", written.c_str());
  FUZZ_CHECK(again.status == record.status, "status changed over a round trip\n--- written:\n%s", written.c_str());
  FUZZ_CHECK(again.phase == record.phase, "phase changed over a round trip\n--- written:\n%s", written.c_str());
  FUZZ_CHECK(again.created_at == record.created_at, "created_at %s changed over a round trip\n--- written:\n%s",
             text_of(record.created_at), written.c_str());
  FUZZ_CHECK(again.issued_at == record.issued_at, "issued_at %s changed over a round trip\n--- written:\n%s",
             text_of(record.issued_at), written.c_str());
  FUZZ_CHECK(again.expires_at == record.expires_at, "expires_at %s changed over a round trip\n--- written:\n%s",
             text_of(record.expires_at), written.c_str());
  FUZZ_CHECK(again.last_updated_at == record.last_updated_at,
             "last_updated_at %s changed over a round trip\n--- written:\n%s", text_of(record.last_updated_at),
             written.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcli::store;
  std::string text(reinterpret_cast<const char*>(data), size);

  toml::table table;
  try {
    table = parse_toml(text, "fuzz");
  } catch (const certcli::Error&) {
    return 0;
  }

  try {
    DomainRecord record = domain_from_toml(table, "fuzz");
    check_round_trip(record);
  } catch (const certcli::Error&) {
  }
  try {
    AccountRecord account = account_from_toml(table, "fuzz");
    std::string written = serialize(account_to_toml(account));
    (void)account_from_toml(parse_toml(written, "fuzz-rewritten"), "fuzz-rewritten");
  } catch (const certcli::Error&) {
  }
  return 0;
}
