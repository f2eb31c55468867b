#!/usr/bin/env bash
# File-system safety of the state directory and of a webroot (issue #24). certcli runs as root
# from timers; whoever can write into its state directory or a webroot must not be able to make
# it truncate, append to, chmod or create files elsewhere. So, as root in a temporary tree:
#   - a symlink planted at .lock, activity.jsonl, domains/<name>, a key file and a webroot's
#     .well-known: the command is refused with a message naming the link, and the file or
#     directory the link points at is byte-, mode- and mtime-identical afterwards;
#   - a state directory owned by nobody, or writable by its group, is refused with the fix;
#   - a FIFO at domain.toml does not hang `status` (it is named as not a regular file);
#   - a hand-loosened key file is refused with the chmod that fixes it;
#   - a stray non-empty --home is not adopted: nothing in it changes (not its mode, not its
#     .*.tmp-* files);
#   - a relative --home and --webroot are used as absolute paths;
#   - against Pebble, a webroot issuance removes only the files it wrote.
# Needs root (CI runs as root): it chowns to nobody.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
((EUID == 0)) || fail "this test needs root: it chowns directories to nobody"
nobody_uid=$(id -u nobody) || fail "no user nobody"

work=$(mktemp -d /tmp/certcli-fs-safety.XXXXXX)
trap 'rm -rf -- "$work"' EXIT

