#!/usr/bin/env bash
# `cmake --install` lays certcli out as a distribution package would: with --prefix /usr and
# DESTDIR, the binary, the man page, the bash, zsh and fish completions where those shells look,
# and the examples, whose units and cron line run the installed binary. The installed binary
# prints its version and its libraries'. Needs no CA.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
build_dir=$(dirname "$CERTCLI_BIN")
[[ -f $build_dir/cmake_install.cmake ]] || fail "$build_dir is not a CMake build directory"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

DESTDIR="$work/stage" cmake --install "$build_dir" --prefix /usr >"$work/install.log" 2>&1 ||
  fail "cmake --install failed:"$'\n'"$(cat "$work/install.log")"
listing=$(cd "$work/stage" && find . -type f | sed 's|^\./|/|' | sort)
for file in /usr/bin/certcli /usr/share/man/man1/certcli.1 /usr/share/bash-completion/completions/certcli \
  /usr/share/zsh/vendor-completions/_certcli /usr/share/fish/vendor_completions.d/certcli.fish \
  /usr/share/doc/certcli/examples/certcli-renew.service /usr/share/doc/certcli/examples/certcli-renew.timer \
  /usr/share/doc/certcli/examples/config.toml; do
  grep -qxF "$file" <<<"$listing" || fail "cmake --install did not install $file; it installed:"$'\n'"$listing"
done
# Nothing outside the prefix (DESTDIR honoured: nothing escaped the staging tree either).
if grep -v '^/usr/' <<<"$listing"; then fail "installed outside /usr"; fi
echo "ok: cmake --install --prefix /usr with DESTDIR installs:"
sed 's/^/  /' <<<"$listing"

[[ -x $work/stage/usr/bin/certcli ]] || fail "the installed binary is not executable"
examples="$work/stage/usr/share/doc/certcli/examples"
for unit in "$examples"/*.service "$examples"/certcli.cron; do
  assert_not_contains "$(cat "$unit")" "/usr/local/bin/certcli" "$(basename "$unit") still runs /usr/local/bin/certcli"
done
assert_contains "$(cat "$examples/certcli-renew.service")" "ExecStart=/usr/bin/certcli renew" "the installed renew unit"
echo "ok: the installed examples run /usr/bin/certcli"

# The completions installed are the binary's; the man page is a man page.
diff -q "$work/stage/usr/share/bash-completion/completions/certcli" <("$CERTCLI_BIN" completions bash) >/dev/null ||
  fail "the installed bash completion is not 'certcli completions bash'"
if command -v man >/dev/null 2>&1; then
  MANWIDTH=100 man -l "$work/stage/usr/share/man/man1/certcli.1" 2>/dev/null | grep -q "ACME certificates" ||
    fail "man cannot render the installed man page"
fi

# --version: certcli's, then OpenSSL, libcurl and ldns as loaded at run time.
version=$("$work/stage/usr/bin/certcli" --version)
[[ $(sed -n 1p <<<"$version") =~ ^certcli\ [0-9]+\.[0-9]+\.[0-9]+( \(git [0-9a-zA-Z._-]+\))?$ ]] ||
  fail "first line of --version: $(sed -n 1p <<<"$version")"
openssl_version=$(openssl version | cut -d' ' -f2)
assert_contains "$(sed -n 2p <<<"$version")" "OpenSSL $openssl_version" "--version names the OpenSSL it runs with"
[[ $(sed -n 3p <<<"$version") =~ ^libcurl\ [0-9]+\.[0-9]+ ]] || fail "third line of --version: $(sed -n 3p <<<"$version")"
curl_version=$(curl --version | head -n 1 | grep -o 'libcurl/[0-9.]*' | cut -d/ -f2)
[[ -z $curl_version ]] || assert_contains "$(sed -n 3p <<<"$version")" "libcurl $curl_version" "the libcurl it runs with"
[[ $(sed -n 4p <<<"$version") =~ ^ldns\ [0-9]+\.[0-9]+ ]] || fail "fourth line of --version: $(sed -n 4p <<<"$version")"
echo "ok: certcli --version:"
sed 's/^/  /' <<<"$version"
