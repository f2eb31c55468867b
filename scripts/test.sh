#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds, and runs every unit
# and integration test with CTest (integration tests start Pebble on 127.0.0.1 themselves).
# Two builds, both with warnings as errors (scripts/build.sh): Release at -O3 with GCC, the way
# certcli ships (the optimiser also finds warnings a debug build does not), and then Clang with
# AddressSanitizer + UndefinedBehaviorSanitizer, unless CERTCLI_SKIP_SANITIZE=1. Each runs the
# whole suite: a third, plain build would only compile the same code once more. The sanitizer
# build also builds the libFuzzer targets (tests/fuzz), which then run briefly each
# (CERTCLI_CI_FUZZ_SECONDS, default 15; scripts/fuzz.sh runs them for longer).
set -euo pipefail
cd "$(dirname "$0")/.."

CERTCLI_BUILD_DIR=build-release scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DCERTCLI_WERROR=ON
ctest --test-dir build-release --output-on-failure -j 2

if [[ "${CERTCLI_SKIP_SANITIZE:-0}" != 1 ]]; then
  # A build-sanitize/ configured by GCC before (CMake keeps a cache's compiler) starts over.
  if [[ -f build-sanitize/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-sanitize/CMakeCache.txt; then
    rm -rf build-sanitize
  fi
  CC=clang CXX=clang++ CERTCLI_BUILD_DIR=build-sanitize scripts/build.sh -DCERTCLI_SANITIZE=ON -DCERTCLI_FUZZ=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j 2
  CERTCLI_FUZZ_PREBUILT=1 CERTCLI_FUZZ_BUILD_DIR=build-sanitize CERTCLI_FUZZ_SECONDS=${CERTCLI_CI_FUZZ_SECONDS:-15} \
    scripts/fuzz.sh
fi
