// certcli/acme.hpp — an RFC 8555 client and nothing more: no policy, no store, no printing.
// Owns: the directory, the nonce pool (fed by every Replay-Nonce; HEAD newNonce only when it is
// empty; badNonce retried), JWS signing (jwk for newAccount, kid after), accounts, orders,
// authorizations, challenges, finalize and certificate download, polling with Retry-After, and
// ACME Renewal Information (RFC 9773): asking when to renew, and naming what an order replaces.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/net.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::acme {

struct Directory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string revoke_cert;
  std::string key_change;
  std::string renewal_info;  // RFC 9773, empty when the CA lacks it
  std::string terms_of_service;
  bool external_account_required = false;
  // RFC 8555 7.1.1 meta.caaIdentities: the issuer domains CAA records name to allow this CA.
  std::vector<std::string> caa_identities;
  // meta.profiles (draft-ietf-acme-profiles): profile name -> what the CA says about it (a URL
  // or a sentence); empty when the CA offers no profiles.
  std::map<std::string, std::string> profiles;
  std::string website;  // meta.website, empty when absent
};

// RFC 8555 6.7 / RFC 7807 problem document.
struct Problem {
  struct Subproblem {
    std::string identifier;
    std::string type;
    std::string detail;
  };
  std::string type;  // "urn:ietf:params:acme:error:badNonce"
  std::string detail;
  int status = 0;
  std::vector<Subproblem> subproblems;

  static Problem from_json(const nlohmann::json& body, int http_status);
  // The part after "urn:ietf:params:acme:error:" ("badNonce"), or the whole type.
  std::string short_type() const;
  // One line: "type: detail" plus each subproblem's identifier and detail.
  std::string describe() const;
};

// The CA refused a request, or judged a challenge invalid (kind challenge); carries the
// problem document.
class AcmeError : public Error {
 public:
  AcmeError(Problem problem, std::string context, std::string hint, ErrorKind kind = ErrorKind::ca_rejected);
  const Problem& problem() const { return problem_; }

 private:
  Problem problem_;
};

// The CA sent a value certcli must not use: a token outside base64url or of an absurd length,
// a URL of another scheme, an unknown status, an identifier that is not a name. Thrown where
// the object is parsed, so no solver, path or hook ever sees such a value; the order it came
// with is poisoned and is not resumed. Kind ca_rejected.
class CaMisbehaved : public Error {
 public:
  CaMisbehaved(std::string message, std::string subject);
  // With its own hint, for what is not part of an order (renewal information).
  CaMisbehaved(std::string message, std::string subject, std::string hint);
};

// The CA asked certcli to wait (Retry-After on a poll, a 429 or a 503) until a time past this
// run's budget. Nothing is wrong with the order: it is kept, and a later run resumes it.
class RetryLater : public Error {
 public:
  // `order_placed`: the wait came after the order was placed, so the next run resumes it.
  RetryLater(std::string what_waits, TimePoint retry_at, std::string subject, bool order_placed);
  TimePoint retry_at() const { return retry_at_; }

 private:
  TimePoint retry_at_;
};

// Who sent an ACME object: named in every error about it, and the URL scheme its links must
// use (the directory's own; https for every public CA).
struct Sender {
  std::string name = "the CA";       // "the CA at https://acme.example/directory"
  std::string url_scheme = "https";
};

struct Identifier {
  std::string type;  // "dns"
  std::string value;
};

struct Challenge {
  std::string type;  // "http-01"
  std::string url;
  std::string token;
  std::string status;
  std::optional<Problem> error;
};

struct Authorization {
  std::string url;
  std::string status;  // pending, valid, invalid, deactivated, expired, revoked
  Identifier identifier;
  bool wildcard = false;
  std::vector<Challenge> challenges;
};

struct Order {
  std::string url;
  std::string status;  // pending, ready, processing, valid, invalid
  std::vector<Identifier> identifiers;
  std::vector<std::string> authorization_urls;
  std::string finalize_url;
  std::string certificate_url;
  std::optional<Problem> error;
  // When the CA asked to be polled next (the Retry-After of the answer this came from).
  std::optional<TimePoint> retry_at{};
};

// How long a CA usually takes, learned from certcli's own runs at it: from answering a
// challenge until the authorization is valid, and from finalize until the certificate is
// issued. The first poll is placed there instead of at a fixed delay (a Retry-After from the
// CA still wins): a fast CA is asked once and soon, and a slow one is not asked "pending" again
// and again. Kept with the CA's accounts (accounts/<ca-id>/timing.toml) between runs.
struct LatencyEstimate {
  std::chrono::milliseconds typical{0};
  long samples = 0;
  bool operator==(const LatencyEstimate&) const = default;
};
struct CaTiming {
  LatencyEstimate validation;
  LatencyEstimate issuance;
  bool operator==(const CaTiming&) const = default;
};

