#!/usr/bin/env bash
# Installs what is missing, then configures and builds certcli into build/ (or $CERTCLI_BUILD_DIR).
# Extra arguments go to CMake, e.g. scripts/build.sh -DCERTCLI_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${CERTCLI_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" ${CERTCLI_BUILD_TARGET:+--target "$CERTCLI_BUILD_TARGET"}
echo "build.sh: built $build_dir/certcli"
