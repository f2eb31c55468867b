// The account verbs: register (with External Account Binding), show, update, rollover,
// deactivate; and the account rules the session shares (named accounts, deactivated accounts
// refused, EAB required by the CA).
#include "lifecycle/steps.hpp"

#include <certcli/accounts.hpp>
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace certcli::lifecycle {
namespace {

std::string account_label(const CaSelection& ca, const std::string& account_name) {
  return account_name.empty() ? fmt::format("the account at {}", ca.directory_url)
                              : fmt::format("the account '{}' at {}", account_name, ca.directory_url);
}

// Where the users of a CA that requires External Account Binding get their credentials.
std::string eab_source(const CaSelection& ca, const acme::Directory& directory) {
  if (ca.name == "zerossl")
    return "ZeroSSL gives them at https://app.zerossl.com/developer (\"EAB Credentials for ACME Clients\")";
  if (ca.name == "google" || ca.name == "google-staging")
    return "Google Trust Services makes them with `gcloud publicca external-account-keys create` (add "
           "--project; for the staging CA, first `gcloud config set api_endpoint_overrides/publicca "
           "https://preprod-publicca.googleapis.com/`)";
  if (!directory.website.empty()) return fmt::format("the CA gives them to its users (see {})", directory.website);
  return "the CA gives them to its users on its website";
}

crypto::PrivateKey load_key(const std::string& pem) { return crypto::PrivateKey::from_pem(pem); }

struct StoredAccount {
  std::string id;
  store::AccountRecord record;
  std::string key_pem;
};

StoredAccount require_account(const store::Store& store, const AccountSelector& account) {
  const std::string id = steps::account_store_id(account.ca, account.account_name);
  auto record = store.load_account(id);
  auto key = store.load_account_key(id);
  if (!record || !key)
    throw Error(ErrorKind::not_found, fmt::format("there is no {} in this state directory", account_label(account.ca, account.account_name)),
                fmt::format("register one: certcli account register --agree-tos --email ADDRESS{}",
                            account.account_name.empty() ? "" : " --account " + account.account_name),
                account.ca.directory_url);
  return {id, *record, *key};
}

AccountInfo info_of(const AccountSelector& account, const StoredAccount& stored) {
  AccountInfo info;
  info.ca_name = account.ca.name;
  info.account_name = account.account_name;
  info.location = "accounts/" + stored.id;
  info.record = stored.record;
  crypto::PrivateKey key = load_key(stored.key_pem);
  info.key_type = crypto::key_type_name(key.type());
  info.key_thumbprint = crypto::jwk_thumbprint(crypto::public_jwk(key));
  return info;
}

// An account that may be changed: stored, and not deactivated.
StoredAccount usable_account(const store::Store& store, const AccountSelector& account) {
  StoredAccount stored = require_account(store, account);
  steps::refuse_deactivated(stored.record, account.ca, account.account_name);
  return stored;
}

}  // namespace

namespace steps {

std::string account_store_id(const CaSelection& ca, const std::string& account_name) {
  if (account_name.empty() || account_name == "default") return ca.id;
  bool ok = account_name.size() <= 32 && std::isalnum(static_cast<unsigned char>(account_name[0])) &&
            std::all_of(account_name.begin(), account_name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            });
  if (!ok || account_name == "old-keys")
    throw Error(ErrorKind::usage, fmt::format("'{}' is not an account name", account_name),
                "name an account with 1 to 32 lowercase letters, digits, - and _, starting with a letter or digit");
  return ca.id + "/" + account_name;
}

void refuse_deactivated(const store::AccountRecord& account, const CaSelection& ca, const std::string& account_name) {
  if (account.status != "deactivated") return;
  throw Error(ErrorKind::invalid_input,
              fmt::format("{} ({}) was deactivated{}; the CA will not accept it again",
                          account_label(ca, account_name), account.url,
                          account.deactivated_at ? " on " + format_rfc3339(*account.deactivated_at) : ""),
              fmt::format("register a new account in its place with `certcli account register --agree-tos{}` "
                          "(the deactivated one's key is kept under old-keys/), or use another with --account NAME",
                          account_name.empty() ? "" : " --account " + account_name),
              account.url);
}

std::optional<acme::ExternalAccountBinding> external_account_binding(const EabOptions& eab, const CaSelection& ca,
                                                                      const acme::Directory& directory) {
  if (!eab.given()) {
    if (!directory.external_account_required) return std::nullopt;
    throw Error(ErrorKind::usage,
                fmt::format("{} requires External Account Binding to create an account, and none was given",
                            ca.directory_url),
                fmt::format("give --eab-kid KID and --eab-hmac-key KEY (or '$ENV:VAR' / '$FILE:/path'); {}",
                            eab_source(ca, directory)),
                ca.directory_url);
  }
  if (eab.kid.empty() || eab.hmac_key.empty())
    throw Error(ErrorKind::usage, "External Account Binding needs both --eab-kid and --eab-hmac-key",
                "give both, as the CA issued them");
  acme::ExternalAccountBinding binding;
  binding.kid = eab.kid;
  binding.algorithm = eab.algorithm.empty() ? "HS256" : eab.algorithm;
  if (binding.algorithm != "HS256" && binding.algorithm != "HS384" && binding.algorithm != "HS512")
    throw Error(ErrorKind::usage, fmt::format("--eab-alg '{}' is not HS256, HS384 or HS512", binding.algorithm),
                "leave it out for HS256, which is what CAs issue");
  std::string encoded = eab.hmac_key;
  if (challenge::is_secret_reference(encoded))
    encoded = challenge::read_secret_reference(encoded, [](const char* name) -> const char* { return std::getenv(name); },
                                               "the EAB HMAC key", "--eab-hmac-key");
  // CAs show the key base64url-encoded, some with padding.
  while (!encoded.empty() && (encoded.back() == '=' || encoded.back() == '\n' || encoded.back() == '\r'))
    encoded.pop_back();
  try {
    binding.mac_key = crypto::base64url_decode(encoded);
  } catch (const Error&) {
    throw Error(ErrorKind::invalid_input, "the EAB HMAC key is not base64url",
                "give the HMAC key exactly as the CA shows it (base64url: letters, digits, - and _)");
  }
  crypto::wipe(encoded);
  if (binding.mac_key.empty())
    throw Error(ErrorKind::invalid_input, "the EAB HMAC key is empty", "give the HMAC key the CA issued");
  return binding;
}

void check_contacts(const std::vector<std::string>& contacts) { check_contact_addresses(contacts); }

}  // namespace steps