// Where to place the first poll: the learned typical time, or `unknown` while nothing has been
// learned. Pure.
std::chrono::milliseconds first_poll_delay(const LatencyEstimate& estimate, std::chrono::milliseconds unknown);
// The wait before the next poll once a poll found the object still pending: half the first
// delay (at least 20 ms) for a CA whose speed is known, so that the settle time is seen to
// within about a half and a CA only a little slower than usual costs one poll more, doubling
// up to 5 s; 250 ms doubling for a CA not yet measured. Pure.
std::chrono::milliseconds next_poll_backoff(const LatencyEstimate& estimate, std::chrono::milliseconds first_delay,
                                            std::chrono::milliseconds previous_backoff);
// Learns from one wait. `first_delay`: when the first poll was placed; `settled_at_first_poll`:
// whether it found the object settled (so the CA took at most that long: the estimate shrinks,
// quickly over the first few samples, then by 3% a time); otherwise `observed` (from the start
// to the poll that saw it settled, an upper bound within a backoff step) with a quarter's
// margin becomes the estimate, at most twice the last once the first few samples are in (one
// slow wait is an outlier until others agree). The result: about one wait in ten costs one
// poll more than needed, and the others none. Pure.
void learn_latency(LatencyEstimate& estimate, std::chrono::milliseconds first_delay, bool settled_at_first_poll,
                   std::chrono::milliseconds observed);

// What a CA suggests about renewing one certificate (RFC 9773 4.2): renew at a time picked
// uniformly at random within [window_start, window_end). A suggestion, which the CA may move (to the
// past, when it is about to revoke the certificate); asking again after `retry_after` tells.
struct RenewalInfo {
  TimePoint window_start;
  TimePoint window_end;         // always after window_start
  std::string explanation_url;  // a page explaining the window; empty when the CA gave none
  // When to ask the CA again (RFC 9773 4.3: the response's Retry-After), as sent, not capped; the
  // RFC suggests treating less than a minute as a minute and more than a day as a day. nullopt
  // when the CA sent none or a malformed one.
  std::optional<TimePoint> retry_after;
};

struct Account {
  std::string url;
  std::string status;
  std::vector<std::string> contacts;
  bool created = false;  // true when this request made it (201), false when it existed (200)
};

// External Account Binding credentials (RFC 8555 7.3.4): the key identifier and MAC key the CA
// gave out of band, and the MAC algorithm (HS256, HS384 or HS512).
struct ExternalAccountBinding {
  std::string kid;
  std::string mac_key;  // raw bytes (the CA hands them out base64url-encoded)
  std::string algorithm = "HS256";
};

// The externalAccountBinding member of a newAccount payload: a flattened JWS over the account's
// public JWK, protected header {alg, kid, url = newAccount URL} (no nonce), MACed with the key.
// Throws Error{invalid_input} for an algorithm other than HS256/HS384/HS512 or an empty kid/key.
nlohmann::json make_eab_jws(const ExternalAccountBinding& eab, const nlohmann::json& account_jwk,
                            const std::string& new_account_url);
// The inner JWS of a key change (RFC 8555 7.3.5): payload {account, oldKey}, protected header
// {alg, jwk = the new key, url = keyChange URL} (no nonce), signed by the new key.
nlohmann::json make_key_change_jws(const crypto::PrivateKey& new_key, const nlohmann::json& old_jwk,
                                   const std::string& account_url, const std::string& key_change_url);

// Builds a flattened JWS (RFC 7515 7.2.2) over `payload` ("" for POST-as-GET).
nlohmann::json make_jws(const crypto::PrivateKey& key, const nlohmann::json& protected_header,
                        const std::string& payload);

// When the CA asks to be asked again: Retry-After as delay-seconds or an IMF-fixdate (RFC 9110
// 10.2.3), or nullopt when the header is absent or malformed. Not capped: the caller compares it
// with its own deadline and stops, rather than sleeping, when the CA asks for more than is left.
std::optional<TimePoint> requested_retry_time(const net::HttpResponse& response, TimePoint now);

class Client {
 public:
  Client(net::HttpTransport& http, Clock& clock, std::string directory_url);

  // The run's budget for waiting on the CA (polls, Retry-After of a 429 or 503), from now.
  // A wait the CA asks for beyond it is not slept through: RetryLater is thrown instead.
  // Three minutes unless set.
  void set_time_budget(std::chrono::seconds budget);

