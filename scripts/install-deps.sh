#!/usr/bin/env bash
# Install the Debian packages needed to build certcli and run its test/demo harness.
#
# Idempotent: asks dpkg-query which packages are missing and touches apt only if
# something is actually missing (so repeated runs are fast and need no network).
#
# Usage: scripts/install-deps.sh            # install whatever is missing
#        scripts/install-deps.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

# The single source of truth for certcli's system dependencies.
PACKAGES=(
  # toolchain
  build-essential cmake pkg-config git
  # TLS / HTTP
  ca-certificates openssl curl libssl-dev libcurl4-openssl-dev
  # DNS (dns-01 propagation checks)
  libldns-dev
  # names: IDNA 2008 conversion of internationalized names, the public suffix list
  libidn2-dev libpsl-dev
  # header/library deps
  libtomlplusplus-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  # download --format tar: .tar.gz written by libarchive
  libarchive-dev
  # tests: unit framework, local ACME CA (pebble + pebble-challtestsrv), harness helpers
  catch2 pebble python3
  # tests: authoritative DNS (dns-01): knotd/knotc, and kdig/knsupdate to query and update it
  knot knot-dnsutils
  # tests: recursive resolver (dns-01 CNAME delegation): Pebble's VA asks unbound, which follows
  # a CNAME from one Knot zone into another as real CAs' resolvers do (Knot, authoritative only,
  # does not); knot.sh runs its own instance, never the system service
  unbound
  # tests: the bench's CI smoke run (bench/compare.sh) measures CPU time and peak RSS with it
  time
  # tests: the shells whose completion scripts are exercised (bash is always there)
  zsh fish
  # tests: the sanitizer build is Clang's, so that it also builds the libFuzzer targets (its
  # runtime, libclang-rt-N-dev, is named after Clang's version: installed below)
  clang
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  *) echo "install-deps.sh: unknown argument: $1" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps.sh: this script supports Debian/Ubuntu (dpkg + apt) only." >&2
  exit 1
fi

# A package counts as installed only when dpkg says "install ok installed"; packages
# that were removed but not purged ("deinstall ok config-files") must be reinstalled.
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

# libFuzzer's runtime for the installed Clang: a package named after its major version, which
# apt only pulls in as a recommendation (and this script installs none).
fuzzer_runtime_package() {
  command -v clang++ >/dev/null 2>&1 || return 0
  local dir
  dir=$(clang++ -print-runtime-dir 2>/dev/null || true)
  compgen -G "$dir/libclang_rt.fuzzer*.a" >/dev/null || echo "libclang-rt-$(clang++ -dumpversion | cut -d. -f1)-dev"
}
runtime=$(fuzzer_runtime_package)
[[ -z $runtime ]] || missing+=("$runtime")

if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed."
  exit 0
fi

echo "install-deps.sh: missing packages: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

# Become root for apt if we are not already.
SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-deps.sh: need root to install packages, and sudo is not available." >&2
    echo "install-deps.sh: run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# One update (package lists may be absent on fresh containers), then one install.
# sudo does not forward DEBIAN_FRONTEND by default, hence "env" inside the sudo call.
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"

# Clang itself may have come with this install: its fuzzer runtime then follows now.
runtime=$(fuzzer_runtime_package)
if [[ -n $runtime ]]; then
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$runtime"
  missing+=("$runtime")
fi

echo "install-deps.sh: installed: ${missing[*]}"