# snapshot PATH — type, mode, size, mtime and content digest of PATH (not followed) and, for a
# directory, of everything in it: what "untouched" means below.
snapshot() {
  if [[ -d "$1" && ! -L "$1" ]]; then
    (cd "$1" && find . -printf '%y %m %s %T@ %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
  else
    stat -c '%F %a %s %Y' -- "$1" && sha256sum <"$1"
  fi
}

# expect_refused WHAT NEEDLE CMD... — CMD fails (not 0, not a timeout), prints the house error
# and hint lines, and the error names NEEDLE.
expect_refused() {
  local what=$1 needle=$2
  shift 2
  run_capture "$@"
  ((LAST_STATUS != 0)) || fail "$what: exit 0 (stdout: $LAST_STDOUT)"
  ((LAST_STATUS != 124)) || fail "$what: timed out"
  assert_contains "$LAST_STDERR" "certcli: error: " "$what"
  assert_contains "$LAST_STDERR" "certcli: hint: " "$what"
  assert_contains "$LAST_STDERR" "$needle" "$what: the error names it"
}

cc() { "$CERTCLI_BIN" --home "$home" "$@"; }

# A victim file and a victim directory outside the state directory, owned by root and holding
# something that must survive.
victim="$work/victim.txt"
printf 'precious\n' >"$victim"
chmod 640 "$victim"
touch -d '2020-01-01 00:00:00' "$victim"
victim_dir="$work/victim-dir"
mkdir -m 755 "$victim_dir"
printf 'keep\n' >"$victim_dir/file"
touch -d '2020-01-01 00:00:00' "$victim_dir/file" "$victim_dir"
victim_before=$(snapshot "$victim")
victim_dir_before=$(snapshot "$victim_dir")
victims_untouched() {
  assert_eq "$victim_before" "$(snapshot "$victim")" "$1: the link's target file"
  assert_eq "$victim_dir_before" "$(snapshot "$victim_dir")" "$1: the link's target directory"
}

home="$work/state"
run_capture cc domain add a.example.com
assert_eq 0 "$LAST_STATUS" "domain add a.example.com (stderr: $LAST_STDERR)"

# 1. .lock linked to a file: taking the lock would truncate it (the pid is written into it).
rm -f -- "$home/.lock"
ln -s "$victim" "$home/.lock"
expect_refused ".lock link" "$home/.lock" cc domain add b.example.com
assert_contains "$LAST_STDERR" "symbolic link"
assert_eq 5 "$LAST_STATUS" ".lock link: exit status"
victims_untouched ".lock link"
[[ ! -e "$home/domains/b.example.com/domain.toml" ]] || fail ".lock link: the domain was added anyway"
rm -f -- "$home/.lock"
echo "ok: a linked .lock is refused and its target is untouched"

# 2. activity.jsonl linked to a file: every change would be appended to it. Refused when the
# lock is taken, before the change, so the domain is not half-added either.
mv -- "$home/activity.jsonl" "$work/activity.saved"
ln -s "$victim" "$home/activity.jsonl"
expect_refused "activity.jsonl link" "$home/activity.jsonl" cc domain add c.example.com
assert_eq 5 "$LAST_STATUS" "activity.jsonl link: exit status"
[[ ! -e "$home/domains/c.example.com/domain.toml" ]] || fail "activity.jsonl link: the domain was added anyway"
expect_refused "activity.jsonl link read by activity" "$home/activity.jsonl" cc activity
victims_untouched "activity.jsonl link"
rm -f -- "$home/activity.jsonl"
mv -- "$work/activity.saved" "$home/activity.jsonl"
echo "ok: a linked activity.jsonl is refused (by domain add and by activity) and its target is untouched"

# 3. domains/<name> linked to a directory: adding it would chmod that directory 0700 and write
# a domain.toml into it; reading it would read that directory's files.
ln -s "$victim_dir" "$home/domains/d.example.com"
expect_refused "domains/<name> link" "$home/domains/d.example.com" cc domain add d.example.com
assert_contains "$LAST_STDERR" "symbolic link"
expect_refused "domains/<name> link, status NAME" "$home/domains/d.example.com" cc status d.example.com
expect_refused "domains/<name> link, domain remove" "$home/domains/d.example.com" cc domain remove d.example.com
victims_untouched "domains/<name> link"
rm -f -- "$home/domains/d.example.com"
echo "ok: a linked domains/<name> is refused by add, status and remove, and its target is untouched"

# 4. A key file linked elsewhere. A self-signed certificate uploaded gives the domain an
# archive/<version>/key.pem without a CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=k.example.com \
  -addext subjectAltName=DNS:k.example.com -keyout "$work/k.key" -out "$work/k.crt" 2>/dev/null
run_capture cc domain add k.example.com
assert_eq 0 "$LAST_STATUS" "domain add k.example.com (stderr: $LAST_STDERR)"
run_capture cc upload k.example.com --cert "$work/k.crt" --key "$work/k.key" --yes
assert_eq 0 "$LAST_STATUS" "upload k.example.com (stderr: $LAST_STDERR)"
key=$(readlink -f -- "$home/domains/k.example.com/live")/key.pem
[[ -f "$key" && ! -L "$key" ]] || fail "no archived key at $key"
assert_file_mode 600 "$key"
mv -- "$key" "$work/k.key.saved"
ln -s "$victim" "$key"
# status reads the certificate only, never the key: it is not stopped, and does not follow it.
run_capture cc status k.example.com
assert_eq 0 "$LAST_STATUS" "status reads no key (stderr: $LAST_STDERR)"
expect_refused "key.pem link, download NAME" "$key" cc download k.example.com --out "$work/k-download"
assert_contains "$LAST_STDERR" "symbolic link"
[[ ! -e "$work/k-download/private.key" ]] || fail "download wrote a key read through a link"
expect_refused "key.pem link, keys encrypt" "$key" env CERTCLI_PASSPHRASE=correct-horse "$CERTCLI_BIN" --home "$home" keys encrypt
victims_untouched "key.pem link"
rm -f -- "$key"
mv -- "$work/k.key.saved" "$key"
run_capture cc status k.example.com
assert_eq 0 "$LAST_STATUS" "status k.example.com with its key back (stderr: $LAST_STDERR)"
echo "ok: a linked key.pem is refused (download, keys encrypt), status reads no key, and its target is untouched"

# 5. A key loosened by hand is refused with the chmod that fixes it, and not changed.
chmod 644 "$key"
expect_refused "a 0644 key" "$key" cc download k.example.com --out "$work/k-download-2"
assert_contains "$LAST_STDERR" "chmod 600 $key"
assert_file_mode 644 "$key"
chmod 600 "$key"
echo "ok: a key loosened to 0644 is refused, naming chmod 600"

# 6. A live link certcli did not make (pointing out of the domain) is not followed.
live="$home/domains/k.example.com/live"
saved_live=$(readlink -- "$live")
ln -sfn "$victim_dir" "$live"
expect_refused "live pointing outside" "$live" cc status k.example.com
ln -sfn "../../../victim-dir" "$live"
expect_refused "live pointing up" "$live" cc status k.example.com
victims_untouched "live link"
ln -sfn "$saved_live" "$live"
echo "ok: a live link that does not say archive/<version> is refused"

# 7. A FIFO at domain.toml: status must not block on it.
toml="$home/domains/a.example.com/domain.toml"
mv -- "$toml" "$work/a.toml.saved"
mkfifo -m 600 "$toml"
run_capture timeout 10 "$CERTCLI_BIN" --home "$home" status
((LAST_STATUS != 124)) || fail "status hung on a FIFO at $toml"
assert_contains "$LAST_STDOUT$LAST_STDERR" "$toml" "status names the FIFO"
assert_contains "$LAST_STDOUT$LAST_STDERR" "FIFO" "status says what it is"
run_capture timeout 10 "$CERTCLI_BIN" --home "$home" status a.example.com
((LAST_STATUS != 124)) || fail "status NAME hung on a FIFO at $toml"
assert_eq 5 "$LAST_STATUS" "status NAME on a FIFO (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "not a regular file"
rm -f -- "$toml"
mv -- "$work/a.toml.saved" "$toml"
echo "ok: a FIFO at domain.toml is named, and status does not hang"

# 8. A state directory owned by someone else (nobody) is refused, naming the chown.
foreign="$work/foreign"
mkdir -m 700 "$foreign"
chown "$nobody_uid" "$foreign"
foreign_before=$(snapshot "$foreign")
home=$foreign
expect_refused "home owned by nobody" "$foreign" cc domain add e.example.com
assert_eq 5 "$LAST_STATUS" "home owned by nobody: exit status"
assert_contains "$LAST_STDERR" "belongs to nobody"
assert_contains "$LAST_STDERR" "chown -R root $foreign"
expect_refused "home owned by nobody, status" "$foreign" cc status
assert_eq "$foreign_before" "$(snapshot "$foreign")" "the foreign state directory"
assert_eq "$nobody_uid" "$(stat -c %u "$foreign")" "owner of the foreign state directory"
echo "ok: a state directory owned by nobody is refused, naming chown"

# A domains/ inside our own home that belongs to nobody is refused too.
home="$work/state"
chown "$nobody_uid" "$home/domains"
expect_refused "domains/ owned by nobody" "$home/domains" cc status a.example.com
assert_contains "$LAST_STDERR" "chown -R root $home/domains"
chown 0 "$home/domains"
echo "ok: a domains/ owned by nobody inside the state directory is refused"

# 9. A group-writable state directory is refused (not silently tightened), naming the chmod.
chmod 770 "$home"
expect_refused "group-writable home" "$home" cc domain add f.example.com
assert_contains "$LAST_STDERR" "chmod 700 $home"
expect_refused "group-writable home, status" "$home" cc status
assert_file_mode 770 "$home"
chmod 700 "$home"
run_capture cc status
assert_eq 0 "$LAST_STATUS" "status once the home is 0700 again (stderr: $LAST_STDERR)"
echo "ok: a group-writable state directory is refused, naming chmod 700"

# 10. A stray non-empty --home is not adopted: not chmodded, its files (even ones shaped like
# certcli's temp files) not deleted, nothing created.
stray="$work/project"
mkdir -m 755 "$stray"
printf 'int main(void) { return 0; }\n' >"$stray/main.c"
printf 'notes\n' >"$stray/.notes.tmp-abcdef"
stray_before=$(snapshot "$stray")
home=$stray
expect_refused "stray --home, domain add" "$stray" cc domain add g.example.com
assert_contains "$LAST_STDERR" "not a certcli state directory"
expect_refused "stray --home, config set" "$stray" cc config set renewal.buffer_days 20
assert_eq "$stray_before" "$(snapshot "$stray")" "the stray directory after domain add and config set"
echo "ok: a stray non-empty --home is refused and left exactly as it was"

# An empty directory is adopted (and tightened to 0700).
empty="$work/empty"
mkdir -m 755 "$empty"
home=$empty
run_capture cc domain add h.example.com
assert_eq 0 "$LAST_STATUS" "domain add into an empty --home (stderr: $LAST_STDERR)"
assert_file_mode 700 "$empty"
echo "ok: an empty --home is adopted and made 0700"

# 11. A webroot whose .well-known is a link (planted by the web user): refused before anything
# is written or ordered, the target untouched.
webroot="$work/www"
mkdir -m 755 "$webroot"
ln -s "$victim_dir" "$webroot/.well-known"
home="$work/state"
expect_refused "webroot .well-known link" "$webroot/.well-known" cc domain add w.example.com --webroot "$webroot"
assert_contains "$LAST_STDERR" "symbolic link"
victims_untouched "webroot .well-known link"
rm -f -- "$webroot/.well-known"
# ... and one owned by another user.
mkdir -m 755 "$webroot/.well-known"
chown "$nobody_uid" "$webroot/.well-known"
expect_refused "webroot .well-known owned by nobody" "$webroot/.well-known" cc domain add w.example.com --webroot "$webroot"
assert_contains "$LAST_STDERR" "belongs to nobody"
rm -rf -- "$webroot/.well-known"
echo "ok: a webroot whose .well-known is a link or belongs to nobody is refused, the target untouched"

# 12. Relative --home and --webroot are used as absolute paths: a run from another directory
# finds the same state and webroot.
mkdir -m 755 "$work/rel"
(cd "$work/rel" && mkdir -m 755 www && "$CERTCLI_BIN" --home relhome domain add r.example.com --webroot www >/dev/null)
home="$work/rel/relhome"
run_capture cc domain show r.example.com --json
assert_eq 0 "$LAST_STATUS" "domain show r.example.com from another directory (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "\"$work/rel/www\"" "the webroot is stored absolute"
echo "ok: a relative --home and --webroot are stored and used as absolute paths"

# 13. Against Pebble: a webroot issuance writes only its token files and removes only them.
harness_start
use_certcli
issue_webroot="$HARNESS_DIR/www"
mkdir -p -m 755 "$issue_webroot/.well-known/acme-challenge"
printf 'not certcli\x27s\n' >"$issue_webroot/.well-known/acme-challenge/keep-me"
start_webroot_server "$issue_webroot"
run_capture certcli domain add web.certcli.test --webroot "$issue_webroot"
assert_eq 0 "$LAST_STATUS" "domain add web.certcli.test (stderr: $LAST_STDERR)"
run_capture certcli issue web.certcli.test --email a@example.com --agree-tos
assert_eq 0 "$LAST_STATUS" "issue through the webroot (stderr: $LAST_STDERR)"
assert_eq "./keep-me" "$(cd "$issue_webroot/.well-known/acme-challenge" && find . -mindepth 1)" \
  "left in acme-challenge after issuance"
assert_file_mode 700 "$home"
echo "ok: a webroot issuance against Pebble removes its own challenge files and nothing else"
