# bash completion for certcli                                   -*- shell-script -*-
#
# Install: copy to /usr/share/bash-completion/completions/certcli (or
# ~/.local/share/bash-completion/completions/certcli), or `source` it from ~/.bashrc.
# Works with or without the bash-completion package.
# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the idiom; candidates hold no blanks.

# The state directory certcli would use: --home DIR typed on the line, else $CERTCLI_HOME,
# else /var/lib/certcli for root, else ${XDG_STATE_HOME:-~/.local/state}/certcli.
_certcli_home() {
    local typed=$1
    if [[ -n $typed ]]; then
        # Expand a leading ~ the way the shell will when the command runs.
        # shellcheck disable=SC2088  # a literal ~ typed on the line, not one to expand here
        [[ $typed == "~" || $typed == "~/"* ]] && typed=$HOME${typed#\~}
        printf '%s\n' "$typed"
    elif [[ -n ${CERTCLI_HOME-} ]]; then
        printf '%s\n' "$CERTCLI_HOME"
    elif [[ ${EUID:-$(id -u)} -eq 0 ]]; then
        printf '%s\n' /var/lib/certcli
    elif [[ -n ${XDG_STATE_HOME-} ]]; then
        printf '%s\n' "$XDG_STATE_HOME/certcli"
    else
        printf '%s\n' "$HOME/.local/state/certcli"
    fi
}

# Domain names added to the state directory, one a line; _wildcard.NAME is shown as *.NAME.
_certcli_domains() {
    local dir d name
    dir=$(_certcli_home "$1")/domains
    [[ -d $dir && -r $dir ]] || return 0
    for d in "$dir"/*/; do
        [[ -d $d ]] || continue
        name=${d%/}
        name=${name##*/}
        [[ $name == _wildcard.* ]] && name="*.${name#_wildcard.}"
        printf '%s\n' "$name"
    done
}

# bash replaces only the part of the word after its last ':' (a COMP_WORDBREAKS character),
# so drop that prefix from the candidates.
_certcli_trim_colon() {
    local cur=$1 i
    [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]] || return 0
    local prefix=${cur%"${cur##*:}"}
    for i in "${!COMPREPLY[@]}"; do
        COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
    done
}