  // Fetched once per Client, on first use. Throws Error{network} or Error{ca_rejected} with
  // a hint when the URL does not serve an ACME directory.
  const Directory& directory();
  const std::string& directory_url() const { return directory_url_; }
  // Who this client speaks to, for the checks above.
  const Sender& sender() const { return sender_; }

  // The account key signs everything; `account_url` (the kid) is empty until an account exists.
  void use_account(const crypto::PrivateKey& key, std::string account_url = {});
  const std::string& account_url() const { return account_url_; }

  // newAccount (RFC 8555 7.3). Returns the existing account when the key is known to the CA.
  // With `eab`, the newAccount carries an External Account Binding (RFC 8555 7.3.4).
  Account register_account(const std::vector<std::string>& contacts, bool agree_to_terms,
                           const std::optional<ExternalAccountBinding>& eab = std::nullopt);
  // Account management (src/acme/account_ops.cpp), on the account use_account named.
  // The account as the CA has it (POST-as-GET to its URL).
  Account fetch_account();
  // Replaces the contacts (RFC 8555 7.3.2); e-mail addresses become mailto: URLs.
  Account update_account(const std::vector<std::string>& contacts);
  // RFC 8555 7.3.6: status "deactivated"; the CA refuses the account from then on.
  Account deactivate_account();
  // RFC 8555 7.3.5 keyChange: the CA binds the account to `new_key`, which signs from then on
  // (`new_key` must outlive the client's use of it, as for use_account).
  void change_account_key(const crypto::PrivateKey& new_key);
  // RFC 8555 7.6 revokeCert with the DER certificate and, when given, a CRL reason code (RFC
  // 5280 5.3.1). Signed with the account key (kid), or with `certificate_key` (jwk) when given,
  // which needs no account at all.
  void revoke_certificate(const std::string& certificate_der, std::optional<int> reason,
                          const crypto::PrivateKey* certificate_key = nullptr);

  Order new_order(const std::vector<std::string>& dns_names);
  // newOrder naming the certificate it replaces by its ARI CertID (RFC 9773 5; crypto::ari_cert_id),
  // which lets the CA link the two (and exempt a renewal the CA asked for from rate limits). Empty
  // `replaces`, or a CA whose directory has no renewalInfo (RFC 9773 5: the field is not sent
  // there): a plain newOrder. When the CA refuses the field (problem_rejects_replaces: the
  // certificate was already replaced, or the CA does not know it), the order is placed once more
  // without it: a renewal must not fail for want of a hint.
  // Names that are IP addresses (certcli::is_ip_address) go as identifiers of type "ip" (RFC
  // 8738), the others as "dns". A non-empty `profile` is sent as the order's profile
  // (draft-ietf-acme-profiles); the caller has checked the directory offers it.
  Order new_order(const std::vector<std::string>& dns_names, const std::string& replaces,
                  const std::string& profile = {});

  // The CA's renewal suggestion for the certificate with ARI CertID `cert_id` (RFC 9773 4.1: an
  // unauthenticated GET of <renewalInfo>/<certID>; 429 and 503 honoured within the budget as
  // elsewhere). nullopt when the CA offers no renewalInfo (no request is made) or answers 404
  // (it does not know the certificate, e.g. one from another CA). Throws Error{invalid_input} when
  // `cert_id` is not a CertID, CaMisbehaved when the answer is malformed (RFC 9773 4.2: treat that
  // as no answer), AcmeError for other refusals, Error{network} when the CA cannot be reached.
  std::optional<RenewalInfo> fetch_renewal_info(const std::string& cert_id);
  Order fetch_order(const std::string& url);
  Authorization fetch_authorization(const std::string& url);
  // Tells the CA the challenge is ready to be validated (RFC 8555 7.5.1). Returns when the CA
  // asked to be polled (the answer's Retry-After), if it did.
  std::optional<TimePoint> answer_challenge(const Challenge& challenge);
  // Polls until the authorization leaves "pending"; honours Retry-After within the budget. The
  // first poll goes at `answered_at` (the Clock's steady_now) + the CA's typical validation time
  // (timing()), or at `retry_at` when the CA asked for one; what the wait shows is learned.
  Authorization wait_for_authorization(const std::string& url, std::chrono::steady_clock::time_point answered_at,
                                       std::optional<TimePoint> retry_at = std::nullopt);
  // The order as finalize left it, with retry_at from the answer's Retry-After.
  Order finalize(const Order& order, const std::string& csr_der);
  // Polls until the order leaves "pending"/"processing"; honours Retry-After within the budget.
  // The first poll goes at `since` + the CA's typical issuance time (or `retry_at`); what the
  // wait shows is learned. Without `since` (an order of unknown age): polled at once, nothing learned.
  Order wait_for_order(const std::string& url, std::optional<std::chrono::steady_clock::time_point> since = std::nullopt,
                       std::optional<TimePoint> retry_at = std::nullopt);

