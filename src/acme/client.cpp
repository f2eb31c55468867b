// The RFC 8555 request flow. Every request the RFC does not need is avoided: one directory
// fetch per Client, nonces taken from every response (HEAD newNonce only when the pool is
// empty), and one keep-alive connection through the shared HttpClient.
#include <certcli/acme.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace certcli::acme {
namespace {

constexpr const char* kJoseJson = "application/jose+json";
// A badNonce answer costs one request and carries the next nonce, so retrying is cheap. Fault
// tests run Pebble rejecting half of all nonces; at 50% a request fails all 20 tries with odds
// of one in a million, while a real loop (a CA that rejects every nonce) still ends.
constexpr int kBadNonceAttempts = 20;
// A signed request that got no answer at all is sent this many times at most.
constexpr int kTransportAttempts = 3;

std::string hint_for(const Problem& problem, const std::string& context) {
  const std::string type = problem.short_type();
  if (type == "rateLimited") return "the CA's rate limit was reached; wait before trying again (see the detail for when)";
  if (type == "userActionRequired") return "the CA needs you to act (often: accept new terms of service); see the detail";
  if (type == "externalAccountRequired")
    return "this CA needs External Account Binding credentials (a key identifier and an HMAC key from the CA's "
           "website) for a new account: give --eab-kid and --eab-hmac-key";
  if (type == "accountDoesNotExist" || type == "unauthorized")
    return "the stored account is not valid at this CA; check --directory, or remove the account directory to register anew";
  if (type == "rejectedIdentifier") return "the CA will not issue for this name; check its spelling and the CA's policy";
  if (type == "caa") return "a CAA record forbids this CA from issuing for the name; add one that allows it";
  if (type == "connection" || type == "incorrectResponse" || type == "dns")
    return "the CA could not fetch the challenge: make sure the name resolves to this host and port 80 reaches certcli";
  if (type == "serverInternal") return "the CA had an internal error; try again later";
  if (type == "malformed") return fmt::format("the CA found the request for {} malformed; this is likely a certcli bug, please report it", context);
  return "see the CA's detail above";
}


// The directory GET and the newNonce HEAD change nothing at the CA, so a passing failure (no
// answer at all, or a 5xx without Retry-After: a CA restarting behind its load balancer) is tried
// again, 1 s then 2 s apart, while the run's budget allows: kTransportAttempts tries in all.
// `asked_retry` is the Retry-After rule every request follows (429/503 with a time to wait).
template <class Send, class AskedRetry>
net::HttpResponse send_idempotent(Clock& clock, TimePoint deadline, Send send, AskedRetry asked_retry) {
  int failures = 0;
  auto another_try = [&] {
    ++failures;
    const std::chrono::seconds backoff{1 << (failures - 1)};
    if (failures >= kTransportAttempts || clock.now() + backoff > deadline) return false;
    clock.sleep_for(backoff);
    return true;
  };
  for (;;) {
    throw_if_stop_requested();
    net::HttpResponse response;
    try {
      response = send();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::network) throw;
      if (another_try()) continue;
      throw Error(ErrorKind::network, fmt::format("{} (tried {} time{})", e.what(), failures, failures == 1 ? "" : "s"),
                  e.hint(), e.subject());
    }
    if (asked_retry(response)) continue;
    if (response.status >= 500 && response.status <= 599 && another_try()) continue;
    return response;
  }
}

}  // namespace

Client::Client(net::HttpTransport& http, Clock& clock, std::string directory_url)
    : http_(http), clock_(clock), directory_url_(std::move(directory_url)), deadline_(clock_.now() + budget_) {
  sender_.name = fmt::format("the CA at {}", directory_url_);
  if (auto scheme_end = directory_url_.find("://"); scheme_end != std::string::npos)
    sender_.url_scheme = directory_url_.substr(0, scheme_end);
}

void Client::set_time_budget(std::chrono::seconds budget) {
  budget_ = budget;
  deadline_ = clock_.now() + budget;
}