void check_contact_addresses(const std::vector<std::string>& contacts) {
  for (const auto& contact : contacts) {
    auto refuse = [&](const std::string& why) {
      std::string shown;
      for (char c : contact) shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
      throw Error(ErrorKind::invalid_input, fmt::format("'{}' is not an e-mail address: {}", shown, why),
                  "give one address per --email, as name@example.com", shown);
    };
    std::string address = contact.starts_with("mailto:") ? contact.substr(7) : contact;
    if (address.empty()) refuse("it is empty");
    if (address.size() > 254) refuse("it is longer than 254 characters");
    for (char c : address)
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) >= 0x7f)
        refuse("it holds a space, a control character or a character beyond ASCII");
    // RFC 8555 7.3: one addr-spec per mailto: URL, no hfields; a comma, ';' or '?' would smuggle
    // more recipients or headers into the URL.
    if (address.find_first_of(",;?&<>\"()[]\\:%") != std::string::npos) refuse("it holds one of , ; ? & < > \" ( ) [ ] \\ : %");
    auto at = address.find('@');
    if (at == std::string::npos || at == 0 || address.find('@', at + 1) != std::string::npos)
      refuse("it needs exactly one @ with a name before it");
    std::string domain = address.substr(at + 1);
    bool domain_ok = domain.find('.') != std::string::npos && domain.front() != '.' && domain.back() != '.' &&
                     domain.find("..") == std::string::npos &&
                     std::all_of(domain.begin(), domain.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
                     });
    if (!domain_ok) refuse(fmt::format("'{}' is not a domain name", domain));
  }
}

AccountInfo register_account(store::Store& store, Clock& clock, net::HttpTransport& http,
                             const RegisterAccountRequest& request, const Progress& progress) {
  check_contact_addresses(request.contacts);
  const AccountSelector& selector = request.account;
  const std::string id = steps::account_store_id(selector.ca, selector.account_name);
  steps::AccountOptions options{request.contacts, request.agree_to_terms, request.key_type};
  options.account_name = selector.account_name;
  options.eab = request.eab;
  steps::Session session(store, clock, http, selector.ca, selector.time_budget);
  auto existing = store.load_account(id);
  if (existing && existing->status != "deactivated") {
    AccountInfo info = info_of(selector, require_account(store, selector));
    info.acme_requests = session.client().request_count();
    return info;
  }
  {
    // Checked before the lock: nothing written for a refused run.
    const acme::Directory& directory = session.client().directory();
    steps::external_account_binding(options.eab, selector.ca, directory);
    if (!directory.terms_of_service.empty() && !request.agree_to_terms)
      throw Error(ErrorKind::usage,
                  fmt::format("creating an account at {} means agreeing to its terms of service", selector.ca.directory_url),
                  fmt::format("read {} and run again with --agree-tos", directory.terms_of_service));
  }
  auto lock = store.lock(std::chrono::seconds{60});
  existing = store.load_account(id);
  if (existing && existing->status != "deactivated") return info_of(selector, require_account(store, selector));
  if (existing) {
    // A new account takes the deactivated one's place; its key is kept, never deleted.
    if (auto old_key = store.load_account_key(id)) store.archive_account_key(id, format_compact_utc(clock.now()), *old_key);
  }
  const acme::Directory& directory = session.client().directory();
  auto eab = steps::external_account_binding(options.eab, selector.ca, directory);
  if (progress) progress("registering a new account");
  crypto::PrivateKey key = crypto::PrivateKey::generate(request.key_type);
  session.client().use_account(key);
  acme::Account created = session.client().register_account(request.contacts, request.agree_to_terms, eab);
  store::AccountRecord record{created.url, selector.ca.directory_url, request.contacts,
                              crypto::key_type_name(request.key_type), clock.now()};
  if (eab) record.eab_kid = eab->kid;
  store.save_account(id, record, key.to_pem());
  nlohmann::json details = {{"ca", selector.ca.directory_url}, {"account", created.url}};
  if (!selector.account_name.empty()) details["account_name"] = selector.account_name;
  if (eab) details["eab_kid"] = eab->kid;
  steps::log_event(store, clock, "account.created", "", details);
  StoredAccount stored{id, record, key.to_pem()};
  AccountInfo info = info_of(selector, stored);
  info.created = true;
  info.acme_requests = session.client().request_count();
  return info;
}