  // What this client knows of the CA's speed: set from the stored timing before the first
  // order, read back after the run to be stored. Thread-safe.
  void set_timing(const CaTiming& timing);
  CaTiming timing() const;
  // The PEM chain: leaf first.
  std::string download_certificate(const std::string& url);
  // The default chain first, then, with `with_alternates`, each chain the CA links from it with
  // Link: <url>;rel="alternate" (RFC 8555 7.4.2), each one more POST-as-GET. Without
  // `with_alternates` exactly download_certificate's one request.
  std::vector<std::string> download_certificate_chains(const std::string& url, bool with_alternates);

  // token || '.' || base64url(JWK thumbprint) (RFC 8555 8.1).
  std::string key_authorization(const std::string& token) const;

  // Requests sent through this client, for tests and the benchmark.
  long request_count() const { return http_.request_count(); }

  // What to do when the CA answers accountDoesNotExist to a request signed with the account URL
  // (a CA that lost or reset its accounts: a test CA restarted, a staging reset): returns the
  // account's URL after registering its key again, or throws. Called at most once per client;
  // the request that met the error is then sent again. Unset: the error reaches the caller.
  void set_account_recovery(std::function<std::string()> recovery) { account_recovery_ = std::move(recovery); }

 private:
  // POST with a JWS; `payload` nullopt means POST-as-GET. Retries badNonce with a fresh nonce.
  // `signer`: sign with this key (and its jwk) instead of the account's.
  net::HttpResponse post(const std::string& url, const std::optional<nlohmann::json>& payload,
                         bool use_jwk = false, const crypto::PrivateKey* signer = nullptr);
  Account parse_account(const net::HttpResponse& response, const std::string& url, const char* what);
  // POST-as-GET `url` until its "status" is settled, waiting Retry-After (or a growing
  // backoff) between polls; throws timed_out(last body) when the budget runs out, and
  // RetryLater when the CA asks for a wait past it.
  // The first poll goes at `since` + the learned time (`unknown_delay` while none is known), or
  // at `retry_at`; with `learned`, when the wait ended (measured from `since`) is learned there.
  nlohmann::json poll(const std::string& url, const char* what,
                      const std::function<bool(const std::string& status)>& settled,
                      const std::function<Error(const nlohmann::json& body)>& timed_out,
                      std::chrono::steady_clock::time_point since, std::optional<TimePoint> retry_at,
                      LatencyEstimate CaTiming::*learned,
                      std::chrono::milliseconds unknown_delay);
  // For a 429 or 503 with Retry-After: waits as asked (within the budget) and says to retry.
  bool retry_when_asked(const net::HttpResponse& response, const std::string& url, const std::string& request, int& retries);
  // Sleeps until `retry_at` when that is within the budget; else throws RetryLater.
  void wait_until(TimePoint retry_at, const std::string& what_waits, const std::string& subject, bool order_placed);
  std::string checked_location(const net::HttpResponse& response, const char* what) const;
  std::string take_nonce();
  void remember_nonce(const net::HttpResponse& response);
  // After accountDoesNotExist for a request signed with `sent_kid`: whether to send it again.
  bool recover_account(const std::string& sent_kid);
  [[noreturn]] void throw_problem(const net::HttpResponse& response, const std::string& context);
  nlohmann::json parse_body(const net::HttpResponse& response, const std::string& context);

  net::HttpTransport& http_;
  Clock& clock_;
  std::string directory_url_;
  std::optional<Directory> directory_;
  const crypto::PrivateKey* account_key_ = nullptr;
  std::string account_url_;
  std::vector<std::string> nonce_pool_;
  // Guards what threads sharing this client share: the nonce pool, the account URL, the
  // directory. Held only to take or put back a value, not across a request, so that parallel
  // renewals overlap on the wire; except for the first directory fetch (the others wait for it
  // instead of fetching their own) and an account recovery (registered once for all).
  // Recursive: the recovery signs requests.
  std::recursive_mutex exchange_mutex_;
  Sender sender_;
  std::function<std::string()> account_recovery_;
  std::chrono::seconds budget_{180};
  TimePoint deadline_;
  mutable std::mutex timing_mutex_;
  CaTiming timing_;
};

