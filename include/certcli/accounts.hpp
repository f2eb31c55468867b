// certcli/accounts.hpp — the account verbs (register, show, update, rollover, deactivate) and
// revocation. Owns the account's life at one CA: its contacts, its key (a replaced key is
// archived, never deleted), its deactivation (refused for any later use), and marking a revoked
// certificate in the domain record. Returns structs; never prints.
#pragma once

#include <certcli/lifecycle.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certcli::lifecycle {

// Which account: a CA and, optionally, a named account beside its default one.
struct AccountSelector {
  CaSelection ca;
  std::string account_name;  // empty: the CA's default account
  std::chrono::seconds time_budget{180};
};

struct AccountInfo {
  std::string ca_name;
  std::string account_name;  // empty: the default account
  std::string location;      // the account's directory in the state
  store::AccountRecord record;
  std::string key_type;      // of the current key
  std::string key_thumbprint;  // RFC 7638, of the current key
  std::vector<std::string> old_keys;  // archived keys, relative to the state directory
  bool created = false;      // register: this run made it
  long acme_requests = 0;
};

struct RegisterAccountRequest {
  AccountSelector account;
  std::vector<std::string> contacts;
  bool agree_to_terms = false;
  crypto::KeyType key_type = crypto::KeyType::ec256;
  EabOptions eab;
};

// Registers the account (with External Account Binding when given or required); an account
// already stored is returned as it is, without a request. Logs account.created.
AccountInfo register_account(store::Store& store, Clock& clock, net::HttpTransport& http,
                             const RegisterAccountRequest& request, const Progress& progress);
// The stored account, without asking the CA. Throws Error{not_found} with the way to register.
AccountInfo show_account(const store::Store& store, const AccountSelector& account);
// Replaces the contacts at the CA and in the record. Logs account.updated.
AccountInfo update_account(store::Store& store, Clock& clock, net::HttpTransport& http, const AccountSelector& account,
                           const std::vector<std::string>& contacts);
// RFC 8555 7.3.5: a new key of `key_type`, the old one archived under old-keys/. Logs
// account.rolled_over.
AccountInfo rollover_account(store::Store& store, Clock& clock, net::HttpTransport& http, const AccountSelector& account,
                             crypto::KeyType key_type);
// Deactivates the account at the CA and marks the record; every later use is refused. Logs
// account.deactivated.
AccountInfo deactivate_account(store::Store& store, Clock& clock, net::HttpTransport& http,
                               const AccountSelector& account);

// Contacts as given by the user: each one plausible e-mail address, optionally written as a
// mailto: URL; commas, spaces, control characters, a second address or mailto: hfields ("?")
// are refused with Error{invalid_input}.
void check_contact_addresses(const std::vector<std::string>& contacts);

// The CRL reason codes RFC 8555 7.6 lets a subscriber give (RFC 5280 5.3.1), by name.
std::optional<int> revocation_reason_code(const std::string& reason);

struct RevokeRequest {
  std::string name;
  std::string reason;               // "" (unspecified), keyCompromise, superseded, ...
  bool with_certificate_key = false;  // sign with the certificate's own key (jwk), no account
  std::string account_name;
  std::optional<CaSelection> ca;    // when the record does not say which CA issued it
  std::chrono::seconds time_budget{180};
};
struct RevokeResult {
  store::DomainRecord record;
  std::string serial;
  long acme_requests = 0;
};
// Revokes the live certificate of a domain (RFC 8555 7.6) and marks the record revoked, so that
// status says so and the next renew replaces it. Logs certificate.revoked.
RevokeResult revoke_certificate(store::Store& store, Clock& clock, net::HttpTransport& http,
                                const RevokeRequest& request);

}  // namespace certcli::lifecycle