AccountInfo show_account(const store::Store& store, const AccountSelector& account) {
  return info_of(account, require_account(store, account));
}

namespace {

// A client signed in as the stored account.
struct SignedIn {
  StoredAccount stored;
  crypto::PrivateKey key;
  acme::Client client;
  SignedIn(StoredAccount s, net::HttpTransport& http, Clock& clock, const AccountSelector& account)
      : stored(std::move(s)), key(load_key(stored.key_pem)), client(http, clock, account.ca.directory_url) {
    client.set_time_budget(account.time_budget);
    client.use_account(key, stored.record.url);
  }
};

nlohmann::json event_details(const AccountSelector& account, const store::AccountRecord& record) {
  nlohmann::json details = {{"ca", account.ca.directory_url}, {"account", record.url}};
  if (!account.account_name.empty()) details["account_name"] = account.account_name;
  return details;
}

}  // namespace

AccountInfo update_account(store::Store& store, Clock& clock, net::HttpTransport& http, const AccountSelector& account,
                           const std::vector<std::string>& contacts) {
  check_contact_addresses(contacts);
  auto lock = store.lock(std::chrono::seconds{60});
  SignedIn session(usable_account(store, account), http, clock, account);
  acme::Account updated = session.client.update_account(contacts);
  session.stored.record.contacts = contacts;
  store.save_account(session.stored.id, session.stored.record, session.stored.key_pem);
  nlohmann::json details = event_details(account, session.stored.record);
  details["contacts"] = contacts;
  steps::log_event(store, clock, "account.updated", "", details);
  AccountInfo info = info_of(account, session.stored);
  info.acme_requests = session.client.request_count();
  (void)updated;
  return info;
}

AccountInfo rollover_account(store::Store& store, Clock& clock, net::HttpTransport& http, const AccountSelector& account,
                             crypto::KeyType key_type) {
  auto lock = store.lock(std::chrono::seconds{60});
  SignedIn session(usable_account(store, account), http, clock, account);
  session.client.directory();
  crypto::PrivateKey new_key = crypto::PrivateKey::generate(key_type);
  // Every key the CA may hold the account to is on disk before it is asked: the old one in
  // old-keys/, the new one as account.key. A refused key change puts the old one back.
  std::string archived = store.archive_account_key(session.stored.id, format_compact_utc(clock.now()), session.stored.key_pem);
  store::AccountRecord before = session.stored.record;
  store::AccountRecord after = before;
  after.key_type = crypto::key_type_name(key_type);
  after.key_changed_at = clock.now();
  store.save_account(session.stored.id, after, new_key.to_pem());
  try {
    session.client.change_account_key(new_key);
  } catch (...) {
    store.save_account(session.stored.id, before, session.stored.key_pem);
    throw;
  }
  nlohmann::json details = event_details(account, after);
  details["key_type"] = after.key_type;
  details["old_key_thumbprint"] = crypto::jwk_thumbprint(crypto::public_jwk(session.key));
  details["new_key_thumbprint"] = crypto::jwk_thumbprint(crypto::public_jwk(new_key));
  steps::log_event(store, clock, "account.rolled_over", "", details);
  StoredAccount now{session.stored.id, after, new_key.to_pem()};
  AccountInfo info = info_of(account, now);
  info.old_keys.push_back(archived);
  info.acme_requests = session.client.request_count();
  return info;
}

AccountInfo deactivate_account(store::Store& store, Clock& clock, net::HttpTransport& http,
                               const AccountSelector& account) {
  auto lock = store.lock(std::chrono::seconds{60});
  SignedIn session(usable_account(store, account), http, clock, account);
  session.client.deactivate_account();
  session.stored.record.status = "deactivated";
  session.stored.record.deactivated_at = clock.now();
  store.save_account(session.stored.id, session.stored.record, session.stored.key_pem);
  steps::log_event(store, clock, "account.deactivated", "", event_details(account, session.stored.record));
  AccountInfo info = info_of(account, session.stored);
  info.acme_requests = session.client.request_count();
  return info;
}

}  // namespace certcli::lifecycle
