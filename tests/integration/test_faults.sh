#!/usr/bin/env bash
# Faults in the middle of the work (issue #24). Each ends with a clear error and a state that the
# next run finishes from, with no key lost and no challenge file or record left behind:
#   1. the CA goes away while certcli waits for it to validate (Pebble killed), and comes back
#      having forgotten everything (Pebble started again): the next run registers the same
#      account key again and orders anew;
#   2. the disk fills up during a renewal (the state directory on a small tmpfs), at several
#      points of the run;
#   3. the DNS server stops answering while certcli waits for a dns-01 record to propagate.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/knot.sh"
knot_start
harness_start
use_certcli

# A web server for the webroot that holds each request while $hold exists, and marks in $arrived
# that one came: the test acts while the CA's validation request is in flight.
webroot="$HARNESS_DIR/webroot"
hold="$HARNESS_DIR/hold"
arrived="$HARNESS_DIR/arrived"
mkdir -p "$webroot"
"$HARNESS_PYTHON" - "$webroot" "$hold" "$arrived" "$CERTCLI_TEST_HTTP_PORT" >"$HARNESS_DIR/held-server.log" 2>&1 <<'PY' &
import functools, http.server, os, sys, time
root, hold, arrived, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
class Held(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/.well-known/acme-challenge/"):
            open(arrived, "a").close()
            while os.path.exists(hold):
                time.sleep(0.05)
        super().do_GET()
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Held, directory=root)).serve_forever()
PY
_HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $!"
for _ in $(seq 50); do curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$CERTCLI_TEST_HTTP_PORT/" && break; sleep 0.1; done

# record_status FILE — the status a domain.toml records.
record_status() { "$HARNESS_PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["certificate"]["status"])' "$1"; }
challenge_files() { find "$webroot/.well-known/acme-challenge" -type f 2>/dev/null | wc -l; }
leftover_temp_files() { find "$1" -name '*.tmp*' 2>/dev/null; }

# --- 1. the CA goes away mid-order, and comes back with no memory -------------------------------
name=gone.dns.test
certcli domain add "$name" --webroot "$webroot" >/dev/null
run_capture certcli account register --agree-tos
assert_eq 0 "$LAST_STATUS" "account register (stderr: $LAST_STDERR)"
account_key=$(find "$home/accounts" -name account.key | head -1)
account_key_digest=$(sha256sum <"$account_key")
touch "$hold"
rm -f "$arrived"
certcli issue "$name" >"$HARNESS_DIR/gone.out" 2>"$HARNESS_DIR/gone.err" &
issue_pid=$!
for _ in $(seq 300); do [[ -e $arrived ]] && break; sleep 0.05; done
[[ -e $arrived ]] || fail "the CA never asked for the challenge: $(cat "$HARNESS_DIR/gone.err")"
harness_kill_pebble
rm -f "$hold"
status=0
wait "$issue_pid" || status=$?
gone_err=$(cat "$HARNESS_DIR/gone.err")
assert_eq 6 "$status" "issue while the CA is gone exits with the network code (stderr: $gone_err)"
assert_contains "$gone_err" "127.0.0.1" "the error names the CA that cannot be reached"
assert_contains "$gone_err" "tried 3 times" "the error says it tried again"
assert_eq failed "$(record_status "$home/domains/$name/domain.toml")" "the domain's status after the CA went away"
assert_eq 0 "$(challenge_files)" "challenge files left in the webroot after the failed run"
assert_eq "" "$(leftover_temp_files "$home")" "temporary files left in the state directory"

harness_start_pebble_again
run_capture certcli issue "$name"
assert_eq 0 "$LAST_STATUS" "the next issue once the CA is back (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "no longer knows account" "the re-registration is said"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$home/domains/$name/live/chain.pem" \
  "$home/domains/$name/live/cert.pem" >/dev/null || fail "the certificate does not chain to the restarted CA"
assert_eq "$account_key_digest" "$(sha256sum <"$account_key")" "the account key after registering it again"
grep -q '"event":"account.registered_again"' "$home/activity.jsonl" || fail "no account.registered_again in activity.jsonl"
assert_eq 0 "$(challenge_files)" "challenge files left in the webroot"
echo "ok: the CA killed mid-order: a clear error, then the next run registers the same key again and issues"

# --- 2. the disk fills up during a renewal ------------------------------------------------------
small="$HARNESS_DIR/small"
mkdir -p "$small"
if ! mount -t tmpfs -o size=1m,mode=0700 tmpfs "$small" 2>"$HARNESS_DIR/mount.err"; then
  echo "SKIP: part 2 needs a tmpfs mount, which this machine refused: $(cat "$HARNESS_DIR/mount.err")"
else
  # The harness's EXIT trap removes $HARNESS_DIR, which must not hold a mount by then.
  trap 'umount "$small" 2>/dev/null || true; harness_stop' EXIT
  full_home="$small/home"
  full() { "$CERTCLI_BIN" --home "$full_home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
  name=full.dns.test
  # check_live WHEN — live/ holds a certificate that chains to Pebble's root and its key.
  check_live() {
    local live="$full_home/domains/$name/live"
    openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
      fail "the live certificate does not verify $1"
    openssl x509 -in "$live/cert.pem" -noout -pubkey >"$HARNESS_DIR/cert.pub"
    openssl pkey -in "$live/key.pem" -pubout >"$HARNESS_DIR/key.pub"
    cmp -s "$HARNESS_DIR/cert.pub" "$HARNESS_DIR/key.pub" || fail "the live key does not match the live certificate $1"
  }
  full domain add "$name" --webroot "$webroot" >/dev/null
  run_capture full issue "$name" --agree-tos
  assert_eq 0 "$LAST_STATUS" "the first issue on the small disk (stderr: $LAST_STDERR)"
  # Free space left (KiB) when the renewal starts: none, then enough for a few small writes but
  # not for the new certificate's files.
  for room in 0 8 16 24 32; do
    live_before=$(sha256sum <"$full_home/domains/$name/live/cert.pem")
    dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null || true
    if ((room > 0)); then truncate -s "-${room}K" "$small/filler"; fi
    run_capture full renew "$name" --force --skip-preflight
    renew_status=$LAST_STATUS
    renew_err="$LAST_STDOUT$LAST_STDERR"  # the domain's line (stdout) carries its error
    rm -f "$small/filler"
    if ((renew_status != 0)); then
      assert_contains "$renew_err" "No space left on device" "the full-disk error ($room KiB free)"
      assert_contains "$renew_err" "$full_home" "the full-disk error names the file ($room KiB free)"
      # live/ is switched in one rename: it is the old certificate or the whole new one.
      check_live "after a renewal that met a full disk ($room KiB free)"
      [[ $live_before == "$(sha256sum <"$full_home/domains/$name/live/cert.pem")" ]] ||
        echo "note: with $room KiB free the new certificate was installed before the disk filled up"
    fi
    assert_eq "" "$(leftover_temp_files "$full_home")" "temporary files after a full disk ($room KiB free)"
    assert_eq 0 "$(challenge_files)" "challenge files after a full disk ($room KiB free)"
    run_capture full status "$name" --json
    assert_eq 0 "$LAST_STATUS" "status after a full disk ($room KiB free) (stderr: $LAST_STDERR)"
    run_capture full renew "$name" --force --skip-preflight
    assert_eq 0 "$LAST_STATUS" "the renewal once there is room again ($room KiB free before) (stderr: $LAST_STDERR)"
    check_live "after the renewal that followed ($room KiB free before)"
  done
  umount "$small"
  trap harness_stop EXIT
  echo "ok: a full disk during a renewal: a clear error naming the file, the live certificate kept, the next run renews"
fi

# --- 3. the DNS server stops answering during propagation ---------------------------------------
export KNOT_TSIG_SECRET
hook="$HARNESS_DIR/dns-hook.sh"
cat >"$hook" <<EOF
#!/usr/bin/env bash
# Writes the record, and on the first run then freezes the DNS server (SIGSTOP): every query
# certcli sends while it waits for propagation goes unanswered. Cleanup thaws it first.
set -euo pipefail
case "\$1" in
  present) verb=add ;;
  cleanup) verb=del; kill -CONT "$KNOT_PID" ;;
