// The one table from error kinds to exit codes. Documented in README.md ("Exit codes") and
// man/certcli.1; scripts depend on these numbers, so they only ever grow.
#include "cli/cli.hpp"

namespace certcli::cli {
namespace {

struct Row {
  ErrorKind kind;
  int code;
  const char* name;
  const char* meaning;
};

constexpr Row kTable[] = {
    {ErrorKind::internal, 1, "internal", "internal error (a bug; please report it)"},
    {ErrorKind::usage, 2, "usage", "wrong command line, or a confirmation (such as --agree-tos) is missing"},
    {ErrorKind::invalid_input, 3, "invalid_input", "invalid input: a name, file or value is malformed"},
    {ErrorKind::not_found, 4, "not_found", "not found: the domain or account does not exist"},
    {ErrorKind::state, 5, "state", "state directory unreadable, damaged or locked by another certcli"},
    {ErrorKind::network, 6, "network", "the CA (or another peer) could not be reached"},
    {ErrorKind::ca_rejected, 7, "ca_rejected", "the CA refused the request (its problem document is shown)"},
    {ErrorKind::challenge, 8, "challenge", "a challenge could not be presented or was judged invalid"},
    {ErrorKind::crypto, 9, "crypto", "a key, CSR or certificate could not be handled"},
    {ErrorKind::retry_later, 10, "retry_later",
     "the CA asked certcli to wait longer than this run may; run it again after the time shown"},
    {ErrorKind::renewal_failed, 11, "renewal_failed",
     "renew: one or more renewals failed; each is retried after its backoff (see certcli status)"},
    {ErrorKind::hook_failed, 12, "hook_failed", "a deploy hook failed; the new certificate is installed"},
    {ErrorKind::preflight, 13, "preflight",
     "a check before ordering failed (DNS, HTTP reachability, CAA, ownership); fix what it names (see certcli verify)"},
    {ErrorKind::timed_out, 14, "timed_out",
     "wait: the domain was neither ready nor failed within --timeout (it may still be issuing)"},
    // 128 + SIGINT, as shells report a command stopped by Ctrl-C.
    {ErrorKind::interrupted, 130, "interrupted", "interrupted by SIGINT or SIGTERM; run it again to resume"},
};

}  // namespace

int exit_code_for(ErrorKind kind) {
  for (const auto& row : kTable)
    if (row.kind == kind) return row.code;
  return 1;
}

std::string kind_name(ErrorKind kind) {
  for (const auto& row : kTable)
    if (row.kind == kind) return row.name;
  return "internal";
}

std::string exit_code_table() {
  std::string text = "Exit status:\n  0  success\n";
  for (const auto& row : kTable) text += "  " + std::to_string(row.code) + "  " + row.meaning + "\n";
  return text;
}

}  // namespace certcli::cli