bool Client::retry_when_asked(const net::HttpResponse& response, const std::string& url, const std::string& request,
                              int& retries) {
  // 429 and 503 with Retry-After (RFC 8555 6.6, RFC 9110 15.6.4): wait as asked and try once
  // more, a few times at most, and only while the wait fits the run.
  constexpr int kMostRetries = 3;
  if (response.status != 429 && response.status != 503) return false;
  auto asked = requested_retry_time(response, clock_.now());
  if (!asked || retries >= kMostRetries) return false;
  ++retries;
  // Requests before newOrder's answer leave no order behind; any later one belongs to an order.
  const bool asks_renewal_info = directory_ && !directory_->renewal_info.empty() &&
                                 url.starts_with(directory_->renewal_info);
  const bool order_placed = directory_ && url != directory_->new_order && url != directory_->new_account &&
                            url != directory_->new_nonce && url != directory_url_ && !asks_renewal_info;
  wait_until(*asked, fmt::format("{} was answered HTTP {}", request, response.status), url, order_placed);
  return true;
}

const Directory& Client::directory() {
  std::lock_guard exchange(exchange_mutex_);
  if (directory_) return *directory_;
  int retries = 0;
  const std::string request = "GET " + directory_url_;
  net::HttpResponse response = send_idempotent(
      clock_, deadline_, [&] { return http_.get(directory_url_); },
      [&](const net::HttpResponse& r) { return retry_when_asked(r, directory_url_, request, retries); });
  remember_nonce(response);
  const std::string hint = "check the directory URL (--directory or --ca); it must be the CA's ACME directory";
  if (response.status != 200)
    throw Error(ErrorKind::network,
                fmt::format("{} answered HTTP {} instead of an ACME directory", directory_url_, response.status), hint,
                directory_url_);
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  auto url_of = [&](const char* key) {
    if (!body.is_object() || !body.contains(key) || !body[key].is_string()) return std::string();
    return check_ca_url(body[key].get<std::string>(), fmt::format("a directory whose {} is", key), sender_);
  };
  Directory dir;
  dir.new_nonce = url_of("newNonce");
  dir.new_account = url_of("newAccount");
  dir.new_order = url_of("newOrder");
  dir.revoke_cert = url_of("revokeCert");
  dir.key_change = url_of("keyChange");
  dir.renewal_info = url_of("renewalInfo");
  if (dir.new_nonce.empty() || dir.new_account.empty() || dir.new_order.empty())
    throw Error(ErrorKind::network, fmt::format("{} does not serve an ACME directory (no newNonce, newAccount, newOrder)",
                                                directory_url_),
                hint, directory_url_);
  if (body.contains("meta") && body["meta"].is_object()) {
    const auto& meta = body["meta"];
    if (meta.contains("termsOfService") && meta["termsOfService"].is_string())
      dir.terms_of_service = ca_text(meta["termsOfService"].get<std::string>(), 2048);
    if (meta.contains("externalAccountRequired") && meta["externalAccountRequired"].is_boolean())
      dir.external_account_required = meta["externalAccountRequired"];
    dir.caa_identities = parse_caa_identities(meta);
    dir.profiles = parse_profiles(meta);
    if (meta.contains("website") && meta["website"].is_string()) dir.website = ca_text(meta["website"].get<std::string>(), 2048);
  }
  directory_ = std::move(dir);
  return *directory_;
}

void Client::use_account(const crypto::PrivateKey& key, std::string account_url) {
  account_key_ = &key;
  account_url_ = std::move(account_url);
}

std::string Client::key_authorization(const std::string& token) const {
  if (!account_key_) throw Error(ErrorKind::internal, "key_authorization called before use_account");
  return token + "." + crypto::jwk_thumbprint(crypto::public_jwk(*account_key_));
}

