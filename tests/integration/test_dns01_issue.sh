#!/usr/bin/env bash
# dns-01 end to end (issue #18) against a real authoritative server: Knot serves dns.test and
# delegated.test on loopback with a TSIG key, and Pebble's VA resolves through it. Three
# certificates are issued and checked with OpenSSL:
#   1. an apex + wildcard certificate through RFC 2136 updates signed with the key;
#   2. one through an exec hook of the test's own (lego's `present|cleanup FQDN VALUE`);
#   3. one through CNAME delegation: _acme-challenge.deleg.dns.test is a CNAME into
#      delegated.test, where the record is written, and only that record is removed again.
# And: the TSIG secret, given as $ENV:VAR, appears in no file of the state directory, in no -v
# output and not in activity.jsonl; a secret given in clear is refused before anything is saved;
# a wildcard without a dns-01 method is refused with the options that fix it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/knot.sh"
knot_start
harness_start
use_certcli
export KNOT_TSIG_SECRET

rfc2136=(--dns-rfc2136 "$KNOT_SERVER" --tsig-key "$KNOT_TSIG_NAME" --tsig-secret '$ENV:KNOT_TSIG_SECRET')

# check_certificate NAME SAN... — the live certificate chains to Pebble's root and holds exactly
# these names.
check_certificate() {
  local name=$1
  shift
  local live="$home/domains/${name/\*/_wildcard}/live"
  [[ -f "$live/cert.pem" ]] || fail "no live certificate for $name"
  openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
    fail "the certificate for $name does not chain to Pebble's root"
  local sans expected
  sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
  expected=$(printf 'DNS:%s\n' "$@" | sort | tr '\n' ' ')
  assert_eq "$expected" "$sans" "names in the certificate for $name"
}

# --- refusals before anything is saved ------------------------------------------------------
run_expect_fail certcli domain add clear.dns.test --dns-rfc2136 "$KNOT_SERVER" --tsig-key "$KNOT_TSIG_NAME" \
  --tsig-secret "$KNOT_TSIG_SECRET"
assert_eq 3 "$LAST_STATUS" "a secret given in clear"
assert_contains "$LAST_STDERR" "must say where the secret is"
assert_contains "$LAST_STDERR" '$ENV:VARIABLE'
assert_not_contains "$LAST_STDERR" "$KNOT_TSIG_SECRET" "the refused secret is not echoed"
[[ ! -e "$home/domains/clear.dns.test" ]] || fail "a refused domain was saved"

run_expect_fail certcli domain add wild.dns.test --wildcard
assert_eq 3 "$LAST_STATUS" "a wildcard without dns-01"
assert_contains "$LAST_STDERR" "only dns-01 can validate"
assert_contains "$LAST_STDERR" "--dns-rfc2136"

# --- 1. apex + wildcard through RFC 2136 -----------------------------------------------------
certcli domain add rfc.dns.test --wildcard "${rfc2136[@]}" >/dev/null
run_capture certcli -v issue rfc.dns.test --agree-tos --email ops@dns.test
assert_eq 0 "$LAST_STATUS" "issue through RFC 2136 (stderr: $LAST_STDERR)"
verbose_output="$LAST_STDOUT$LAST_STDERR"
assert_contains "$LAST_STDERR" "dns-01 via RFC 2136 at $KNOT_SERVER"
check_certificate rfc.dns.test rfc.dns.test '*.rfc.dns.test'
assert_eq "" "$(knot_txt _acme-challenge.rfc.dns.test)" "the TXT records are removed after issuance"

# Renewal takes the same path: the remembered settings, the secret from the environment again.
first_serial=$(openssl x509 -in "$home/domains/rfc.dns.test/live/cert.pem" -noout -serial)
run_capture certcli renew rfc.dns.test --force
assert_eq 0 "$LAST_STATUS" "renew through RFC 2136 (stderr: $LAST_STDERR)"
[[ "$(openssl x509 -in "$home/domains/rfc.dns.test/live/cert.pem" -noout -serial)" != "$first_serial" ]] ||
  fail "renew --force did not replace the certificate"
check_certificate rfc.dns.test rfc.dns.test '*.rfc.dns.test'

# A wildcard on its own, given as '*.NAME': the state directory never holds a '*' in a path.
certcli domain add '*.star.dns.test' "${rfc2136[@]}" >/dev/null
run_capture certcli issue '*.star.dns.test'
assert_eq 0 "$LAST_STATUS" "issue a wildcard-only certificate (stderr: $LAST_STDERR)"
check_certificate '*.star.dns.test' '*.star.dns.test'
assert_eq "" "$(find "$home" -name '*[*]*')" "paths with '*' under the state directory"

# --- 2. the exec hook -------------------------------------------------------------------------
hook="$HARNESS_DIR/dns-hook.sh"
hook_log="$HARNESS_DIR/dns-hook.log"
cat >"$hook" <<EOF
#!/usr/bin/env bash
# A DNS provider's hook as operators write them for lego: ACTION FQDN VALUE.
set -euo pipefail
echo "\$1 \$2 \$3 env=\$CERTCLI_DNS_ACTION,\$CERTCLI_DNS_FQDN" >>"$hook_log"
case "\$1" in
  present) verb=add ;;
  cleanup) verb=del ;;
  *) echo "unknown action \$1" >&2; exit 2 ;;