esac
knsupdate -y "$KNOT_TSIG_ALGORITHM:$KNOT_TSIG_NAME:$KNOT_TSIG_SECRET" <<UPDATE
server 127.0.0.1 $KNOT_PORT
zone dns.test.
update \$verb \$2 60 TXT "\$3"
send
UPDATE
if [[ \$1 == present && ! -e "$HARNESS_DIR/froze" ]]; then touch "$HARNESS_DIR/froze"; kill -STOP "$KNOT_PID"; fi
EOF
chmod +x "$hook"
name=frozen.dns.test
certcli domain add "$name" --dns-hook "$hook" --dns-propagation-timeout 4 --dns-propagation-interval 1 >/dev/null
run_capture timeout 120 "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" \
  --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue "$name"
kill -CONT "$KNOT_PID" 2>/dev/null || true
[[ $LAST_STATUS -ne 0 && $LAST_STATUS -ne 124 ]] || fail "issue with the DNS server frozen: exit $LAST_STATUS (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "_acme-challenge.$name" "the propagation error names the record"
assert_eq "" "$(knot_txt "_acme-challenge.$name")" "the record left behind after the failed run"
assert_eq failed "$(record_status "$home/domains/$name/domain.toml")" "the domain's status after the DNS server froze"
run_capture certcli issue "$name"
assert_eq 0 "$LAST_STATUS" "the next issue with the DNS server answering (stderr: $LAST_STDERR)"
openssl x509 -in "$home/domains/$name/live/cert.pem" -noout -ext subjectAltName | grep -q "DNS:$name" ||
  fail "the certificate for $name does not name it"
assert_eq "" "$(knot_txt "_acme-challenge.$name")" "the record left behind after the issue"
echo "ok: the DNS server frozen during propagation: a clear error, the record removed, the next run issues"
