// certcli/net.hpp — the only module that opens sockets.
// Owns: an HTTP(S) client over libcurl (one keep-alive connection reused per client, timeouts,
// a private CA bundle, proxies from the environment as curl reads them), a small HTTP/1.1
// server for http-01 answers, and a one-shot probe that fetches a URL the way a CA's validation
// server does (for the http-01 preflight). Knows nothing of ACME.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace certcli::net {

struct HttpResponse {
  long status = 0;
  // Header names lowercased, in arrival order; a name may repeat (Link).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of a header (case-insensitive name), if present.
  std::optional<std::string> header(std::string_view name) const;
  std::vector<std::string> header_values(std::string_view name) const;
};

struct HttpClientOptions {
  std::string ca_bundle;            // PEM trust anchors used instead of the system store; empty: system store
  long connect_timeout_seconds = 10;
  long total_timeout_seconds = 60;
  std::string user_agent = "certcli/" CERTCLI_VERSION;
  // Called with one line per request ("POST https://... -> 201"); for --verbose.
  std::function<void(const std::string&)> trace;
};

// What the ACME client and the verbs need of HTTP: an interface, so that lifecycle and acme
// code can be tested with a transport of the test's own where a real CA is not the better test.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResponse get(const std::string& url) = 0;
  virtual HttpResponse head(const std::string& url) = 0;
  virtual HttpResponse post(const std::string& url, const std::string& content_type, const std::string& body) = 0;
  // How many requests were sent through it.
  virtual long request_count() const = 0;
};

// One client holds one curl easy handle, so consecutive requests to the same host reuse the
// connection (HTTP keep-alive). Not thread-safe. Throws Error{network} when no HTTP answer
// arrives (DNS failure, refused, TLS failure, timeout), with curl's reason and a hint.
class HttpClient final : public HttpTransport {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse get(const std::string& url) override;
  HttpResponse head(const std::string& url) override;
  HttpResponse post(const std::string& url, const std::string& content_type, const std::string& body) override;

  // How many requests this client sent, and how many new connections it opened for them.
  long request_count() const override { return request_count_; }
  long connection_count() const { return connection_count_; }

 private:
  HttpResponse perform(const std::string& method, const std::string& url,
                       const std::string* content_type, const std::string* body);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpClientOptions options_;
  long request_count_ = 0;
  long connection_count_ = 0;
};

// A minimal HTTP/1.1 server for http-01: answers GET/HEAD for registered paths with
// 200 text/plain, everything else 404. Runs on its own thread until destroyed.
class HttpServer {
 public:
  // `address` is an IPv4 or IPv6 literal; port 0 picks a free port. Throws Error{network}
  // (with "is another web server on port N?" as the hint) when it cannot bind.
  HttpServer(const std::string& address, int port);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  void set_response(const std::string& path, const std::string& body);
  void remove_response(const std::string& path);
  // How many requests were answered 200 (for tests and diagnostics).
  long hits() const { return hits_; }

 private:
  void serve();
  void handle(int client_fd);
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<long> hits_{0};
  std::mutex mutex_;
  std::map<std::string, std::string> responses_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// One fetch as a CA's validation server makes it, for the http-01 preflight.
// ---------------------------------------------------------------------------------------------

enum class ProbeOutcome {
  answered,        // an HTTP response arrived (any status)
  refused,         // the address refused the connection
  timed_out,       // no connection, or no complete answer, within the timeout
  connect_failed,  // no route, network unreachable, ...
  tls_failed,      // https: the TLS handshake failed
  no_answer,       // connected, but the peer closed or sent something that is not HTTP
};

// A 3xx Location resolved against the URL fetched, split as a CA checks it.
struct ProbeRedirect {
  std::string url;
  std::string scheme;  // "http", "https", or whatever the server wrote
  std::string host;    // without IPv6 brackets
  int port = 0;        // the explicit port, else the scheme's default
};

struct ProbeResponse {
  ProbeOutcome outcome = ProbeOutcome::no_answer;
  long status = 0;
  std::string location;                  // the Location header as sent, "" when none
  std::optional<ProbeRedirect> redirect;  // set for a Location that parses as a URL
  std::string body;                      // at most kProbeBodyLimit bytes
  bool body_truncated = false;
  std::string error;  // curl's reason when nothing was answered
};

// A CA reads only the first bytes of an http-01 answer; a key authorization is under 100.
constexpr std::size_t kProbeBodyLimit = 4096;

// GETs `url` once, connecting to `connect_address` (an IP literal) instead of resolving the
// URL's host, which is still sent as Host and TLS SNI. Follows no redirect, uses no proxy (the
// CA does not go through ours), and does not verify an https peer (CAs accept any certificate
// after an http-01 redirect). `timeout` bounds the connection and the whole transfer. Reports
// what happened instead of throwing; throws Error{interrupted} on Ctrl-C.
ProbeResponse probe_http(const std::string& url, const std::string& connect_address,
                         std::chrono::milliseconds timeout);

}  // namespace certcli::net