void Client::remember_nonce(const net::HttpResponse& response) {
  // RFC 8555 6.5.1: a nonce is base64url. Anything else is not echoed back into a signed header.
  auto nonce = response.header("replay-nonce");
  bool base64url = nonce && !nonce->empty() && nonce->size() <= 256 &&
                   std::all_of(nonce->begin(), nonce->end(), [](char c) {
                     return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                   });
  if (!base64url) return;
  std::lock_guard pool(exchange_mutex_);
  nonce_pool_.push_back(*nonce);
}

std::string Client::take_nonce() {
  auto pop = [&] {
    std::string nonce = std::move(nonce_pool_.back());
    nonce_pool_.pop_back();
    return nonce;
  };
  {
    std::lock_guard pool(exchange_mutex_);
    if (!nonce_pool_.empty()) return pop();
  }
  // The pool is empty: HEAD newNonce, without holding the pool, so that other exchanges go on
  // meanwhile (and may fetch a nonce of their own). Every answer puts a nonce back, so the pool
  // ends up holding one per exchange that was in flight at once: a run fetches about one nonce
  // per exchange ever in flight together, once (one, for a single-threaded run), plus one after
  // each request that got no answer.
  int retries = 0;
  const std::string url = directory().new_nonce;
  const std::string request = "HEAD " + url;
  net::HttpResponse response = send_idempotent(
      clock_, deadline_, [&] { return http_.head(url); },
      [&](const net::HttpResponse& r) { return retry_when_asked(r, url, request, retries); });
  std::lock_guard pool(exchange_mutex_);
  remember_nonce(response);
  if (nonce_pool_.empty())
    throw Error(ErrorKind::ca_rejected, fmt::format("{} gave no Replay-Nonce (HTTP {})", url, response.status),
                "the CA is misbehaving; try again later", url);
  return pop();
}

nlohmann::json Client::parse_body(const net::HttpResponse& response, const std::string& context) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    throw Error(ErrorKind::ca_rejected, fmt::format("{}: the CA answered HTTP {} with a body that is not a JSON object",
                                                    context, response.status),
                "the CA is misbehaving; try again later or report it to the CA");
  return body;
}

void Client::throw_problem(const net::HttpResponse& response, const std::string& context) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  Problem problem = Problem::from_json(body, static_cast<int>(response.status));
  if (problem.type.empty()) {
    problem.type = fmt::format("HTTP {}", response.status);
    problem.detail = ca_text(response.body, 200);
  }
  throw AcmeError(problem, context, hint_for(problem, context));
}