_certcli() {
    local cur words cword
    if [[ -n ${COMP_LINE-} ]]; then
        # Split the line on blanks only: bash's COMP_WORDS also breaks at = and :, which
        # would tear apart --ca=NAME and ADDR:PORT. Blanks inside quotes or after a backslash
        # do not split, so that --deploy-hook 'systemctl reload nginx' stays one word.
        local line=${COMP_LINE:0:COMP_POINT} word="" quote="" c j
        words=()
        for ((j = 0; j < ${#line}; j++)); do
            c=${line:j:1}
            if [[ $c == \\ && $quote != "'" ]] && ((j + 1 < ${#line})); then
                word+=$c
                c=${line:j+1:1}
                ((++j))
            elif [[ -n $quote ]]; then
                [[ $c == "$quote" ]] && quote=""
            elif [[ $c == [[:blank:]] ]]; then
                [[ -n $word ]] && words+=("$word")
                word=""
                continue
            elif [[ $c == \' || $c == '"' ]]; then
                quote=$c
            fi
            word+=$c
        done
        words+=("$word")
        cword=$((${#words[@]} - 1))
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    cur=${words[cword]-}

    # Global options are accepted after the command too; --version only before it.
    local global_opts="--home --directory --ca --staging --ca-bundle --verbose -v"
    local presets="letsencrypt letsencrypt-staging zerossl google google-staging buypass buypass-staging"
    local key_types="ec256 ec384 rsa2048 rsa3072 rsa4096"
    local config_keys="account.email account.key_type ca.name ca.directory certificate.key_type challenge.webroot
        challenge.http_listen renewal.buffer_days renewal.deploy_hook renewal.deploy_hook_timeout alerts.webhook alerts.days"

    # Walk the words before the cursor: which command, how many positionals, which --home.
    # opt is set when the cursor is on the value of an option.
    # key is the first positional of `config set` (what its value is completed for).
    local cmd="" sub="" key="" home="" opt="" npos=0 i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --home=*) home=${w#--home=} ;;
            --home | --directory | --ca | --ca-bundle | --san | --key-type | --account-key-type | --http-listen | --webroot | --email | --timeout | \
                --buffer-days | --deploy-hook | --random-delay | --parallel | --profile | --preferred-profile | --preferred-chain | --csr)
                if ((i + 1 == cword)); then
                    opt=$w
                    break
                fi
                [[ $w == --home ]] && home=${words[i+1]}
                ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=$w
                elif [[ ($cmd == domain || $cmd == config) && -z $sub ]]; then
                    sub=$w
                else
                    ((npos++ == 0)) && key=$w
                fi ;;
        esac
    done

    # --option=value typed as one word.
    if [[ -z $opt && $cur == --*=* ]]; then
        opt=${cur%%=*}
        cur=${cur#*=}
    fi

    case $opt in
        --ca)
            COMPREPLY=($(compgen -W "$presets" -- "$cur"))
            return ;;
        --key-type | --account-key-type)
            COMPREPLY=($(compgen -W "$key_types" -- "$cur"))
            return ;;
        --home | --webroot)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --ca-bundle)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --http-listen)
            COMPREPLY=($(compgen -W ":80 0.0.0.0:80 127.0.0.1:80 [::]:80" -- "$cur"))
            _certcli_trim_colon "$cur"
            return ;;
        --directory)
            COMPREPLY=($(compgen -W "https://" -- "$cur"))
            _certcli_trim_colon "$cur"
            compopt -o nospace 2>/dev/null
            return ;;
        --csr)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --cert | --key | --chain | --key-passphrase-file | --p12-password-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --out)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "files tar p12 der" -- "$cur"))
            return ;;
        --stdout)
            COMPREPLY=($(compgen -W "cert key chain fullchain" -- "$cur"))
            return ;;
        --san | --email | --timeout | --buffer-days | --deploy-hook | --random-delay | --parallel | --profile | --preferred-profile | --preferred-chain)
            return ;;
    esac

    local opts="" want_domain=0
    case $cmd in
        "")
            opts="--help -h --version $global_opts"
            [[ $cur != -* ]] && opts="domain issue status renew check config account revoke upload download covers limits ca" ;;
        domain)
            case $sub in
                "")
                    opts="--help -h"
                    [[ $cur != -* ]] && opts="add list remove" ;;
                add)
                    opts="--help -h --san --key-type --http-listen --webroot --buffer-days --deploy-hook --profile --preferred-profile --preferred-chain --reuse-key $global_opts"
                    # The new domain's name comes first; there is nothing to offer for it.
                    [[ $npos -eq 0 && $cur != -* ]] && return ;;
                list) opts="--help -h $global_opts" ;;
                remove)
                    opts="--help -h $global_opts"
                    ((npos == 0)) && want_domain=1 ;;
            esac ;;
        issue)
            opts="--help -h --email --agree-tos --account-key-type --http-listen --webroot --timeout --deploy-hook --profile --preferred-profile --preferred-chain --reuse-key --csr --ignore-limits --json $global_opts"
            ((npos == 0)) && want_domain=1 ;;
        status)
            opts="--help -h --json $global_opts"
            ((npos == 0)) && want_domain=1 ;;
        renew)
            # Any number of names.
            opts="--help -h --force --dry-run --random-delay --deploy-hook --timeout --parallel --reuse-key --ignore-limits --quiet -q --json $global_opts"
            want_domain=1 ;;
        check) opts="--help -h --json $global_opts" ;;
        limits) opts="--help -h --json $global_opts" ;;
        ca)
            opts="--help -h --json $global_opts"
            if [[ -z $sub && $npos -eq 0 && $cur != -* ]]; then
                opts="list show"
            elif [[ $sub == show && $npos -eq 1 && $cur != -* ]]; then
                opts="letsencrypt letsencrypt-staging zerossl google google-staging buypass buypass-staging"
            fi ;;
        account)
            opts="--help -h --account --email --agree-tos --key-type --eab-kid --eab-hmac-key --eab-alg --no-email --yes --json $global_opts"
            [[ -z $sub && $npos -eq 0 && $cur != -* ]] && opts="register show update rollover deactivate" ;;
        revoke)
            opts="--help -h --reason --with-cert-key --account --json $global_opts"
            ((npos == 0)) && want_domain=1 ;;
        upload)
            opts="--help -h --cert --key --chain --key-passphrase-file --yes --json $global_opts"
            ((npos == 0)) && want_domain=1 ;;
        download)
            opts="--help -h --out --format --stdout --version --force --p12-password-file --p12-legacy --json $global_opts"
            ((npos == 0)) && want_domain=1 ;;
        covers) opts="--help -h --json $global_opts" ;;
        config)
            case $sub in
                "")
                    opts="--help -h"
                    [[ $cur != -* ]] && opts="show set unset path" ;;
                show) opts="--help -h --json $global_opts" ;;
                path) opts="--help -h $global_opts" ;;
                set | unset)
                    opts="--help -h $global_opts"
                    if [[ $cur != -* && $npos -eq 0 ]]; then
                        COMPREPLY=($(compgen -W "$config_keys" -- "$cur"))
                        return
                    fi
                    if [[ $cur != -* && $sub == set && $npos -eq 1 ]]; then
                        case $key in
                            account.key_type | certificate.key_type) COMPREPLY=($(compgen -W "$key_types" -- "$cur")) ;;
                            ca.name) COMPREPLY=($(compgen -W "$presets" -- "$cur")) ;;
                            challenge.webroot)
                                compopt -o filenames 2>/dev/null
                                COMPREPLY=($(compgen -d -- "$cur")) ;;
                            challenge.http_listen)
                                COMPREPLY=($(compgen -W ":80 0.0.0.0:80 127.0.0.1:80 [::]:80" -- "$cur"))
                                _certcli_trim_colon "$cur" ;;
                        esac
                        return
                    fi ;;
            esac ;;
    esac

    # --http-listen and --webroot exclude each other (domain add and issue).
    for w in "${words[@]:1:cword-1}"; do
        case $w in
            --webroot | --webroot=*) opts=${opts/--http-listen /} ;;
            --http-listen | --http-listen=*) opts=${opts/--webroot /} ;;
        esac
    done

    if [[ $cur == -* || $want_domain -eq 0 ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    # A domain name. A wildcard is offered as \*.NAME, so that the shell does not glob it.
    local name line
    COMPREPLY=()
    while IFS= read -r name; do
        line=$name
        [[ $name == '*.'* ]] && line="\\$name"
        if [[ $line == "$cur"* || $name == "$cur"* ]]; then
            COMPREPLY+=("$line")
        fi
    done < <(_certcli_domains "$home")
}

complete -F _certcli certcli
