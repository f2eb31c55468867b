#!/usr/bin/env bash
# --webroot under a restrictive umask: run from a systemd unit (UMask=0077) or a root shell with
# `umask 077`, certcli must still create <webroot>/.well-known/acme-challenge/ as 0755 and the
# challenge files 0644, because the web server that serves them runs as another user. With the
# umask's 0700/0600 that server answers 404 and the CA judges the challenge invalid.
#
# So the web server here runs as `nobody` (setpriv), the premise is checked (a root-owned 0600
# file in the webroot is NOT served), and certcli, as root with umask 077, must issue through it:
# Pebble fetching every challenge file from the nobody server proves they were readable by
# others while they existed. Then the directories must be 0755, the challenge files gone, and
# certcli's own state still 0700/0600 (the webroot modes must not leak into the state directory).
# Needs root (CI runs as root): it switches to nobody.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

((EUID == 0)) || fail "this test needs root: it runs a web server as user nobody"
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"
nobody_uid=$(id -u nobody) || fail "no user nobody"
nobody_gid=$(id -g nobody) # Debian: nogroup

# The webroot lives outside $HARNESS_DIR (0700, so nobody could not reach it). Its cleanup trap is
# installed before harness_start, which chains it after harness_stop (and leaves it alone when
# reusing a harness through CERTCLI_TEST_ENV, where harness_stop stops no web server: hence the
# kill here too).
webroot="" web_pid=""
cleanup_webroot() {
  if [[ -n "$web_pid" ]]; then
    kill "$web_pid" 2>/dev/null || true
    wait "$web_pid" 2>/dev/null || true
  fi
  if [[ -n "$webroot" ]]; then rm -rf -- "$webroot"; fi
}
trap cleanup_webroot EXIT
webroot=$(mktemp -d /tmp/certcli-webroot.XXXXXX)
chmod 755 "$webroot"

harness_start
use_certcli
name=umask.certcli.test
http="http://127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

# A web server for the webroot as user nobody, like start_webroot_server but unprivileged.
# setpriv execs python, so $! is the server itself (a shell function here would put a root
# subshell in between, and killing that would leave the server running).
setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups --inh-caps=-all \
  "$HARNESS_PYTHON" -m http.server --bind 127.0.0.1 --directory "$webroot" "$CERTCLI_TEST_HTTP_PORT" \
  >"$HARNESS_DIR/webroot-server.log" 2>&1 &
web_pid=$!
_HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $web_pid"
for _ in $(seq 50); do
  curl --noproxy '*' -s -o /dev/null "$http/" && break
  kill -0 "$web_pid" 2>/dev/null || fail "the nobody web server exited: $(cat "$HARNESS_DIR/webroot-server.log")"
  sleep 0.1
done
curl --noproxy '*' -s -o /dev/null "$http/" || fail "the nobody web server did not start (see $HARNESS_DIR/webroot-server.log)"
assert_eq "$nobody_uid" "$(stat -c %u "/proc/$web_pid")" "uid of the web server process"

# Premise: this server reads the webroot as another user. A 0644 file is served, a root-owned
# 0600 file is not; so files certcli left 0600/0700 would fail validation.
get() { curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 5 "$http/$1"; }
echo public >"$webroot/public.txt" && chmod 644 "$webroot/public.txt"
echo secret >"$webroot/secret.txt" && chmod 600 "$webroot/secret.txt"
assert_eq 200 "$(get public.txt)" "a 0644 file through the nobody web server"
code=$(get secret.txt)
[[ "$code" == 403 || "$code" == 404 ]] || fail "a root-owned 0600 file was served with HTTP $code: the web server does not run as another user"
rm -f -- "$webroot/public.txt" "$webroot/secret.txt"
[[ ! -e "$webroot/.well-known" ]] || fail "$webroot/.well-known exists before certcli ran"
echo "ok: premise: the web server runs as nobody and does not serve a root-only file"

# The run under umask 077, in a subshell so the test's own umask is untouched.
issue_under_umask_077() (
  umask 077
  certcli domain add "$name" --webroot "$webroot" && certcli issue "$name" --email a@example.com --agree-tos
)
run_capture issue_under_umask_077
assert_eq 0 "$LAST_STATUS" "domain add + issue under umask 077 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "via webroot $webroot"
echo "ok: under umask 077, certcli issued through a web server running as another user"

assert_file_mode 755 "$webroot/.well-known"
assert_file_mode 755 "$webroot/.well-known/acme-challenge"
assert_eq "" "$(find "$webroot/.well-known/acme-challenge" -mindepth 1)" "left in acme-challenge after issuance"
echo "ok: .well-known and .well-known/acme-challenge are 0755; the challenge files are removed"

live="$home/domains/$name/live"
[[ -f "$live/cert.pem" ]] || fail "no certificate at $live/cert.pem"
sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:$name" "$sans" "SANs of the issued certificate"
echo "ok: the certificate for $name is installed"

assert_file_mode 700 "$home/domains/$name"
assert_file_mode 600 "$home/domains/$name/domain.toml"
assert_eq "" "$(find "$home" -type d ! -perm 700)" "state directories that are not 0700"
assert_eq "" "$(find "$home" -type f -perm /077)" "state files readable by group or others"
echo "ok: the state directory is still 0700 and its files 0600"
