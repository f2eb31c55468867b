// certcli/net.hpp — the only module that opens sockets.
// Owns: an HTTP(S) client over libcurl (thread-safe; keep-alive connections, HTTP/2 where the
// server offers it, timeouts, a private CA bundle, proxies from the environment as curl reads
// them), a small HTTP/1.1 server that hands each request to a handler (http-01 answers, later
// `certcli serve`), and a one-shot probe that fetches a URL the way a CA's validation server
// does (for the http-01 preflight). Knows nothing of ACME.
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

// The libcurl this process runs with ("libcurl 7.88.1"), for --version.
std::string library_version();

struct HttpResponse {
  long status = 0;
  // Header names lowercased, in arrival order; a name may repeat (Link).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of a header (case-insensitive name), if present.
  std::optional<std::string> header(std::string_view name) const;
  std::vector<std::string> header_values(std::string_view name) const;
};

// One HTTP message as it went over the wire, for --verbose (HttpClientOptions::trace_message).
// It holds secrets (JWS signatures, key authorizations): whoever shows it redacts it first
// (acme::trace_lines).
struct TracedMessage {
  bool outgoing = true;    // a request; else the response to it
  std::string start_line;  // "POST https://..." or "HTTP 201"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpClientOptions {
  std::string ca_bundle;            // PEM trust anchors used instead of the system store; empty: system store
  // Refuse any URL but https:// (the CA's client: plain http lets anyone on the path read and
  // change what the CA says); `plain_http_hint` is the refusal's hint, from the caller that
  // knows how the user allows it.
  bool https_only = false;
  std::string plain_http_hint;
  long connect_timeout_seconds = 10;
  long total_timeout_seconds = 60;
  std::string user_agent = "certcli/" CERTCLI_VERSION;
  // Called with one line per request ("POST https://... -> 201"); for --verbose.
  std::function<void(const std::string&)> trace;
  // Called with each request before it is sent and each response, for --verbose.
  std::function<void(const TracedMessage&)> trace_message;
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

// Thread-safe: threads may share one client, and their requests overlap on the wire, multiplexed
// over one HTTP/2 connection where the server offers h2, else over up to 8 parallel HTTP/1.1
// keep-alive connections to a host. Consecutive requests to the same host reuse a connection
// (HTTP keep-alive). The first request starts one I/O thread that runs every transfer, so a
// client that sends nothing starts no thread. Each call blocks until its answer is in. Throws
// Error{network} when no HTTP answer arrives (DNS failure, refused, TLS failure, timeout), with
// curl's reason and a hint. The trace callbacks are called one at a time, on the calling threads.
// The client must outlive every call made on it.
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
  std::atomic<long> request_count_{0};
  std::atomic<long> connection_count_{0};
};

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 server: a request head in, one response out, then the connection closes.
// ---------------------------------------------------------------------------------------------

// A request as the server hands it to a handler: the head only (the server reads no bodies).
struct HttpRequest {
  std::string method;  // "GET" or "HEAD": the server answers every other method 405 itself
  std::string target;  // as sent: "/p?q" or "http://host/p?q"
  std::string path;    // the target's path, not percent-decoded ("/p")
  std::string query;   // after '?', without it, not percent-decoded ("" when none)
  // Header names lowercased, values trimmed, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string peer;  // the client's IP address ("192.0.2.1", "2001:db8::1")

  std::optional<std::string> header(std::string_view name) const;
};

// Turns a request into a response; called on the server's thread, one request at a time, so it
// must answer quickly (no network, no lock waits). The server adds Content-Length and
// "Connection: close", and Content-Type text/plain when the handler sets none; for HEAD it
// sends the headers only. An exception becomes a 500.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A text/plain response.
HttpResponse text_response(long status, std::string body);

// What one client, or all of them together, may hold of the server. The defaults keep the
// http-01 answer reachable while others hold connections open on purpose (slowloris).
struct HttpServerLimits {
  // From accept to the blank line that ends the head; then 408 and close.
  std::chrono::milliseconds head_timeout{5000};
  // For sending the response (to a client that does not read) and for the polite close.
  std::chrono::milliseconds send_timeout{5000};
  std::size_t max_head_bytes = 8 * 1024;  // larger heads get 431
  std::size_t max_connections = 256;
  // Per IPv4 address or IPv6 /64. A new connection over a cap closes the oldest one of the
  // client with the most connections (one still sending its head first), so new requests are
  // always read and a flood only ever pushes out its own connections.
  std::size_t max_connections_per_client = 16;
};

// Told of every response the server sends, the handler's and its own (400, 405, 408, 431), for
// an access log: the request as far as it was read (method and path empty when no complete head
// parsed; the peer always set), the status and the body bytes sent. Called on the server's
// thread; an exception from it is ignored.
using HttpObserver = std::function<void(const HttpRequest& request, long status, std::size_t body_bytes)>;

// Serves connections concurrently on one thread (a poll() loop over non-blocking sockets):
// a request is answered as soon as its head is complete, whatever other connections do. Runs
// until destroyed; the destructor returns at once, closing every connection.
class HttpServer {
 public:
  // `address` is an IPv4 or IPv6 literal; port 0 picks a free port. Throws Error{challenge}
  // (with "is another web server on port N?" as the hint) when it cannot bind.
  HttpServer(const std::string& address, int port, HttpHandler handler, HttpServerLimits limits = {},
             HttpObserver observer = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // How many requests were answered with a 2xx status (for tests and diagnostics).
  long hits() const { return hits_; }

 private:
  void serve();
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  int port_ = 0;
  HttpHandler handler_;
  HttpServerLimits limits_;
  HttpObserver observer_;
  std::atomic<long> hits_{0};
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