// Parse and validate what a CA sent; throw CaMisbehaved naming `sender` and the bad value.
// Challenges of types certcli does not know are dropped: it could not answer them anyway, and
// their fields follow rules certcli cannot check.
Order parse_order(const nlohmann::json& body, std::string url, const Sender& sender = {});
Authorization parse_authorization(const nlohmann::json& body, std::string url, const Sender& sender = {});
// A renewalInfo body (RFC 9773 4.2): suggestedWindow.start and .end as RFC 3339, end after start;
// explanationURL, when present, an absolute URL of the sender's scheme or https. retry_after is
// left empty (it comes from a header). Throws CaMisbehaved naming `sender` and the bad value.
RenewalInfo parse_renewal_info(const nlohmann::json& body, const Sender& sender = {});
// The moment to renew within the window: window_start + fraction * (window_end - window_start).
// RFC 9773 4.2 wants it uniformly random, so `fraction` is drawn by the caller from [0, 1), once
// per window and kept (a fresh draw every run would pull renewals towards the window's start).
// A fraction outside [0, 1) (or NaN) is clamped into it; the result is always before window_end
// when the window is not empty. Pure: no clock, no randomness.
TimePoint renewal_time_in_window(const RenewalInfo& info, double fraction);
// Whether the suggested window has ended by `now`: the CA then wants the certificate replaced
// at once (RFC 9773 4.2, e.g. ahead of a revocation).
bool renewal_window_has_passed(const RenewalInfo& info, TimePoint now);
// Whether a newOrder refusal is about its "replaces" field: the alreadyReplaced type (RFC 9773
// 7.4), or a 4xx malformed, conflict or unauthorized problem whose detail speaks of the
// replacement (what CAs sent before that type existed, and for a CertID of another CA or
// account). new_order retries such an order once without the field.
bool problem_rejects_replaces(const Problem& problem);
// The orders a CA hands back are checked against what certcli asked for (RFC 8555 7.1.3, 7.1.4:
// one authorization per identifier of the order), so a CA can neither make certcli fetch
// thousands of authorizations nor have it answer a challenge for a name it never ordered.
// `ordered` holds the names as certcli stores them ("*.example.com" for a wildcard). Each check
// throws CaMisbehaved naming `sender` and the names at fault.
//
// The name an authorization is for as certcli orders it: "*." before a wildcard's base domain.
std::string authorized_name(const Authorization& authz);
// The order's identifiers are exactly the names ordered (as a set).
void check_order_identifiers(const Order& order, const std::vector<std::string>& ordered, const Sender& sender = {});
// Before any authorization is fetched: no more authorization URLs than names, none twice.
void check_authorization_count(const Order& order, const std::vector<std::string>& ordered, const Sender& sender = {});
// As each authorization arrives: its name was ordered and was not authorized already.
void check_authorized_name(const std::string& name, const std::vector<std::string>& ordered,
                           const std::vector<std::string>& authorized_before, const Sender& sender = {});
// After the last: every name ordered has its authorization.
void check_every_name_authorized(const std::vector<std::string>& ordered, const std::vector<std::string>& authorized,
                                 const Sender& sender = {});

// A URL a CA sent (a Location header, a link in an object): absolute, of the sender's scheme,
// printable ASCII without spaces, at most 2048 characters. Throws CaMisbehaved.
std::string check_ca_url(const std::string& url, const std::string& what, const Sender& sender);
// The targets of Link header values with rel="alternate" (RFC 8288; several links may share one
// header value), each checked as check_ca_url does; at most 8, duplicates dropped.
std::vector<std::string> parse_alternate_links(const std::vector<std::string>& link_values, const Sender& sender = {});
// meta.caaIdentities of a directory: each a DNS name, lowercased; anything else is skipped
// (a CA's typo must not fail the run: the identities only explain a CAA refusal).
std::vector<std::string> parse_caa_identities(const nlohmann::json& meta);
// meta.profiles of a directory: names of 1 to 64 characters of [A-Za-z0-9._-] mapped to their
// description (a string; anything else becomes ""); other names are skipped.
std::map<std::string, std::string> parse_profiles(const nlohmann::json& meta);
// A challenge token (RFC 8555 8.1): base64url without padding, 22 (128 bits) to 256 characters.
// Throws CaMisbehaved.
void check_token(const std::string& token, const std::string& what, const Sender& sender);
// For messages: `text` quoted, control characters escaped, cut after 64 characters.
std::string quote_ca_text(std::string_view text);
// Any text a CA sends that certcli keeps or shows (a problem's type and detail, a body that is
// not a problem document, the directory's terms and website): control characters as \xNN, cut
// after `longest` bytes. The one gate CA text passes on its way into errors, records and output.
std::string ca_text(std::string_view text, std::size_t longest = 1024);

}  // namespace certcli::acme
