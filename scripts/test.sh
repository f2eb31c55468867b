#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds, and runs every unit
# and integration test with CTest (integration tests start Pebble on 127.0.0.1 themselves).
# Then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite
# once more, unless CERTCLI_SKIP_SANITIZE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

CERTCLI_BUILD_DIR=build scripts/build.sh
ctest --test-dir build --output-on-failure -j 2

if [[ "${CERTCLI_SKIP_SANITIZE:-0}" != 1 ]]; then
  CERTCLI_BUILD_DIR=build-sanitize scripts/build.sh -DCERTCLI_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j 2
fi