net::HttpResponse Client::post(const std::string& url, const std::optional<nlohmann::json>& payload, bool use_jwk,
                               const crypto::PrivateKey* signer) {
  if (signer) use_jwk = true;
  if (!signer && !account_key_) throw Error(ErrorKind::internal, "an ACME request was signed before use_account");
  const crypto::PrivateKey& key = signer ? *signer : *account_key_;
  if (!use_jwk) {
    std::lock_guard account(exchange_mutex_);  // recover_account may replace the URL meanwhile
    if (account_url_.empty()) throw Error(ErrorKind::internal, "a kid request was made without an account URL");
  }
  int retries = 0;
  int transport_failures = 0;
  for (int attempt = 1;; ++attempt) {
    throw_if_stop_requested();
    net::HttpResponse response;
    std::optional<Error> transport_error;
    std::string sent_kid;
    // No lock around the exchange: the HttpClient is thread-safe, so the requests of parallel
    // renewals sharing this client overlap on the wire. Only the nonce pool and the account URL
    // are shared, each held just long enough to take or put back a value.
    try {
      // Taking a nonce may need a HEAD newNonce: a CA that does not answer it is retried
      // like one that does not answer the POST.
      nlohmann::json header = {{"alg", crypto::jws_algorithm(key)}, {"nonce", take_nonce()}, {"url", url}};
      if (use_jwk) {
        header["jwk"] = crypto::public_jwk(key);
      } else {
        {
          std::lock_guard account(exchange_mutex_);
          sent_kid = account_url_;
        }
        header["kid"] = sent_kid;
      }
      nlohmann::json jws = make_jws(key, header, payload ? payload->dump() : std::string());
      response = http_.post(url, kJoseJson, jws.dump());
      remember_nonce(response);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::network) throw;
      transport_error = e;
    }
    if (transport_error) {
      // No answer (connection reset or refused, a timeout). The directory and the connection
      // worked before, so this is most likely passing: try again a few times, 1 s then 2 s apart,
      // within the run's budget. The request may have reached the CA, and its nonce is spent
      // either way; the retry is signed with a fresh nonce, so the CA sees a new valid request
      // (a newOrder retried so may leave one unused order behind at the CA).
      ++transport_failures;
      const std::chrono::seconds backoff{1 << (transport_failures - 1)};
      if (transport_failures >= kTransportAttempts || clock_.now() + backoff > deadline_)
        throw Error(ErrorKind::network,
                    fmt::format("{} (tried {} time{})", transport_error->what(), transport_failures,
                                transport_failures == 1 ? "" : "s"),
                    transport_error->hint(), transport_error->subject());
      clock_.sleep_for(backoff);
      continue;
    }
    if (response.status < 400) return response;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    Problem problem = Problem::from_json(body, static_cast<int>(response.status));
    // RFC 8555 6.5: a badNonce answer carries a fresh nonce, so retrying costs no extra request.
    if (problem.short_type() == "badNonce" && attempt < kBadNonceAttempts) continue;
    if (problem.short_type() == "accountDoesNotExist" && !use_jwk && recover_account(sent_kid)) continue;
    std::string request = fmt::format("POST {}", url);
    if (!problem.type.empty()) request += fmt::format(" ({})", problem.describe());
    if (retry_when_asked(response, url, request, retries)) continue;
    throw_problem(response, fmt::format("POST {}", url));
  }
}

bool Client::recover_account(const std::string& sent_kid) {
  // Under exchange_mutex_, so that parallel renewals sharing this client register once: the
  // others wait for the new URL (their nonces too), and a thread that finds the URL already
  // replaced just sends its request again.
  std::lock_guard exchange(exchange_mutex_);
  if (account_url_ != sent_kid) return true;
  if (!account_recovery_) return false;
  auto recovery = std::exchange(account_recovery_, nullptr);  // a CA that forgets again is not chased
  account_url_ = recovery();
  return true;
}

Account Client::register_account(const std::vector<std::string>& contacts, bool agree_to_terms,
                                 const std::optional<ExternalAccountBinding>& eab) {
  nlohmann::json payload = {{"termsOfServiceAgreed", agree_to_terms}};
  if (!contacts.empty()) {
    payload["contact"] = nlohmann::json::array();
    for (const auto& c : contacts) payload["contact"].push_back(c.starts_with("mailto:") ? c : "mailto:" + c);
  }
  if (eab) payload["externalAccountBinding"] = make_eab_jws(*eab, crypto::public_jwk(*account_key_), directory().new_account);
  net::HttpResponse response = post(directory().new_account, payload, /*use_jwk=*/true);
  nlohmann::json body = parse_body(response, "newAccount");
  Account account;
  account.url = checked_location(response, "an account");
  account.status = body.contains("status") && body["status"].is_string() ? ca_text(body["status"].get<std::string>(), 64) : "";
  if (body.contains("contact") && body["contact"].is_array())
    for (const auto& c : body["contact"])
      if (c.is_string()) account.contacts.push_back(ca_text(c.get<std::string>(), 256));
  account.created = response.status == 201;
  account_url_ = account.url;
  return account;
}

Order Client::new_order(const std::vector<std::string>& dns_names) { return new_order(dns_names, std::string()); }

