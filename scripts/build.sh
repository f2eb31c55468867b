#!/usr/bin/env bash
# Installs what is missing, then configures and builds certcli into build/ (or $CERTCLI_BUILD_DIR).
# Warnings are errors here (CERTCLI_WERROR=ON): the project's own builds stay warning-free, while
# a plain `cmake` build by anyone else is never stopped by a warning.
# Extra arguments go to CMake and win over these defaults, e.g. scripts/build.sh -DCERTCLI_SANITIZE=ON
# or -DCMAKE_BUILD_TYPE=Release.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${CERTCLI_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTCLI_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" ${CERTCLI_BUILD_TARGET:+--target "$CERTCLI_BUILD_TARGET"}
echo "build.sh: built $build_dir/certcli"
