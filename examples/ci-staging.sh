#!/usr/bin/env bash
# CI step: issue a certificate from Let's Encrypt *staging* and check it, then rehearse its
# renewal (`certcli renew --dry-run`).
#
# Proves end to end that DNS, port 80 and certcli work for a name, and that the timer's renewal
# would work too, without spending the production CA's rate limits (staging certificates are not
# trusted by browsers).
#
# Needs: certcli on PATH; CERTCLI_DOMAIN, a name whose A/AAAA records point at this runner,
# with port 80 reachable from the internet (certcli answers http-01 itself); CERTCLI_EMAIL.
# Optional: CERTCLI_HTTP_LISTEN (default :80), CERTCLI_MIN_DAYS (default 30).
#
# certcli's exit statuses are stable and documented (certcli --help, EXIT STATUS in
# certcli(1)); this step fails with certcli's own status, so the job log says which kind of
# failure it was.
set -euo pipefail

domain=${CERTCLI_DOMAIN:?set CERTCLI_DOMAIN to a name that resolves to this runner}
email=${CERTCLI_EMAIL:?set CERTCLI_EMAIL to the address for the CA account}
listen=${CERTCLI_HTTP_LISTEN:-:80}
min_days=${CERTCLI_MIN_DAYS:-30}

# A state directory of the job's own (cache it between runs to reuse the staging account).
export CERTCLI_HOME=${CERTCLI_HOME:-$PWD/.certcli-state}

# Adding is idempotent: the same names again succeed and change nothing.
certcli domain add "$domain"

# Progress goes to stderr (visible in the job log); the JSON result to stdout. Add --verbose
# to log every HTTP request made to the CA.
rc=0
certcli --ca letsencrypt --staging issue "$domain" \
    --agree-tos --email "$email" --http-listen "$listen" --json >certcli-result.json || rc=$?
if ((rc != 0)); then
    case $rc in
        2) why="wrong command line or missing confirmation (see certcli: error/hint above)" ;;
        3) why="invalid input (name, file or value)" ;;
        5) why="state directory unreadable, damaged or locked" ;;
        6) why="the CA could not be reached (network, proxy, DNS)" ;;
        7) why="the CA refused the request" ;;
        8) why="http-01 failed: is port 80 of $domain reaching this runner?" ;;
        10) why="the CA asked to wait longer than --timeout; run the job again later" ;;
        *) why="see certcli's message above" ;;
    esac
    echo "::error::certcli issue failed with exit status $rc: $why" >&2
    # The recorded error and its fix, for the log.
    certcli status "$domain" >&2 || true
    exit "$rc"
fi

# Parse the result (expires_at is the certificate's not_after). With jq instead:
# expires_at=$(jq -r .expires_at certcli-result.json)
expires_at=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["expires_at"])' <certcli-result.json)
echo "issued for $domain by staging; expires at $expires_at"

# Fail unless the certificate is valid for at least $min_days more days.
python3 - "$expires_at" "$min_days" <<'PY'
import datetime, sys
expires = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
left = expires - datetime.datetime.now(datetime.timezone.utc)
if left < datetime.timedelta(days=int(sys.argv[2])):
    sys.exit(f"certificate expires in {left}, less than {sys.argv[2]} days")
PY

# The files a deploy step would use.
live=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["live"])' <certcli-result.json)
ls -l "$live/"

# Rehearse the renewal the timer will do: --dry-run runs the whole flow (new order, http-01,
# finalize, download) against the staging CA and keeps nothing: the issued certificate, its
# record and the live files stay as they are. --force, since a fresh certificate is not due.
# Exit 11 is "a renewal failed"; each domain's outcome is in domains[].action. With jq instead:
# jq -r --arg d "$domain" '.domains[] | select(.domain == $d) | .action' certcli-renew.json
rc=0
certcli --ca letsencrypt --staging renew "$domain" --force --dry-run --json >certcli-renew.json || rc=$?
python3 - certcli-renew.json "$domain" "$rc" <<'PY' || exit $((rc != 0 ? rc : 1))
import json, sys
domain, rc = sys.argv[2], int(sys.argv[3])
with open(sys.argv[1]) as f:
    report = json.load(f)
if "error" in report:  # certcli refused the run as a whole (exit 2, 5, ...)
    sys.exit(f"::error::certcli renew --dry-run failed with exit status {rc}: {report['error']['message']}")
for d in report["domains"]:
    print(f"renew dry run: {d['domain']}: {d['action']} ({d['reason']})")
actions = {d["domain"]: d["action"] for d in report["domains"]}
if actions.get(domain) != "renewed":
    sys.exit(f"::error::the renewal rehearsal of {domain} did not succeed (exit status {rc}): "
             f"{actions.get(domain, 'not reported')}")
print(f"renew dry run: {report['acme_requests']} requests to the staging CA")
PY
