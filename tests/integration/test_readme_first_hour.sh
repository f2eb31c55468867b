#!/usr/bin/env bash
# README's "Your first hour" is run, command by command, and its output is checked (issue #23):
# every `$ certcli ...` line between the `first-hour` markers runs against Pebble, must exit 0,
# and must print what the README shows under it.
#
# What the test changes, and nothing else: every certcli gets --home (a temporary state
# directory, shown as /var/lib/certcli, root's default) and --ca-bundle (Pebble's test CA);
# `--staging` becomes --directory (this Pebble, not Let's Encrypt's staging); /var/www/html is a
# directory served by a plain web server on the port Pebble validates http-01 on, and that
# port, where it appears in a URL, is shown as if it were 80. Commands run in an empty working
# directory. Before comparing, both sides have digit runs and hexadecimal runs of 6 or more
# replaced and runs of blanks squeezed, so dates, serials, ports, URLs and column widths may
# differ from the README's, but every word, label and line must be there, in order.
#
# FIRST_HOUR_PRINT=1 prints each command's output as the README should show it (to update the
# README after an output change) and compares nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
source_dir=${CERTCLI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
work=$(mktemp -d "$HARNESS_DIR/first-hour.XXXXXX")  # fresh, also when CERTCLI_TEST_ENV reuses a harness
home="$work/home"
mkdir -p "$work/www" "$work/cwd"
start_webroot_server "$work/www"

"$HARNESS_PYTHON" - "$source_dir/README.md" "$CERTCLI_BIN" "$home" "$work/www" "$work/cwd" \
  "$CERTCLI_TEST_DIRECTORY" "$CERTCLI_TEST_CA_BUNDLE" "$CERTCLI_TEST_HTTP_PORT" "${FIRST_HOUR_PRINT:-0}" <<'PY'
import re, shlex, subprocess, sys

readme, binary, home, www, cwd, directory, bundle, http_port, print_only = sys.argv[1:]
text = open(readme, encoding="utf-8").read()
m = re.search(r"<!-- first-hour:begin -->(.*?)<!-- first-hour:end -->", text, re.S)
if not m:
    sys.exit("FAIL: README.md has no <!-- first-hour:begin --> ... <!-- first-hour:end --> section")

# (command, expected output lines) from every ```console block of the section.
steps = []
for block in re.findall(r"```console\n(.*?)```", m.group(1), re.S):
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            sys.exit(f"FAIL: output before any command in README's first hour: {line!r}")
if len(steps) < 6:
    sys.exit(f"FAIL: README's first hour has {len(steps)} commands; expected the whole walk-through")

def argv_for(command):
    words = shlex.split(command)
    if not words or words[0] != "certcli":
        sys.exit(f"FAIL: README's first hour runs something other than certcli: {command!r}")
    out = [binary, "--home", home, "--ca-bundle", bundle]
    for word in words[1:]:
        if word == "--staging":
            out += ["--directory", directory]
        else:
            out.append(word.replace("/var/www/html", www))
    return out

def as_readme(output):
    # The test's paths and port, as the README's reader would see them.
    output = output.replace(home, "/var/lib/certcli").replace(www, "/var/www/html")
    return output.replace(f":{http_port}/", "/")

def normalized(lines):
    out = []
    for line in lines:
        line = re.sub(r"[0-9A-Fa-f]*[0-9][0-9A-Fa-f]*", lambda w: "H" if len(w.group()) >= 6 else "0", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return out

failures = 0
for command, expected in steps:
    run = subprocess.run(argv_for(command), cwd=cwd, capture_output=True, text=True, timeout=300)
    actual = as_readme(run.stdout).rstrip("\n").splitlines()
    if run.returncode != 0:
        print(f"FAIL: `{command}` exited {run.returncode}\n--- stdout\n{run.stdout}--- stderr\n{run.stderr}")
        sys.exit(1)
    if print_only == "1":
        print(f"$ {command}")
        print("\n".join(actual))
        continue
    want, got = normalized(expected), normalized(actual)
    if want != got:
        failures += 1
        print(f"FAIL: `{command}` printed something other than README.md shows")
        for i in range(max(len(want), len(got))):
            w = want[i] if i < len(want) else "(nothing)"
            g = got[i] if i < len(got) else "(nothing)"
            if w != g:
                print(f"  line {i + 1}:\n    README: {w}\n    actual: {g}")
                break
        print("  (FIRST_HOUR_PRINT=1 prints what the README should show)")
    else:
        print(f"ok: `{command}` exits 0 and prints what README.md shows")
sys.exit(1 if failures else 0)
PY
echo "ok: README's first hour runs as written"
