# fish completion for certcli.
#
# Install: copy to ~/.config/fish/completions/certcli.fish, or to the vendor completions
# directory (pkg-config --variable completionsdir fish; often
# /usr/share/fish/vendor_completions.d/).

# The state directory certcli would use: --home DIR typed on the line, else $CERTCLI_HOME,
# else /var/lib/certcli for root, else ${XDG_STATE_HOME:-~/.local/state}/certcli.
function __certcli_home
    set -l tokens (commandline -opc)
    set -l typed
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case --home
                set i (math $i + 1)
                if test $i -le (count $tokens)
                    set typed $tokens[$i]
                end
            case '--home=*'
                set typed (string replace -- --home= '' $tokens[$i])
        end
        set i (math $i + 1)
    end
    if test -n "$typed"
        string replace -r -- '^~(?=/|$)' $HOME $typed
    else if set -q CERTCLI_HOME; and test -n "$CERTCLI_HOME"
        echo $CERTCLI_HOME
    else if test (id -u) -eq 0
        echo /var/lib/certcli
    else if set -q XDG_STATE_HOME; and test -n "$XDG_STATE_HOME"
        echo $XDG_STATE_HOME/certcli
    else
        echo $HOME/.local/state/certcli
    end
end

# Domain names added to the state directory; _wildcard.NAME is shown as *.NAME.
function __certcli_domains
    set -l dir (__certcli_home)/domains
    test -d $dir -a -r $dir; or return 0
    for d in $dir/*/
        string replace -r -- '^_wildcard\.' '*.' (basename $d)
    end
end

# The words before the cursor that are neither options nor option values.
function __certcli_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case --home --directory --ca --ca-bundle --san --key-type --account-key-type --http-listen --webroot --email --timeout \
                --buffer-days --deploy-hook --random-delay --parallel --profile --preferred-profile --preferred-chain --csr
                set skip 1
            case '-*'
            case '*'
                echo $t
        end
    end
end

# True when the non-option words so far are exactly $argv.
function __certcli_at
    set -l args (__certcli_args)
    test (count $args) -eq (count $argv); or return 1
    test (count $argv) -eq 0; and return 0
    test "$args" = "$argv"
end

# True when the command is $argv[1] and no domain name has been given yet.
function __certcli_wants_domain
    set -l args (__certcli_args)
    test (count $args) -eq 1 -a "$args[1]" = "$argv[1]"
end

# True when the command (or domain subcommand) is $argv.
function __certcli_in
    set -l args (__certcli_args)
    set -l n (count $argv)
    test (count $args) -ge $n; or return 1
    test "$args[1..$n]" = "$argv"
end

complete -c certcli -f

# Global options, accepted before or after the command.
complete -c certcli -s h -l help -d 'Print help and exit'
complete -c certcli -n '__certcli_at' -l version -d 'Print the version and exit'
complete -c certcli -l home -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c certcli -l directory -x -d 'ACME directory URL of the CA'
complete -c certcli -l ca -x -d 'CA preset' -a '
    letsencrypt\t"Let\'s Encrypt (the default)"
    letsencrypt-staging\t"Let\'s Encrypt staging"
    zerossl\tZeroSSL
    google\t"Google Trust Services"
    google-staging\t"Google Trust Services staging"
    buypass\tBuypass
    buypass-staging\t"Buypass staging"'
complete -c certcli -l staging -d "Use the preset's staging environment"
complete -c certcli -l ca-bundle -r -F -d 'PEM trust anchors replacing the system store, for a private CA'
complete -c certcli -s v -l verbose -d 'Show every HTTP request made to the CA'

# Commands.
complete -c certcli -n '__certcli_at' -a domain -d 'Manage the domains certcli keeps certificates for'
complete -c certcli -n '__certcli_at' -a issue -d 'Obtain a certificate for an added domain from the CA'
complete -c certcli -n '__certcli_at' -a status -d "Show each domain's certificate status (or one domain's)"
complete -c certcli -n '__certcli_at' -a renew -d 'Renew every certificate that is due (what a timer runs)'
complete -c certcli -n '__certcli_at' -a check -d 'Expiry checks and alerts only, with no request to the CA'
complete -c certcli -n '__certcli_at' -a config -d 'Show or change the defaults in config.toml'
complete -c certcli -n '__certcli_at' -a account -d 'Register, show, update, roll over or deactivate the ACME account'
complete -c certcli -n '__certcli_at' -a revoke -d "Revoke a domain's live certificate"
complete -c certcli -n '__certcli_at' -a upload -d 'Install your own certificate (checked); the domain becomes self-managed'
complete -c certcli -n '__certcli_at' -a download -d 'Write a certificate and its key as files, tar, PKCS#12 or DER'
complete -c certcli -n '__certcli_at' -a covers -d 'Which managed certificates cover a host name'
complete -c certcli -n '__certcli_at' -a limits -d 'What is left of each rate-limit budget (no request to the CA)'
complete -c certcli -n '__certcli_at' -a ca -d 'List the CA presets, or show what one CA offers'

# limits; ca list | show [PRESET|URL]; --ignore-limits on issue and renew
complete -c certcli -n '__certcli_in limits' -l json -d 'Print JSON'
complete -c certcli -n '__certcli_at ca' -a 'list show' -d 'CA command'
complete -c certcli -n '__certcli_at ca show' -a 'letsencrypt letsencrypt-staging zerossl google google-staging buypass buypass-staging' -d 'CA preset'
complete -c certcli -n '__certcli_in ca' -l json -d 'Print JSON'
complete -c certcli -n '__certcli_in issue' -l ignore-limits -d "Order even past the CA's rate limit as certcli counts it"
complete -c certcli -n '__certcli_in renew' -l ignore-limits -d "Renew even past the CA's rate limit as certcli counts it"

# account register | show | update | rollover | deactivate; revoke NAME
complete -c certcli -n '__certcli_at account' -a 'register show update rollover deactivate' -d 'Account command'
complete -c certcli -n '__certcli_in account' -l account -x -d 'A named account at the CA instead of its default one'
complete -c certcli -n '__certcli_in account' -l email -x -d 'Contact e-mail address (repeatable)'
complete -c certcli -n '__certcli_in account' -l agree-tos -d "Agree to the CA's terms of service"
complete -c certcli -n '__certcli_in account' -l key-type -x -a 'ec256 ec384 rsa2048 rsa3072 rsa4096' -d 'Account key type'
complete -c certcli -n '__certcli_in account' -l eab-kid -x -d 'External Account Binding key identifier'
complete -c certcli -n '__certcli_in account' -l eab-hmac-key -x -d "External Account Binding HMAC key (base64url, '\$ENV:VAR' or '\$FILE:/path')"
complete -c certcli -n '__certcli_in account' -l eab-alg -x -a 'HS256 HS384 HS512' -d 'External Account Binding MAC'
complete -c certcli -n '__certcli_in account' -l yes -d 'Confirm deactivation'
complete -c certcli -n '__certcli_in account' -l json -d 'Print JSON'
complete -c certcli -n '__certcli_wants_domain revoke' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in revoke' -l reason -x -a 'keyCompromise superseded cessationOfOperation affiliationChanged' -d 'Revocation reason'
complete -c certcli -n '__certcli_in revoke' -l with-cert-key -d "Sign with the certificate's own key"
complete -c certcli -n '__certcli_in revoke' -l account -x -d 'A named account at the CA'
complete -c certcli -n '__certcli_in revoke' -l json -d 'Print JSON'

# upload NAME; download NAME; covers HOST
complete -c certcli -n '__certcli_wants_domain upload' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in upload' -l cert -r -F -d 'The certificate, PEM or DER'
complete -c certcli -n '__certcli_in upload' -l key -r -F -d 'Its private key'
complete -c certcli -n '__certcli_in upload' -l chain -r -F -d 'The intermediates'
complete -c certcli -n '__certcli_in upload' -l key-passphrase-file -r -F -d 'File with the passphrase of an encrypted key'
complete -c certcli -n '__certcli_in upload' -l yes -d 'Confirm a change of names or a new domain'
complete -c certcli -n '__certcli_in upload' -l json -d 'Print JSON'
complete -c certcli -n '__certcli_wants_domain download' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in download' -l out -r -a '(__fish_complete_directories)' -d 'Directory to write into'
complete -c certcli -n '__certcli_in download' -l format -x -a 'files tar p12 der' -d 'What to write'
complete -c certcli -n '__certcli_in download' -l stdout -x -a 'cert key chain fullchain' -d 'Print one part as PEM'
complete -c certcli -n '__certcli_in download' -l version -x -d 'An archived version'
complete -c certcli -n '__certcli_in download' -l force -d 'Replace existing files'
complete -c certcli -n '__certcli_in download' -l p12-password-file -r -F -d 'File with the PKCS#12 password'
complete -c certcli -n '__certcli_in download' -l p12-legacy -d 'PKCS#12 with the old algorithms'
complete -c certcli -n '__certcli_in download' -l json -d 'Print JSON'
complete -c certcli -n '__certcli_in covers' -l json -d 'Print JSON'

# domain add | list | remove
complete -c certcli -n '__certcli_at domain' -a add -d 'Add a domain (and more names for the same certificate)'
complete -c certcli -n '__certcli_at domain' -a list -d 'List the domains: name, status, names'
complete -c certcli -n '__certcli_at domain' -a remove -d 'Stop managing a domain (files are moved under removed/)'
complete -c certcli -n '__certcli_in domain add' -l san -x -d 'Another name the certificate must cover (repeatable)'
complete -c certcli -n '__certcli_in domain add' -l key-type -x -a 'ec256 ec384 rsa2048 rsa3072 rsa4096' -d 'Certificate key (default ec256)'
complete -c certcli -n '__certcli_in domain add; and not __fish_seen_subcommand_from --webroot' -l http-listen -x -a ':80 0.0.0.0:80 127.0.0.1:80 [::]:80' -d 'http-01 standalone listener ADDR:PORT (default :80)'
complete -c certcli -n '__certcli_in domain add; and not __fish_seen_subcommand_from --http-listen' -l webroot -x -a '(__fish_complete_directories)' -d 'Answer http-01 through this document root'
complete -c certcli -n '__certcli_in domain add' -l buffer-days -x -d 'Renew when fewer days than this are left (1-365)'
complete -c certcli -n '__certcli_in domain add' -l deploy-hook -x -d "Shell command run after this domain's certificate changes"
complete -c certcli -n '__certcli_in domain add' -l profile -x -d 'Certificate profile the CA must offer (remembered)'
complete -c certcli -n '__certcli_in domain add' -l preferred-profile -x -d "Profile to use when the CA offers it, else its default"
complete -c certcli -n '__certcli_in domain add' -l preferred-chain -x -d 'Keep the chain ending at this issuer CN (remembered)'
complete -c certcli -n '__certcli_in domain add' -l reuse-key -d "New certificates keep the live key"
complete -c certcli -n '__certcli_at domain remove' -a '(__certcli_domains)' -d Domain

# issue NAME
complete -c certcli -n '__certcli_wants_domain issue' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in issue' -l email -x -d 'Contact e-mail for a new account (repeatable)'
complete -c certcli -n '__certcli_in issue' -l agree-tos -d "Agree to the CA's terms of service for a new account"
complete -c certcli -n '__certcli_in issue' -l account-key-type -x -d 'Key for a new account' -a '
    ec256\t"ES256 (default)"
    ec384\tES384
    rsa2048\tRS256
    rsa3072\tRS256
    rsa4096\tRS256'
complete -c certcli -n '__certcli_in issue; and not __fish_seen_subcommand_from --webroot' -l http-listen -x -a ':80 0.0.0.0:80 127.0.0.1:80 [::]:80' -d "Answer http-01 with certcli's own listener (default :80)"
complete -c certcli -n '__certcli_in issue; and not __fish_seen_subcommand_from --http-listen' -l webroot -x -a '(__fish_complete_directories)' -d 'Answer http-01 by writing files under this document root'
complete -c certcli -n '__certcli_in issue' -l timeout -x -d 'Seconds to wait for validation and issuance (1-3600, default 180)'
complete -c certcli -n '__certcli_in issue' -l deploy-hook -x -d 'Shell command run after the certificate is installed (saved for renewals)'
complete -c certcli -n '__certcli_in issue' -l json -d 'Print the result as JSON'
complete -c certcli -n '__certcli_in issue' -l profile -x -d 'Certificate profile the CA must offer (remembered)'
complete -c certcli -n '__certcli_in issue' -l preferred-profile -x -d "Profile to use when the CA offers it, else its default"
complete -c certcli -n '__certcli_in issue' -l preferred-chain -x -d 'Keep the chain ending at this issuer CN (remembered)'
complete -c certcli -n '__certcli_in issue' -l reuse-key -d "This certificate keeps the live key"
complete -c certcli -n '__certcli_in issue' -l csr -r -F -d 'Order for this PKCS#10 request (PEM or DER); the key stays yours'

# status [NAME]
complete -c certcli -n '__certcli_wants_domain status' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in status' -l json -d 'Print JSON: an object for one domain, an array for all'

# renew [NAME...]
complete -c certcli -n '__certcli_in renew' -a '(__certcli_domains)' -d Domain
complete -c certcli -n '__certcli_in renew' -l force -d 'Renew even when not due, and despite a backoff'
complete -c certcli -n '__certcli_in renew' -l dry-run -d "Run the whole flow against the CA's staging twin (or --directory) and keep nothing"
complete -c certcli -n '__certcli_in renew' -l random-delay -x -d 'Before the first request, wait a random time up to this (90, 30m, 2h)'
complete -c certcli -n '__certcli_in renew' -l deploy-hook -x -d 'Shell command run after each renewed certificate (this run only)'
complete -c certcli -n '__certcli_in renew' -l timeout -x -d 'Seconds each renewal may wait on the CA (1-3600, default 180)'
complete -c certcli -n '__certcli_in renew' -l reuse-key -d 'Each renewed certificate keeps its live key'
complete -c certcli -n '__certcli_in renew' -l parallel -x -d 'Renewals at once, sharing one connection per CA (1-32, default 1)'
complete -c certcli -n '__certcli_in renew' -s q -l quiet -d 'Print only what changed or failed'
complete -c certcli -n '__certcli_in renew' -l json -d 'Print JSON: one object per domain and the count of ACME requests'

# check
complete -c certcli -n '__certcli_in check' -l json -d 'Print one object per domain'

# config show | set KEY VALUE | unset KEY | path
complete -c certcli -n '__certcli_at config' -a show -d 'Show every setting, its value and where it comes from'
complete -c certcli -n '__certcli_at config' -a set -d 'Set a key in config.toml, after checking it'
complete -c certcli -n '__certcli_at config' -a unset -d 'Remove a key from config.toml, so that its built-in applies'
complete -c certcli -n '__certcli_at config' -a path -d 'Print where config.toml is'
complete -c certcli -n '__certcli_in config show' -l json -d 'Print a JSON array of {key, value, source, secret}'
complete -c certcli -n '__certcli_at config set; or __certcli_at config unset' -a '
    account.email\t"Contact e-mails for new accounts (comma-separated)"
    account.key_type\t"Key type of new accounts"
    ca.name\t"CA preset (excludes ca.directory)"
    ca.directory\t"ACME directory URL (excludes ca.name)"
    certificate.key_type\t"Key type of new certificates"
    challenge.webroot\t"Answer http-01 through this document root"
    challenge.http_listen\t"Answer http-01 with a listener on ADDR:PORT"
    renewal.buffer_days\t"Renew when fewer days are left (1-365)"
    renewal.deploy_hook\t"Run through /bin/sh -c after a certificate changes"
    renewal.deploy_hook_timeout\t"Seconds the deploy hook may run (default 300)"
    alerts.webhook\t"URL for expiry and failure alerts (a secret)"
    alerts.days\t"Expiry thresholds in days (default 30,14,7)"'
complete -c certcli -n '__certcli_at config set account.key_type; or __certcli_at config set certificate.key_type' -a 'ec256 ec384 rsa2048 rsa3072 rsa4096'
complete -c certcli -n '__certcli_at config set ca.name' -a 'letsencrypt letsencrypt-staging zerossl google google-staging buypass buypass-staging'
complete -c certcli -n '__certcli_at config set challenge.webroot' -a '(__fish_complete_directories)'
complete -c certcli -n '__certcli_at config set challenge.http_listen' -a ':80 0.0.0.0:80 127.0.0.1:80 [::]:80'
