#!/usr/bin/env bash
# The exit-code table is documented three times: `certcli --help` (the source, from
# src/cli/exit_codes.cpp), README.md and man/certcli.1. Scripts depend on these numbers, so a
# code added to one place and not the others fails here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
: "${CERTCLI_SOURCE_DIR:?set CERTCLI_SOURCE_DIR (ctest does)}"

from_help=$("$CERTCLI_BIN" --help | sed -n '/^Exit status:/,/^$/p' | sed -n 's/^  \([0-9]\+\)  \(.*\)$/\1 \2/p')
from_readme=$(sed -n '/^### Exit codes/,/^## /p' "$CERTCLI_SOURCE_DIR/README.md" |
  sed -n 's/^| \([0-9]\+\) | \(.*\) |$/\1 \2/p')
[[ -n "$from_help" ]] || fail "no exit-code table in certcli --help"
assert_eq "$from_help" "$from_readme" "README.md's exit-code table against certcli --help"

# The man page lists each code; its wording may be shorter, the numbers must be the same.
codes_help=$(echo "$from_help" | cut -d' ' -f1 | tr '\n' ' ')
codes_man=$(sed -n '/^\.SH "\{0,1\}EXIT STATUS/,/^\.SH /p' "$CERTCLI_SOURCE_DIR/man/certcli.1" |
  sed -n 's/^\.IP \([0-9]\+\).*/\1/p; s/^\.TP$//; s/^\.B \([0-9]\+\)$/\1/p' | tr '\n' ' ')
assert_eq "$codes_help" "$codes_man" "man/certcli.1's EXIT STATUS codes against certcli --help"
echo "PASS: test_docs_exit_codes"