esac
knsupdate -y "$KNOT_TSIG_ALGORITHM:$KNOT_TSIG_NAME:$KNOT_TSIG_SECRET" <<UPDATE
server 127.0.0.1 $KNOT_PORT
zone dns.test.
update \$verb \$2 60 TXT "\$3"
send
UPDATE
EOF
chmod +x "$hook"
certcli domain add hook.dns.test --dns-hook "$hook" >/dev/null
run_capture certcli issue hook.dns.test
assert_eq 0 "$LAST_STATUS" "issue through the hook (stderr: $LAST_STDERR)"
check_certificate hook.dns.test hook.dns.test
grep -q '^present _acme-challenge.hook.dns.test. [A-Za-z0-9_-]\{43\} env=present,_acme-challenge.hook.dns.test.$' "$hook_log" ||
  fail "the hook was not called as 'present FQDN. VALUE': $(cat "$hook_log")"
grep -q '^cleanup _acme-challenge.hook.dns.test. ' "$hook_log" || fail "the hook was not called to clean up: $(cat "$hook_log")"
assert_eq "" "$(knot_txt _acme-challenge.hook.dns.test)" "the hook removed its record"

# A failing hook: its exit status and stderr are reported, before any order is finalized.
failing_hook="$HARNESS_DIR/failing-hook.sh"
printf '#!/bin/sh\necho "provider API said: quota exceeded" >&2\nexit 4\n' >"$failing_hook"
chmod +x "$failing_hook"
certcli domain add failhook.dns.test --dns-hook "$failing_hook" >/dev/null
run_expect_fail certcli issue failhook.dns.test
assert_contains "$LAST_STDERR" "quota exceeded" "the hook's stderr is shown"
assert_contains "$LAST_STDERR" "status 4" "the hook's exit status is shown"

# --- 3. CNAME delegation into delegated.test --------------------------------------------------
knot_set _acme-challenge.deleg.dns.test CNAME _acme-challenge.deleg.delegated.test.
certcli domain add deleg.dns.test "${rfc2136[@]}" >/dev/null
run_capture certcli issue deleg.dns.test
assert_eq 0 "$LAST_STATUS" "issue through CNAME delegation (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "_acme-challenge.deleg.delegated.test"
check_certificate deleg.dns.test deleg.dns.test
assert_eq "" "$(knot_txt _acme-challenge.deleg.delegated.test)" "the delegated record is removed"
assert_contains "$(knot_dig +short _acme-challenge.deleg.dns.test CNAME)" "_acme-challenge.deleg.delegated.test." \
  "the CNAME certcli did not write stays"

# --- 4. by hand: certcli prints the record and waits until Knot serves it -----------------------
certcli domain add manual.dns.test --dns-manual --dns-propagation-interval 1 >/dev/null
certcli issue manual.dns.test </dev/null >"$HARNESS_DIR/manual.out" 2>"$HARNESS_DIR/manual.err" &
manual_pid=$!
for _ in $(seq 150); do grep -q ' IN TXT ' "$HARNESS_DIR/manual.err" && break; sleep 0.1; done
record_line=$(grep -m1 ' IN TXT ' "$HARNESS_DIR/manual.err") || fail "no record printed: $(cat "$HARNESS_DIR/manual.err")"
[[ "$record_line" =~ (_acme-challenge\.manual\.dns\.test\.)\ ([0-9]+)\ IN\ TXT\ \"([A-Za-z0-9_-]{43})\" ]] ||
  fail "the printed record has no name, TTL and value: $record_line"
sleep 2
kill -0 "$manual_pid" 2>/dev/null || fail "issue did not wait for the record: $(cat "$HARNESS_DIR/manual.err")"
knot_set "${BASH_REMATCH[1]}" TXT "\"${BASH_REMATCH[3]}\""
manual_status=0
wait "$manual_pid" || manual_status=$?
assert_eq 0 "$manual_status" "issue by hand once the record is served (stderr: $(cat "$HARNESS_DIR/manual.err"))"
check_certificate manual.dns.test manual.dns.test
assert_contains "$(cat "$HARNESS_DIR/manual.err")" "you may now delete the TXT record"

# --- the secret never leaves the environment --------------------------------------------------
if grep -rqF -- "$KNOT_TSIG_SECRET" "$home"; then
  fail "the TSIG secret was written under the state directory: $(grep -rlF -- "$KNOT_TSIG_SECRET" "$home")"
fi
assert_not_contains "$verbose_output" "$KNOT_TSIG_SECRET" "the TSIG secret in -v output"
assert_contains "$(cat "$home/domains/rfc.dns.test/domain.toml")" "tsig_secret = '\$ENV:KNOT_TSIG_SECRET'" \
  "the reference is what is stored"
[[ -s "$home/activity.jsonl" ]] || fail "no activity log"
echo "PASS: test_dns01_issue"
