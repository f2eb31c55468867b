#!/usr/bin/env bash
# The man page and the bash, zsh and fish completions against the binary: every command and
# every option `--help` shows, on every level, must be in man/certcli.1 and must be offered by
# the completion scripts in completions/, run in real shells. So a command or option added
# without its man page section fails here. Also: option values (key types, CA presets) and the
# managed domains are offered, and completions/ holds what `certcli completions SHELL` prints.
# Needs no CA.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
source_dir=${CERTCLI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
man_page="$source_dir/man/certcli.1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The scripts run the certcli on the command line; make it this build's.
mkdir -p "$work/bin"
ln -s "$CERTCLI_BIN" "$work/bin/certcli"
export PATH="$work/bin:$PATH"

# --- What --help shows -----------------------------------------------------------------------
# "path<TAB>--option" for every option, "path" for every command, walking --help recursively.
commands=()
declare -A options_of=()
walk() {
  local path=$1 help line in_subcommands=0 sub
  # shellcheck disable=SC2086  # the path is one word per command level
  help=$(certcli $path --help) || fail "certcli $path --help failed"
  commands+=("$path")
  options_of["k:$path"]=""
  while IFS= read -r line; do
    if [[ $line == "Subcommands:" ]]; then in_subcommands=1; continue; fi
    [[ -z $line ]] && in_subcommands=0
    # Option lines are indented by two spaces; wrapped descriptions by many more.
    if [[ $line =~ ^\ \ (-[A-Za-z0-9],)?(--[a-z0-9][a-z0-9-]*) ]]; then
      options_of["k:$path"]+=" ${BASH_REMATCH[2]}"
    elif ((in_subcommands)) && [[ $line =~ ^\ \ ([a-z][a-z0-9-]*)(\ |$) ]]; then
      sub=${BASH_REMATCH[1]}
      walk "${path:+$path }$sub"
    fi
  done <<<"$help"
}
walk ""
((${#commands[@]} > 20)) || fail "walked only ${#commands[@]} commands: ${commands[*]}"
echo "ok: --help lists ${#commands[@]} commands (with certcli itself)"

# --- The man page ----------------------------------------------------------------------------
# As plain text: \- is a dash, \fB \fI \fR \fP only change the font.
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$man_page")
man_sections=$(grep '^\.SS' <<<"$man_text" | sed -e 's/^\.SS *//' -e 's/"//g')
missing=()
for path in "${commands[@]}"; do
  if [[ -n $path ]]; then
    read -r -a words <<<"$path"
    # A section starts with the command's first word and names every further word of it
    # ("domain set NAME ...", "account register | show | update ..."), or an entry of a
    # command's section names the whole command (".TP" ".B pin add").
    found=0
    grep -qxE "\.(B|BI|BR) \"?${path}( .*|\")?" <<<"$man_text" && found=1
    while IFS= read -r section; do
      [[ $section == "${words[0]}" || $section == "${words[0]} "* ]] || continue
      found=1
      for w in "${words[@]:1}"; do
        [[ " ${section//|/ } " == *" $w "* ]] || found=0
      done
      ((found)) && break
    done < <(((found)) || printf '%s\n' "$man_sections")
    ((found)) || missing+=("command '$path' (no .SS section for it)")
  fi
  for option in ${options_of["k:$path"]}; do
    grep -qE -- "(^|[^a-z0-9-])${option}([^a-z0-9-]|\$)" <<<"$man_text" ||
      missing+=("option $option of 'certcli${path:+ $path}'")
  done
done
if ((${#missing[@]})); then
  printf '  missing from man/certcli.1: %s\n' "${missing[@]}" >&2
  fail "${#missing[@]} commands or options that --help shows are not in man/certcli.1"
fi
echo "ok: man/certcli.1 has every command and option --help shows"

# --- completions/ is what the binary prints --------------------------------------------------
for pair in bash:certcli.bash zsh:_certcli fish:certcli.fish; do
  shell=${pair%%:*}
  file="$source_dir/completions/${pair#*:}"
  diff -u "$file" <(certcli completions "$shell") >"$work/diff" ||
    fail "completions/${pair#*:} differs from 'certcli completions $shell' (regenerate it):"$'\n'"$(cat "$work/diff")"
done
echo "ok: completions/ holds what 'certcli completions bash|zsh|fish' prints"

# A state directory with three managed domains (and a removed one, which is not offered).
home="$work/home"
for dir in example.com _wildcard.example.org ip-2001-db8--1 ip-192.0.2.7; do
  mkdir -p "$home/domains/$dir"
  : >"$home/domains/$dir/domain.toml"
done
mkdir -p "$home/removed/gone.example.net.20261128T000000Z"
export CERTCLI_HOME="$home"
touch "$work/request.csr"

# --- bash ------------------------------------------------------------------------------------
# Completes LINE (the cursor at its end) the way bash does on Tab: COMP_* set, the function
# `complete -p certcli` names called; prints COMPREPLY one a line.
bash_complete() {
  bash --norc --noprofile -c '
    source "$1"
    spec=$(complete -p certcli) || exit 3
    [[ $spec == "complete -F _certcli certcli" ]] || { echo "unexpected spec: $spec" >&2; exit 3; }
    COMP_LINE=$2
    COMP_POINT=${#COMP_LINE}
    read -r -a COMP_WORDS <<<"$COMP_LINE"
    [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_TYPE=9
    cd "$3"
    _certcli certcli "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"
  ' bash "$source_dir/completions/certcli.bash" "$1" "$work"
}

# Every word of `expected` must be offered for `line`, by the shell function `complete_in`.
expect_offered() {
  local shell=$1 line=$2 got word
  shift 2
  got=$("${shell}_complete" "$line") || fail "$shell completion of '$line' failed"
  for word in "$@"; do
    grep -qxF -- "$word" <<<"$got" || fail "$shell: '$line<TAB>' does not offer '$word'; it offers:"$'\n'"$got"
  done
}
expect_not_offered() {
  local shell=$1 line=$2 got word
  shift 2
  got=$("${shell}_complete" "$line") || fail "$shell completion of '$line' failed"
  for word in "$@"; do
    ! grep -qxF -- "$word" <<<"$got" || fail "$shell: '$line<TAB>' offers '$word'; it offers:"$'\n'"$got"
  done
}

# Every command and every option --help shows, offered where it can be typed.
check_tree() {
  local shell=$1 path subs
  for path in "${commands[@]}"; do
    subs=()
    for other in "${commands[@]}"; do
      if [[ -n $other && ${other% *} == "$path" && $other != "$path" ]] ||
        [[ -z $path && -n $other && $other != *" "* ]]; then
        subs+=("${other##* }")
      fi
    done
    ((${#subs[@]})) && expect_offered "$shell" "certcli${path:+ $path} " "${subs[@]}"
    # shellcheck disable=SC2086  # one word per option
    expect_offered "$shell" "certcli${path:+ $path} -" ${options_of["k:$path"]}
  done
}

# The values: key types, CA presets, config keys, managed domains; files where a path goes.
check_values() {
  local shell=$1 wildcard=$2
  expect_offered "$shell" "certcli domain add new.example --key-type " ec256 ec384 rsa2048 rsa3072 rsa4096
  expect_offered "$shell" "certcli --ca " letsencrypt letsencrypt-staging zerossl google buypass
  expect_offered "$shell" "certcli ca show " letsencrypt buypass-staging
  expect_offered "$shell" "certcli config set renewal." renewal.buffer_days renewal.deploy_hook
  expect_offered "$shell" "certcli status " example.com "$wildcard" 2001:db8::1 192.0.2.7
  expect_not_offered "$shell" "certcli status " gone.example.net _wildcard.example.org ip-2001-db8--1
  expect_offered "$shell" "certcli issue exa" example.com
  expect_offered "$shell" "certcli activity --domain " example.com
  expect_offered "$shell" "certcli renew example.com " "$wildcard"
  expect_not_offered "$shell" "certcli domain add " example.com
  expect_offered "$shell" "certcli issue example.com --csr req" request.csr
  # --home on the line is where the domains are read from.
  mkdir -p "$work/other/domains/other.example"
  : >"$work/other/domains/other.example/domain.toml"
  expect_offered "$shell" "certcli --home $work/other status " other.example
  expect_not_offered "$shell" "certcli --home $work/other status " example.com
}

check_tree bash
check_values bash '\*.example.org'
# One word, --option=value: bash replaces only what follows the '='.
expect_offered bash "certcli --ca=letsencrypt-s" letsencrypt-staging
expect_offered bash "certcli domain add new.example --key-type=rsa" rsa2048 rsa3072 rsa4096
echo "ok: bash offers every command, option, key type, CA preset and managed domain"

# --- fish ------------------------------------------------------------------------------------
fish_complete() {
  # `complete -C LINE` is what fish runs on Tab; the description after a tab is dropped.
  # shellcheck disable=SC2016  # fish expands $argv
  HOME="$work" fish --no-config -c 'source $argv[1]; cd $argv[3]; complete -C $argv[2]' \
    "$source_dir/completions/certcli.fish" "$1" "$work" | cut -f1
}
# zsh: the real completion system (compinit) in a pseudo-terminal, Tab typed; compadd is wrapped
# to print the matches it is given (the technique of zsh-capture-completion). The markers are
# written split in two, so that the terminal's echo of the input never matches them.
cat >"$work/capture.zsh" <<'ZSH'
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; cd $2"
zpty -w z 'compadd () { local -a __hits; builtin compadd -A __hits "$@"; local r=$?; print -r -- "<<C"">>"; print -rl -- $__hits; print -r -- "<<E"">>"; builtin compadd "$@"; return r }'
zpty -w z '__done () { print -r -- "<<DO""NE>>" }; comppostfuncs=(__done)'
zpty -w z "bindkey '^I' complete-word"
# zsh may drop what was typed ahead while it set up: the line goes in once it is ready.
zpty -w z 'print -r -- "<<RE""ADY>>"'
zpty -r z out '*<<READY>>*' || exit 4
zpty -w z "$3"$'\t'
zpty -r z out '*<<DONE>>*' || exit 4
zpty -d z
print -r -- "$out"
ZSH
zsh_complete() {
  local out
  out=$(HOME="$work" timeout 30 zsh -f "$work/capture.zsh" "$source_dir/completions" "$work" "$1") || return 1
  tr -d '\r' <<<"$out" | awk '/<<C>>/ { on = 1; next } /<<E>>/ { on = 0 } on' | sort -u
}

if command -v fish >/dev/null 2>&1; then
  check_tree fish
  check_values fish '*.example.org'
  echo "ok: fish offers every command, option, key type, CA preset and managed domain"
else
  echo "note: fish is not installed (scripts/install-deps.sh installs it); its completions were not run"
fi

if command -v zsh >/dev/null 2>&1 && zsh -f -c 'zmodload zsh/zpty' 2>/dev/null; then
  check_tree zsh
  check_values zsh '\*.example.org'
  echo "ok: zsh offers every command, option, key type, CA preset and managed domain"
else
  echo "note: zsh (with zsh/zpty) is not installed (scripts/install-deps.sh installs it); its completions were not run"
fi
