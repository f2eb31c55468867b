#!/usr/bin/env bash
# The files in examples/ are what operators copy: they must load as written.
#  * systemd units (certcli-renew.service, certcli-renew.timer, certcli-issue@.service): the
#    house rules are checked here (sections, Type=oneshot, the sandbox, the timer's schedule),
#    every directive name must be one systemd knows (a list below, per section, so that a typo
#    such as `ProtectSytem` fails), and when `systemd-analyze` is installed, `systemd-analyze
#    verify` must accept copies of them without a single warning (it exits 0 on an unknown key,
#    so its output is checked too). The copies run $CERTCLI_BIN, since verify refuses an
#    ExecStart= binary that does not exist. This test installs nothing.
#  * certcli.cron: every line is a comment, a VAR=value line or 5 time fields and a command
#    that starts with a path to certcli and runs `renew`; MAILTO is set.
#  * the command lines of the units and the cron job are accepted by the real binary (against
#    an empty state directory, where they have nothing to do and exit 0).
#  * examples/*.sh parse (`bash -n`).
# Needs no CA. CERTCLI_EXAMPLES_DIR points it at another copy of examples/ (to see it fail).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
source_dir=${CERTCLI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
examples=${CERTCLI_EXAMPLES_DIR:-$source_dir/examples}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

problems=()
problem() { problems+=("$*"); }
report() {  # report WHAT — fail with every problem found so far, or say ok
  if ((${#problems[@]})); then
    printf 'FAIL: %s\n' "${problems[@]}" >&2
    fail "$1: ${#problems[@]} problem(s)"
  fi
  echo "ok: $1"
}

# Directive names systemd 252 accepts, per section: the ones the examples use and their usual
# neighbours. A directive that is right but missing here is added here, not worked around.
declare -A known
known[Unit]="Description Documentation Wants Requires Requisite BindsTo PartOf Upholds Conflicts
  Before After OnFailure OnSuccess OnFailureJobMode StartLimitIntervalSec StartLimitBurst
  StartLimitAction DefaultDependencies RefuseManualStart RefuseManualStop JobTimeoutSec
  ConditionPathExists ConditionPathIsDirectory ConditionFileIsExecutable ConditionACPower
  ConditionVirtualization ConditionHost AssertPathExists AssertFileIsExecutable"
known[Service]="Type ExecStart ExecStartPre ExecStartPost ExecCondition ExecReload ExecStop
  ExecStopPost User Group DynamicUser SupplementaryGroups Environment EnvironmentFile
  PassEnvironment UnsetEnvironment WorkingDirectory RootDirectory Restart RestartSec
  RestartPreventExitStatus RestartForceExitStatus SuccessExitStatus RemainAfterExit
  TimeoutSec TimeoutStartSec TimeoutStopSec TimeoutAbortSec RuntimeMaxSec WatchdogSec
  KillMode KillSignal SendSIGKILL StateDirectory StateDirectoryMode RuntimeDirectory
  RuntimeDirectoryMode CacheDirectory CacheDirectoryMode LogsDirectory LogsDirectoryMode
  ConfigurationDirectory ConfigurationDirectoryMode UMask AmbientCapabilities
  CapabilityBoundingSet NoNewPrivileges SecureBits ProtectSystem ProtectHome ReadWritePaths
  ReadOnlyPaths InaccessiblePaths ExecPaths NoExecPaths TemporaryFileSystem BindPaths
  BindReadOnlyPaths PrivateTmp PrivateDevices PrivateNetwork PrivateUsers PrivateIPC
  PrivateMounts ProtectKernelTunables ProtectKernelModules ProtectKernelLogs
  ProtectControlGroups ProtectClock ProtectHostname ProtectProc ProcSubset
  RestrictAddressFamilies RestrictNamespaces RestrictRealtime RestrictSUIDSGID
  RestrictFileSystems LockPersonality MemoryDenyWriteExecute SystemCallArchitectures
  SystemCallFilter SystemCallErrorNumber SystemCallLog RemoveIPC KeyringMode IPAddressAllow
  IPAddressDeny DevicePolicy DeviceAllow Nice CPUSchedulingPolicy CPUSchedulingPriority
  IOSchedulingClass IOSchedulingPriority CPUQuota MemoryMax MemoryHigh TasksMax LimitNOFILE
  StandardInput StandardOutput StandardError SyslogIdentifier SyslogLevel LogLevelMax
  LoadCredential SetCredential"
known[Timer]="OnCalendar OnActiveSec OnBootSec OnStartupSec OnUnitActiveSec OnUnitInactiveSec
  OnClockChange OnTimezoneChange AccuracySec RandomizedDelaySec FixedRandomDelay Persistent
  WakeSystem RemainAfterElapse Unit"
known[Install]="WantedBy RequiredBy Alias Also DefaultInstance"

# unit_value FILE SECTION KEY — the last value KEY has in SECTION (systemd's rule for one-value
# settings); empty when it is not set.
unit_value() {
  awk -v want="[$2]" -v key="$3" '
    /^[ \t]*[#;]/ || /^[ \t]*$/ { next }
    /^[ \t]*\[/ { section = $0; gsub(/[ \t]/, "", section); next }
    section == want { line = $0; sub(/^[ \t]+/, "", line); k = line; sub(/[ \t]*=.*/, "", k)
                      if (k == key) { v = line; sub(/^[^=]*=[ \t]*/, "", v); found = v } }
    END { print found }' "$1"
}

# lint_unit FILE SECTION... — the sections FILE must have, in any order; no other section; every
# line a comment, a section header or Key=value with a Key known for its section; no line
# continued with a trailing backslash into a comment.
lint_unit() {
  local file=$1 name section key lineno=0 line current="" seen=" "
  shift
  name=$(basename "$file")
  [[ -f "$file" ]] || { problem "$name: missing"; return; }
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z "$line" || "$line" == \#* || "$line" == \;* ]] && continue
    if [[ "$line" =~ ^\[([A-Za-z]+)\][[:space:]]*$ ]]; then
      current=${BASH_REMATCH[1]}
      [[ " $* " == *" $current "* ]] || problem "$name:$lineno: section [$current] does not belong in this unit"
      [[ "$seen" != *" $current "* ]] || problem "$name:$lineno: section [$current] appears twice"
      seen+="$current "
      continue
    fi
    if [[ ! "$line" =~ ^([A-Za-z][A-Za-z0-9]*)[[:space:]]*= ]]; then
      problem "$name:$lineno: not a Key=value line: $line"
      continue
    fi
    key=${BASH_REMATCH[1]}
    if [[ -z "$current" ]]; then
      problem "$name:$lineno: $key= before any section"
      continue
    fi
    [[ " $(tr -s ' \n' '  ' <<<"${known[$current]:-}") " == *" $key "* ]] ||
      problem "$name:$lineno: unknown directive '$key' in [$current] (a typo? if it is right, add it to the list in $(basename "$0"))"
  done <"$file"
  for section in "$@"; do
    [[ "$seen" == *" $section "* ]] || problem "$name: no [$section] section"
  done
}

# expect FILE SECTION KEY VALUE — KEY= in SECTION must be VALUE.
expect() {
  local got
  got=$(unit_value "$1" "$2" "$3")
  [[ "$got" == "$4" ]] || problem "$(basename "$1"): [$2] $3= is '${got}', expected '$4'"
}
# expect_set FILE SECTION KEY — KEY= in SECTION must be set to something.
expect_set() {
  [[ -n "$(unit_value "$1" "$2" "$3")" ]] || problem "$(basename "$1"): [$2] $3= is not set"
}

service=$examples/certcli-renew.service
timer=$examples/certcli-renew.timer
issue=$examples/certcli-issue@.service

lint_unit "$service" Unit Service
lint_unit "$timer" Unit Timer Install
lint_unit "$issue" Unit Service
for unit in "$service" "$issue"; do
  [[ -f "$unit" ]] || continue
  expect "$unit" Service Type oneshot
  expect "$unit" Service ProtectSystem strict
  expect "$unit" Service ReadWritePaths /var/lib/certcli
  expect "$unit" Service NoNewPrivileges yes
  expect "$unit" Service PrivateTmp yes
  expect "$unit" Service ProtectHome yes
  expect "$unit" Service UMask 0077
  exec_start=$(unit_value "$unit" Service ExecStart)
  [[ "$exec_start" == /*/certcli\ * ]] || problem "$(basename "$unit"): ExecStart= does not run certcli by its absolute path: $exec_start"
done
if [[ -f "$service" ]]; then
  expect "$service" Service ExecStart "/usr/local/bin/certcli renew --quiet"
  expect "$service" Service SuccessExitStatus ""   # exit 11 and 12 must leave the unit failed
  expect "$service" Service Restart ""             # the timer is the retry; certcli backs off
fi
if [[ -f "$timer" ]]; then
  expect_set "$timer" Timer OnCalendar
  expect_set "$timer" Timer RandomizedDelaySec
  expect "$timer" Timer Persistent true
  expect "$timer" Install WantedBy timers.target
  timer_unit=$(unit_value "$timer" Timer Unit)
  [[ -f "$examples/${timer_unit:-certcli-renew.service}" ]] ||
    problem "certcli-renew.timer: starts ${timer_unit:-certcli-renew.service}, which examples/ does not have"
fi
report "the units have their sections, the sandbox and the schedule, and only directives systemd knows"

# systemd's own parser, when it is here: on copies whose ExecStart= is a binary that exists.
if command -v systemd-analyze >/dev/null 2>&1; then
  for unit in "$service" "$timer" "$issue"; do
    sed "s|^\(ExecStart=\)/usr/local/bin/certcli|\1$CERTCLI_BIN|" "$unit" >"$work/$(basename "$unit")"
  done
  verify() {  # verify UNIT... — no output and exit 0, or a problem
    local out rc=0
    out=$(cd "$work" && systemd-analyze verify --man=no "$@" 2>&1) || rc=$?
    if ((rc != 0)) || [[ -n "$out" ]]; then problem "systemd-analyze verify $* (exit $rc):"$'\n'"$out"; fi
  }
  verify "$work/certcli-renew.service" "$work/certcli-renew.timer"
  verify "$work/certcli-issue@.service:certcli-issue@example.com.service"
  next=$(systemd-analyze calendar "$(unit_value "$timer" Timer OnCalendar)" 2>&1) ||
    problem "systemd-analyze calendar rejects OnCalendar=: $next"
  report "systemd-analyze verify accepts the units without a warning"
else
  echo "skip: systemd-analyze is not installed (Debian package systemd); the checks above stand in for it"
fi

# The cron job: comments, VAR=value lines, and jobs of 5 time fields and a command.
cron=$examples/certcli.cron
jobs=0 mailto=0 lineno=0
field_ok() {  # field_ok VALUE MIN MAX — *, N, N-M, lists of those, each optionally /STEP
  local item lo hi
  [[ "$1" =~ ^[0-9*,/-]+$ ]] || return 1
  IFS=, read -ra items <<<"$1"
  ((${#items[@]})) || return 1
  for item in "${items[@]}"; do
    [[ "$item" =~ ^(\*|([0-9]+)(-([0-9]+))?)(/([1-9][0-9]*))?$ ]] || return 1
    [[ "${BASH_REMATCH[1]}" == "*" ]] && continue
    lo=$((10#${BASH_REMATCH[2]})) hi=$((10#${BASH_REMATCH[4]:-${BASH_REMATCH[2]}}))
    ((lo >= $2 && hi <= $3 && lo <= hi)) || return 1
  done
}
if [[ -f "$cron" ]]; then
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*= ]]; then
      [[ "${BASH_REMATCH[1]}" == MAILTO ]] && mailto=1
      continue
    fi
    read -r minute hour dom month dow command <<<"$line"
    where="certcli.cron:$lineno"
    if [[ -z "$command" ]]; then problem "$where: fewer than 5 time fields and a command: $line"; continue; fi
    field_ok "$minute" 0 59 || problem "$where: minute '$minute' is not 0-59"
    field_ok "$hour" 0 23 || problem "$where: hour '$hour' is not 0-23"
    field_ok "$dom" 1 31 || problem "$where: day of month '$dom' is not 1-31"
    field_ok "$month" 1 12 || problem "$where: month '$month' is not 1-12"
    field_ok "$dow" 0 7 || problem "$where: day of week '$dow' is not 0-7"
    read -r program args <<<"$command"
    [[ "$program" == /*/certcli ]] || problem "$where: the command does not start with a path to certcli: $command"
    [[ " $args " == *" renew "* ]] || problem "$where: the command does not run 'certcli renew': $command"
    [[ " $args " == *" --quiet "* ]] || problem "$where: without --quiet, cron mails every run's output"
    jobs=$((jobs + 1))
    cron_args=$args
  done <"$cron"
  ((jobs == 1)) || problem "certcli.cron: $jobs jobs, expected one"
  ((mailto)) || problem "certcli.cron: no MAILTO= line, so failures mail no one in particular"
else
  problem "certcli.cron: missing"
fi
report "the cron line has 5 valid time fields and runs certcli renew --quiet, with MAILTO"

# The real binary accepts those command lines; with an empty state they exit 0 at once
# (--random-delay waits only before a renewal) and leave no state behind.
run_line() {  # run_line WHAT ARGS — ARGS word-split as systemd and cron do for these lines
  local home="$work/home-$1"
  # shellcheck disable=SC2086
  run_capture timeout 60 "$CERTCLI_BIN" --home "$home" $2
  ((LAST_STATUS == 0)) || problem "$1: 'certcli $2' exited $LAST_STATUS: $LAST_STDERR"
  [[ -z "$LAST_STDOUT" ]] || problem "$1: 'certcli $2' printed with nothing to do: $LAST_STDOUT"
  [[ ! -e "$home" ]] || problem "$1: 'certcli $2' created the state directory with nothing to do"
}
[[ -f "$service" ]] && run_line certcli-renew.service "$(unit_value "$service" Service ExecStart | cut -d' ' -f2-)"
[[ -n "${cron_args:-}" ]] && run_line certcli.cron "$cron_args"
report "certcli accepts the units' and the cron job's command lines"

for script in "$examples"/*.sh; do
  [[ -e "$script" ]] || continue
  err=$(bash -n "$script" 2>&1) || problem "bash -n $(basename "$script"): $err"
done
report "examples/*.sh parse"
