#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds, and runs every unit
# and integration test with CTest (integration tests start Pebble on 127.0.0.1 themselves).
# Then builds the Release configuration (-O3) and runs its unit tests, unless
# CERTCLI_SKIP_RELEASE=1: the optimiser finds warnings the default build does not, and every
# build here treats warnings as errors (scripts/build.sh). Then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite once more, unless
# CERTCLI_SKIP_SANITIZE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

CERTCLI_BUILD_DIR=build scripts/build.sh
ctest --test-dir build --output-on-failure -j 2

if [[ "${CERTCLI_SKIP_RELEASE:-0}" != 1 ]]; then
  # Unit tests only: the integration tests ran above; what this adds is the -O3 compile.
  CERTCLI_BUILD_DIR=build-release scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DCERTCLI_WERROR=ON
  ctest --test-dir build-release --output-on-failure -j 2 -L unit --no-tests=error
fi

if [[ "${CERTCLI_SKIP_SANITIZE:-0}" != 1 ]]; then
  CERTCLI_BUILD_DIR=build-sanitize scripts/build.sh -DCERTCLI_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j 2
fi