Order Client::new_order(const std::vector<std::string>& dns_names, const std::string& replaces,
                        const std::string& profile) {
  nlohmann::json identifiers = nlohmann::json::array();
  for (const auto& name : dns_names)
    identifiers.push_back({{"type", is_ip_address(name) ? "ip" : "dns"}, {"value", name}});
  nlohmann::json payload = {{"identifiers", identifiers}};
  if (!profile.empty()) payload["profile"] = profile;
  // RFC 9773 5: only to a CA that offers ARI; another may refuse the unknown field.
  const bool send_replaces = !replaces.empty() && !directory().renewal_info.empty();
  if (send_replaces) payload["replaces"] = replaces;
  net::HttpResponse response;
  try {
    response = post(directory().new_order, payload);
  } catch (const AcmeError& e) {
    // The hint was only a hint: the renewal itself must still happen (one more request).
    if (!send_replaces || !problem_rejects_replaces(e.problem())) throw;
    payload.erase("replaces");
    response = post(directory().new_order, payload);
  }
  std::string url = checked_location(response, "an order");
  return parse_order(parse_body(response, "newOrder"), url, sender_);
}

std::string Client::checked_location(const net::HttpResponse& response, const char* what) const {
  std::string url = response.header("location").value_or("");
  if (url.empty())
    throw CaMisbehaved(fmt::format("{} created {} but sent no Location header", sender_.name, what), directory_url_);
  return check_ca_url(url, fmt::format("{} at", what), sender_);
}

Order Client::fetch_order(const std::string& url) {
  return parse_order(parse_body(post(url, std::nullopt), "order"), url, sender_);
}

Authorization Client::fetch_authorization(const std::string& url) {
  return parse_authorization(parse_body(post(url, std::nullopt), "authorization"), url, sender_);
}

std::optional<TimePoint> Client::answer_challenge(const Challenge& challenge) {
  // RFC 8555 7.5.1: the payload is an empty JSON object, not an empty string.
  net::HttpResponse response = post(challenge.url, nlohmann::json::object());
  return requested_retry_time(response, clock_.now());
}

void Client::wait_until(TimePoint retry_at, const std::string& what_waits, const std::string& subject,
                        bool order_placed) {
  // The CA's wish is honoured only while it fits the run: sleeping through a wait that ends
  // after the budget helps nobody, and a timer-driven run must end to be retried.
  if (retry_at > deadline_) throw RetryLater(what_waits, retry_at, subject, order_placed);
  clock_.sleep_for(std::max<std::chrono::milliseconds>(retry_at - clock_.now(), std::chrono::seconds{1}));
}

nlohmann::json Client::poll(const std::string& url, const char* what,
                           const std::function<bool(const std::string& status)>& settled,
                           const std::function<Error(const nlohmann::json& body)>& timed_out,
                           std::chrono::steady_clock::time_point since, std::optional<TimePoint> retry_at,
                           LatencyEstimate CaTiming::*learned, std::chrono::milliseconds unknown_delay) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const LatencyEstimate estimate = learned ? timing().*learned : LatencyEstimate{};
  auto elapsed = [&] { return duration_cast<milliseconds>(clock_.steady_now() - since); };
  // Retry-After always wins; otherwise the first poll goes where this CA usually finishes.
  if (retry_at)
    wait_until(*retry_at, fmt::format("the {} {}", what, url), url, true);
  else if (const milliseconds early = first_poll_delay(estimate, unknown_delay) - elapsed(); early.count() > 0)
    clock_.sleep_for(early);
  // What is learned is when the first poll went, which a Retry-After or a late wake-up moves.
  const milliseconds first_poll = std::max(elapsed(), milliseconds{0});
  std::chrono::milliseconds backoff{0};
  for (bool first = true;; first = false) {
    net::HttpResponse response = post(url, std::nullopt);
    nlohmann::json body = parse_body(response, what);
    const auto status = body.find("status");
    // A body without a status is returned too: the caller's parser reports it as malformed.
    if (status == body.end() || !status->is_string() || settled(status->get<std::string>())) {
      if (learned) {
        std::lock_guard guard(timing_mutex_);
        learn_latency(timing_.*learned, first_poll, first, elapsed());
      }
      return body;
    }
    const TimePoint now = clock_.now();
    if (auto asked = requested_retry_time(response, now)) {
      wait_until(*asked, fmt::format("the {} {} is still {}", what, url, status->get<std::string>()), url, true);
      continue;
    }
    if (now >= deadline_) throw timed_out(body);
    backoff = next_poll_backoff(estimate, first_poll, backoff);
    clock_.sleep_for(std::min<std::chrono::milliseconds>(backoff, std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now)));
  }
}

