#!/usr/bin/env bash
# `certcli ca list` names the presets and their staging twins; `certcli ca show` reads one CA's
# directory (one GET, nothing else) and says what it offers: terms, EAB, profiles, CAA
# identities, ARI — here Pebble's, compared with what its directory says.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

run_capture "$CERTCLI_BIN" --home "$HARNESS_DIR/empty" ca list
assert_eq 0 "$LAST_STATUS" "ca list (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "letsencrypt          letsencrypt-staging  https://acme-v02.api.letsencrypt.org/directory" "ca list"
assert_contains "$LAST_STDOUT" "buypass-staging" "ca list"
run_capture "$CERTCLI_BIN" --home "$HARNESS_DIR/empty" ca list --json
assert_eq 0 "$LAST_STATUS" "ca list --json"
assert_eq google-staging "$(json_field "$LAST_STDOUT" cas.3.staging)" "google's staging twin"
assert_eq 50 "$(json_field "$LAST_STDOUT" cas.0.rate_limits.limits.0.count)" "Let's Encrypt's published limit"
[[ ! -e "$HARNESS_DIR/empty" ]] || fail "ca list wrote a state directory"
echo "ok: ca list names the presets, their staging twins and Let's Encrypt's limits, writing nothing"

directory=$(curl -s --cacert "$CERTCLI_TEST_CA_BUNDLE" "$CERTCLI_TEST_DIRECTORY")
run_capture "$CERTCLI_BIN" --home "$HARNESS_DIR/empty" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" -v ca show "$CERTCLI_TEST_DIRECTORY" --json
assert_eq 0 "$LAST_STATUS" "ca show URL --json (stderr: $LAST_STDERR)"
json=$LAST_STDOUT
assert_eq custom "$(json_field "$json" ca)" "a URL that is no preset"
assert_eq "$CERTCLI_TEST_DIRECTORY" "$(json_field "$json" directory)" "directory"
assert_eq "$(json_field "$directory" meta.termsOfService)" "$(json_field "$json" terms_of_service)" "terms of service"
assert_eq false "$(json_field "$json" external_account_required)" "EAB required"
want_ari=$("$HARNESS_PYTHON" -c 'import json,sys; print("true" if "renewalInfo" in json.load(sys.stdin) else "false")' <<<"$directory")
assert_eq "$want_ari" "$(json_field "$json" ari)" "ARI (whether the directory has renewalInfo)"
want_profiles=$("$HARNESS_PYTHON" -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin).get("meta",{}).get("profiles",{}))))' <<<"$directory")
got_profiles=$("$HARNESS_PYTHON" -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["profiles"])))' <<<"$json")
assert_eq "$want_profiles" "$got_profiles" "profiles"
assert_eq null "$(json_field "$json" rate_limits)" "rate limits of a custom CA"
assert_eq 1 "$(json_field "$json" acme_requests)" "requests made by ca show"
trace=$(grep 'certcli: http: ' <<<"$LAST_STDERR" || true)
assert_eq 1 "$(grep -c . <<<"$trace")" "traced requests of ca show"
assert_contains "$trace" "GET $CERTCLI_TEST_DIRECTORY" "the one request is the directory GET"
[[ ! -e "$HARNESS_DIR/empty" ]] || fail "ca show wrote a state directory"
echo "ok: ca show URL --json reports Pebble's directory (terms, no EAB, ARI: $want_ari, profiles: ${want_profiles:-none}) with one GET"

# The same through --directory, as a table.
run_capture certcli ca show
assert_eq 0 "$LAST_STATUS" "ca show with --directory (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "ARI (renewalInfo):  $([[ $want_ari == true ]] && echo yes || echo no)" "ca show table"
assert_contains "$LAST_STDOUT" "EAB required:       no" "ca show table"
echo "ok: ca show (--directory) prints the same as a table"

run_capture "$CERTCLI_BIN" --home "$HARNESS_DIR/empty" ca show nosuchca
assert_eq 2 "$LAST_STATUS" "ca show of an unknown preset (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "unknown CA 'nosuchca'" "the unknown preset is named"
echo "ok: ca show of an unknown preset is exit 2 naming it"
