#!/usr/bin/env bash
# config show/set/unset/path through the binary, no CA needed: set writes a private file that
# show reads back with each value's line, a broken file is refused (exit 3, naming the line and
# the key) and left byte for byte as it was, and a $ENV: secret is shown only as its reference:
# its value appears neither in the output nor in the file.
# shellcheck disable=SC2016  # '$ENV:VAR' is certcli's reference syntax, not for the shell to expand
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home="$work/home"
file="$home/config.toml"
certcli() { "$CERTCLI_BIN" --home "$home" "$@"; }
# The value of the 'value' (or other) field of KEY's row in `config show --json`.
row_field() { "$HARNESS_PYTHON" -c '
import json, sys
rows = [r for r in json.loads(sys.argv[1])["settings"] if r["key"] == sys.argv[2]]
value = rows[0][sys.argv[3]]
print("null" if value is None else ("true" if value is True else "false" if value is False else value))' "$1" "$2" "$3"; }

assert_eq "$file" "$(certcli config path)" "config path"
run_capture certcli config show
assert_eq 0 "$LAST_STATUS" "config show without a config.toml (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "KEY"
assert_contains "$LAST_STDOUT" "SOURCE"
[[ "$LAST_STDOUT" =~ ca\.name\ +letsencrypt\ +built-in ]] || fail "ca.name is not the built-in letsencrypt:"$'\n'"$LAST_STDOUT"
[[ ! -e "$home" ]] || fail "config show created the state directory"
echo "ok: without config.toml every setting is a built-in, and show creates nothing"

run_expect_fail certcli config set renewal.buffer_days 0
assert_eq 3 "$LAST_STATUS" "exit code for a value out of range"
assert_contains "$LAST_STDERR" "certcli: error: renewal.buffer_days: 0 is not between 1 and 365"
assert_contains "$LAST_STDERR" "certcli: hint: "
[[ ! -e "$home" ]] || fail "a refused config set created the state directory"
run_expect_fail certcli config set renewal.bufer_days 30
assert_eq 3 "$LAST_STATUS" "exit code for an unknown key"
assert_contains "$LAST_STDERR" "did you mean renewal.buffer_days?"
echo "ok: config set checks the key and the value before writing anything"

run_capture certcli config set renewal.buffer_days 20
assert_eq 0 "$LAST_STATUS" "config set (stderr: $LAST_STDERR)"
[[ "$LAST_STDOUT" =~ renewal\.buffer_days\ +20\ +config\.toml:[0-9]+ ]] || fail "config set did not print the new line: $LAST_STDOUT"
certcli config set account.email 'ops@example.com,admin@example.com' >/dev/null
certcli config set challenge.webroot /var/www/acme >/dev/null
assert_file_mode 600 "$file"
run_capture certcli config show --json
assert_eq 0 "$LAST_STATUS" "config show --json (stderr: $LAST_STDERR)"
assert_eq 20 "$(row_field "$LAST_STDOUT" renewal.buffer_days value)" "buffer_days value"
line=$(grep -n '^buffer_days' "$file" | cut -d: -f1)
assert_eq "config.toml:$line" "$(row_field "$LAST_STDOUT" renewal.buffer_days source)" "buffer_days source"
assert_eq "ops@example.com, admin@example.com" "$(row_field "$LAST_STDOUT" account.email value)" "account.email"
assert_eq "null" "$(row_field "$LAST_STDOUT" challenge.http_listen value)" "http_listen, excluded by the webroot"
assert_eq "built-in" "$(row_field "$LAST_STDOUT" renewal.deploy_hook_timeout source)" "deploy_hook_timeout source"
assert_eq 21 "$("$HARNESS_PYTHON" -c 'import json,sys; print(len(json.loads(sys.argv[1])["settings"]))' "$LAST_STDOUT")" "one row per key"
echo "ok: config set writes a 0600 file; show --json gives each value with its line"

run_expect_fail certcli config set challenge.http_listen :8080
assert_eq 3 "$LAST_STATUS" "exit code for keys that exclude each other"
assert_contains "$LAST_STDERR" "certcli config unset challenge.webroot"
run_capture certcli config unset challenge.webroot
assert_eq 0 "$LAST_STATUS" "config unset (stderr: $LAST_STDERR)"
[[ "$LAST_STDOUT" =~ challenge\.webroot\ +-\ +unset ]] || fail "config unset did not print the key as unset: $LAST_STDOUT"
run_capture certcli config set challenge.http_listen :8080
assert_eq 0 "$LAST_STATUS" "http_listen once the webroot is unset (stderr: $LAST_STDERR)"
if grep -q webroot "$file"; then fail "config unset left the key in the file"; fi
echo "ok: config unset removes a key, making room for the one it excluded"

# A $ENV: secret: stored as written, shown as its reference, its value nowhere.
secret="https://hooks.example/T0KEN-$RANDOM$RANDOM"
CERTCLI_WEBHOOK=$secret run_capture certcli config set alerts.webhook '$ENV:CERTCLI_WEBHOOK'
assert_eq 0 "$LAST_STATUS" "config set alerts.webhook (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" '$ENV:CERTCLI_WEBHOOK'
assert_not_contains "$LAST_STDOUT$LAST_STDERR" "$secret"
CERTCLI_WEBHOOK=$secret run_capture certcli config show
assert_eq 0 "$LAST_STATUS" "config show with the secret set (stderr: $LAST_STDERR)"
[[ "$LAST_STDOUT" =~ alerts\.webhook\ +\$ENV:CERTCLI_WEBHOOK\ +config\.toml: ]] || fail "webhook not shown as its reference:"$'\n'"$LAST_STDOUT"
assert_not_contains "$LAST_STDOUT$LAST_STDERR" "$secret"
CERTCLI_WEBHOOK=$secret run_capture certcli config show --json
assert_eq '$ENV:CERTCLI_WEBHOOK' "$(row_field "$LAST_STDOUT" alerts.webhook value)" "webhook in JSON"
assert_eq true "$(row_field "$LAST_STDOUT" alerts.webhook secret)" "webhook is a secret"
assert_not_contains "$LAST_STDOUT$LAST_STDERR" "$secret"
assert_contains "$(cat "$file")" '$ENV:CERTCLI_WEBHOOK'
assert_not_contains "$(cat "$file")" "$secret"
# Without the variable, show names it; set still edits other keys, keeping the reference.
run_expect_fail certcli config show
assert_eq 3 "$LAST_STATUS" "exit code for an unset variable"
assert_contains "$LAST_STDERR" "alerts.webhook: \$ENV:CERTCLI_WEBHOOK refers to the environment variable CERTCLI_WEBHOOK, which is not set"
run_capture certcli config set renewal.deploy_hook_timeout 120
assert_eq 0 "$LAST_STATUS" "config set with another key's variable unset (stderr: $LAST_STDERR)"
assert_contains "$(cat "$file")" '$ENV:CERTCLI_WEBHOOK'
echo "ok: a \$ENV: secret is shown as its reference, never its value, and stored as written"

# A broken file is refused, named by line and key, and left as it was.
printf '[renewal]\nbuffer_days = 20\nbufer_days = 3\n' >"$file"
before=$(sha256sum "$file")
run_expect_fail certcli config set alerts.days 14,7
assert_eq 3 "$LAST_STATUS" "exit code for a broken file"
assert_contains "$LAST_STDERR" "certcli: error: $file:3: renewal.bufer_days: unknown key"
assert_contains "$LAST_STDERR" "did you mean renewal.buffer_days?"
assert_contains "$LAST_STDERR" "nothing was changed"
assert_eq "$before" "$(sha256sum "$file")" "the broken file after a refused set"
run_expect_fail certcli config unset renewal.buffer_days
assert_eq 3 "$LAST_STATUS" "exit code for unset on a broken file"
assert_eq "$before" "$(sha256sum "$file")" "the broken file after a refused unset"
run_expect_fail certcli config show --json
assert_eq 3 "$LAST_STATUS" "exit code for show on a broken file"
assert_eq invalid_input "$(json_field "$LAST_STDOUT" error.kind)" "error.kind"
assert_contains "$(json_field "$LAST_STDOUT" error.message)" "config.toml:3: renewal.bufer_days"
printf '[renewal]\nbuffer_days = 0\n[alerts\n' >"$file"
before=$(sha256sum "$file")
run_expect_fail certcli config set renewal.buffer_days 10
assert_eq 3 "$LAST_STATUS" "exit code for a file with a syntax error"
assert_contains "$LAST_STDERR" "certcli: error: $file:3:"
assert_eq "$before" "$(sha256sum "$file")" "the file with a syntax error after a refused set"
echo "ok: a broken file is refused with its line and key, and never rewritten"

# A bad value of the key being set is what the set replaces.
printf '[renewal]\nbuffer_days = 0\n' >"$file"
run_expect_fail certcli config show
assert_contains "$LAST_STDERR" "certcli: error: $file:2: renewal.buffer_days: 0 is not between 1 and 365"
run_capture certcli config set renewal.buffer_days 10
assert_eq 0 "$LAST_STATUS" "config set fixing its own key (stderr: $LAST_STDERR)"
run_capture certcli config show
assert_eq 0 "$LAST_STATUS" "config show after the fix (stderr: $LAST_STDERR)"
echo "ok: config set KEY replaces a bad value of KEY"

# Precedence: config.toml's defaults apply where the command line says nothing, and only there.
certcli config set certificate.key_type rsa2048 >/dev/null
certcli domain add from-config.example.com >/dev/null
certcli domain add from-flag.example.com --key-type ec384 >/dev/null
assert_contains "$(cat "$home/domains/from-config.example.com/domain.toml")" "key_type = 'rsa2048'"
assert_contains "$(cat "$home/domains/from-flag.example.com/domain.toml")" "key_type = 'ec384'"
# And nothing runs on a config.toml that does not load.
printf '[renewal]\nbufer_days = 3\n' >"$file"
run_expect_fail certcli renew
assert_eq 3 "$LAST_STATUS" "renew on a broken config.toml (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "$file:2"
echo "ok: config.toml's certificate.key_type applies unless --key-type is given; renew refuses a broken file"