void Client::set_timing(const CaTiming& timing) {
  std::lock_guard guard(timing_mutex_);
  timing_ = timing;
}

CaTiming Client::timing() const {
  std::lock_guard guard(timing_mutex_);
  return timing_;
}

namespace {
// Without a measured CA: the first poll 50 ms after the answer or finalize, then 250 ms later,
// doubling. A CA on the same machine is done by then; for a CA that takes seconds this costs one
// poll more than starting at 300 ms would, once: after that its own time is known.
constexpr std::chrono::milliseconds kUnmeasuredValidation{50};
constexpr std::chrono::milliseconds kUnmeasuredIssuance{50};
}  // namespace

Authorization Client::wait_for_authorization(const std::string& url, std::chrono::steady_clock::time_point answered_at,
                                             std::optional<TimePoint> retry_at) {
  auto body = poll(url, "authorization", [](const std::string& status) { return status != "pending"; },
                   [&](const nlohmann::json& last) {
                     std::string name = parse_authorization(last, url, sender_).identifier.value;
                     return Error(ErrorKind::challenge,
                                  fmt::format("the CA did not finish validating {} within this run's {} s",
                                              name, budget_.count()),
                                  "the challenge answer is removed as this run ends, so the CA will most likely "
                                  "judge it invalid: run the same command again with a longer time limit; it "
                                  "resumes the order if the CA still can, and places a new one otherwise",
                                  name);
                   },
                   answered_at, retry_at, &CaTiming::validation, kUnmeasuredValidation);
  return parse_authorization(body, url, sender_);
}

Order Client::finalize(const Order& order, const std::string& csr_der) {
  net::HttpResponse response = post(order.finalize_url, nlohmann::json{{"csr", crypto::base64url_encode(csr_der)}});
  Order finalized = parse_order(parse_body(response, "finalize"), order.url, sender_);
  finalized.retry_at = requested_retry_time(response, clock_.now());
  return finalized;
}

Order Client::wait_for_order(const std::string& url, std::optional<std::chrono::steady_clock::time_point> since,
                             std::optional<TimePoint> retry_at) {
  auto body = poll(url, "order",
                   [](const std::string& status) { return status != "pending" && status != "processing"; },
                   [&](const nlohmann::json& last) {
                     return Error(ErrorKind::ca_rejected,
                                  fmt::format("the order {} was still {} after this run's {} s", url,
                                              parse_order(last, url, sender_).status, budget_.count()),
                                  "run the same command again: the order and its key are kept, and the next "
                                  "run picks up the certificate once the CA has issued it",
                                  url);
                   },
                   since.value_or(clock_.steady_now()), retry_at, since ? &CaTiming::issuance : nullptr,
                   since ? kUnmeasuredIssuance : std::chrono::milliseconds{0});
  return parse_order(body, url, sender_);
}

std::string Client::download_certificate(const std::string& url) {
  return download_certificate_chains(url, false).front();
}

std::vector<std::string> Client::download_certificate_chains(const std::string& url, bool with_alternates) {
  auto fetch = [&](const std::string& chain_url) {
    net::HttpResponse response = post(chain_url, std::nullopt);
    if (response.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      throw Error(ErrorKind::ca_rejected, fmt::format("the CA's answer at {} holds no PEM certificate", chain_url),
                  "the CA is misbehaving; try again later or report it to the CA", chain_url);
    return response;
  };
  net::HttpResponse first = fetch(url);
  std::vector<std::string> chains{first.body};
  if (!with_alternates) return chains;
  for (const auto& alternate : parse_alternate_links(first.header_values("link"), sender_))
    if (alternate != url) chains.push_back(fetch(alternate).body);
  return chains;
}

}  // namespace certcli::acme
