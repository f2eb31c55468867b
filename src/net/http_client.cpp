// HttpClient over the libcurl multi interface, so that threads sharing one client (parallel
// renewals) overlap on the wire. The client's multi handle owns the connection cache: whichever
// easy handle carries a request, it reuses an open connection (keep-alive, TLS set up once), and
// requests in flight together are multiplexed over one HTTP/2 connection where the server offers
// h2 by ALPN, or spread over a few parallel HTTP/1.1 keep-alive connections where it does not.
// One I/O thread, started by the first request, drives every transfer; a calling thread hands it
// an easy handle and sleeps until that transfer is done.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/net.hpp>

#include <curl/curl.h>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <string_view>

namespace certcli::net {
namespace {

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct MultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init() {
  // curl_global_init is not thread-safe and must run before any easy handle exists. We never
  // call curl_global_cleanup: other clients may still be alive at exit, and the OS reclaims it.
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw Error(ErrorKind::internal, std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
    }
  });
}

// curl_easy_setopt is variadic: numeric options must be passed as long, so callers spell 1L etc.
template <typename T>
void setopt(CURL* handle, CURLoption option, T value) {
  CURLcode rc = curl_easy_setopt(handle, option, value);
  if (rc != CURLE_OK) {
    throw Error(ErrorKind::internal, std::string("cannot configure libcurl: ") + curl_easy_strerror(rc));
  }
}

template <typename T>
void multi_setopt(CURLM* handle, CURLMoption option, T value) {
  CURLMcode rc = curl_multi_setopt(handle, option, value);
  if (rc != CURLM_OK) {
    throw Error(ErrorKind::internal, std::string("cannot configure libcurl: ") + curl_multi_strerror(rc));
  }
}

// Connections to one host at a time: what an HTTP/1.1-only CA gets when requests overlap (an
// h2 CA gets one connection, multiplexed). A handful is plenty for --parallel and polite to the
// CA; further requests wait in curl's queue for a free connection.
constexpr long kMaxHostConnections = 8;
// How long the I/O thread sleeps in curl_multi_poll at most while transfers run: every transfer's
// progress callback runs at least this often, which bounds how late Ctrl-C aborts it.
constexpr int kActivePollMs = 200;
// And while it has no transfer: new ones wake it at once (curl_multi_wakeup); the timeout only
// guards against a lost wakeup.
constexpr int kIdlePollMs = 1000;

void append(SlistPtr& list, const std::string& line) {
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) throw std::bad_alloc();
  (void)list.release();  // curl_slist_append returns the same head once the list is non-empty
  list.reset(head);
}

std::string_view trim(std::string_view s) {
  auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// No ACME resource comes near this (a certificate chain is a few KiB); a peer sending more is
// broken or hostile, and the transfer is cut off instead of filling memory.
constexpr size_t kMaxBodyBytes = 4 << 20;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  if (response->body.size() + size * count > kMaxBodyBytes) return 0;  // curl reports CURLE_WRITE_ERROR
  response->body.append(data, size * count);
  return size * count;
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return stop_requested() ? 1 : 0; }

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line means the previous block was interim (100 Continue, a proxy's CONNECT
    // answer): only the final response's headers describe the body we return.
    response->headers.clear();
    return line.size();
  }
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    // Obsolete line folding (RFC 9112 5.2): the line continues the previous header's value.
    if (!response->headers.empty() && !trim(line).empty()) {
      auto& value = response->headers.back().second;
      value += ' ';
      value += trim(line);
    }
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();  // the blank line ending the block
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  response->headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  return line.size();
}

std::string hint_for(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return "check the host name in the URL and that DNS works on this machine";
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "check the proxy named in HTTPS_PROXY/https_proxy (or set NO_PROXY for this host)";
    case CURLE_COULDNT_CONNECT:
      return "check that the ACME directory URL is right and the CA is reachable";
    case CURLE_OPERATION_TIMEDOUT:
      return "the CA did not answer in time; retry later, and check any firewall or proxy in between";
    case CURLE_PEER_FAILED_VERIFICATION:
      return "pass --ca-bundle FILE with the CA's root if it uses a private CA";
    case CURLE_SSL_CONNECT_ERROR:
      return "check that the URL's scheme and port are right (https:// to a TLS port); "
             "pass --ca-bundle FILE with the CA's root if it uses a private CA";
    case CURLE_SSL_CACERT_BADFILE:
      return "check that the --ca-bundle file holds PEM certificates";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "use an http:// or https:// URL";
    case CURLE_URL_MALFORMAT:
      return "check the URL for typos";
    case CURLE_WRITE_ERROR:
      return "the server sent a response larger than 4 MiB, which no ACME server does; check the URL";
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return "the connection was dropped; retry, and check any proxy or firewall in between";
    default:
      return "check the URL and this machine's network connection";
  }
}

void check_ca_bundle(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorKind::invalid_input, "CA bundle " + path + " does not exist or is not a file",
                "check the path given to --ca-bundle", path);
  }
  if (!std::ifstream(path)) {
    throw Error(ErrorKind::invalid_input, "cannot read CA bundle " + path,
                "check the permissions of the file given to --ca-bundle", path);
  }
}

// One request on its way: what the calling thread set up and the I/O thread fills in. It lives
// on the caller's stack, which waits until `done` before it goes.
struct Transfer {
  CurlPtr handle;
  HttpResponse response;
  SlistPtr headers;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURLcode result = CURLE_OK;
  bool done = false;  // guarded by Impl::mutex
};

// Options every request of this client carries; set on a fresh or freshly reset easy handle.
void configure(CURL* h, const HttpClientOptions& options) {
  // Signals for DNS timeouts are unsafe with threads (the I/O thread, the http-01 server).
  setopt(h, CURLOPT_NOSIGNAL, 1L);
  // ACME puts meaning in 201/3xx Location headers; the caller decides what to fetch next.
  setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  setopt(h, CURLOPT_PROTOCOLS_STR, options.https_only ? "https" : "http,https");
#else
  setopt(h, CURLOPT_PROTOCOLS,
         static_cast<long>(options.https_only ? CURLPROTO_HTTPS : (CURLPROTO_HTTP | CURLPROTO_HTTPS)));
#endif
  // No CURLOPT_HTTP_VERSION on purpose: curl's default (CURL_HTTP_VERSION_2TLS) offers h2 by
  // ALPN for https and speaks HTTP/1.1 over plain http.
  setopt(h, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  setopt(h, CURLOPT_TIMEOUT, options.total_timeout_seconds);
  setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // "": every encoding this libcurl can decode
  if (!options.ca_bundle.empty()) {
    setopt(h, CURLOPT_CAINFO, options.ca_bundle.c_str());
    // The bundle replaces the system store, so libcurl's compiled-in CA directory
    // (/etc/ssl/certs on Debian) must not be consulted beside it: a private CA's run trusts
    // exactly the bundle.
    setopt(h, CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  }
  // A proxy's CONNECT answer is not part of the CA's response.
  setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  // No CURLOPT_PROXY on purpose: curl then reads HTTPS_PROXY/https_proxy/http_proxy/NO_PROXY
  // from the environment itself, which is the behaviour users of curl-based tools expect.
  // The I/O thread runs every transfer at least every kActivePollMs, and libcurl calls this each
  // time; a non-zero answer aborts the transfer (CURLE_ABORTED_BY_CALLBACK), which is how Ctrl-C
  // reaches a request.
  setopt(h, CURLOPT_NOPROGRESS, 0L);
  setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  // A request made while another one's connection is still being set up waits to learn whether
  // that connection multiplexes (h2) instead of opening a connection of its own at once. ALPN
  // tells at the TLS handshake; over plain http curl learns it from the first answer.
  setopt(h, CURLOPT_PIPEWAIT, 1L);
}

}  // namespace

struct HttpClient::Impl {
  // Declared first, destroyed last: easy handles go before the multi handle whose connection
  // cache they used.
  MultiPtr multi;
  std::mutex mutex;
  std::condition_variable finished;   // a transfer's `done` became true
  std::vector<Transfer*> queued;      // handed over, not yet added to `multi`
  std::vector<CurlPtr> idle_handles;  // kept for their TLS session cache
  bool stopping = false;
  std::thread io_thread;  // started by the first request, so a run that sends none starts none
  std::mutex trace_mutex;  // the trace callbacks are called one at a time

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    if (io_thread.joinable()) {
      curl_multi_wakeup(multi.get());
      io_thread.join();
    }
  }

  CurlPtr take_handle() {
    CurlPtr handle;
    {
      std::lock_guard lock(mutex);
      if (!idle_handles.empty()) {
        handle = std::move(idle_handles.back());
        idle_handles.pop_back();
      }
    }
    if (!handle) handle.reset(curl_easy_init());
    if (!handle) throw Error(ErrorKind::internal, "cannot create a libcurl handle");
    return handle;
  }

  // Keeps the handle's session cache for the next request; curl_easy_reset drops every option,
  // among them the pointers into the request that just ended.
  void give_back(CurlPtr handle) {
    curl_easy_reset(handle.get());
    std::lock_guard lock(mutex);
    idle_handles.push_back(std::move(handle));
  }

  // Hands `transfer` to the I/O thread and waits until it is done; returns curl's result.
  CURLcode run(Transfer& transfer) {
    std::unique_lock lock(mutex);
    if (!io_thread.joinable()) start_io_thread();
    queued.push_back(&transfer);
    lock.unlock();
    curl_multi_wakeup(multi.get());  // safe from any thread; a failure only costs kIdlePollMs
    lock.lock();
    finished.wait(lock, [&] { return transfer.done; });
    return transfer.result;
  }

  // Under `mutex`.
  void start_io_thread() {
    // The thread blocks every signal, so SIGINT and SIGTERM reach the threads of certcli itself
    // (their handler only sets the stop flag, which the progress callback reads here).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    try {
      io_thread = std::thread([this] { drive(); });
    } catch (...) {
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }

  void complete(Transfer* transfer, CURLcode result) {
    std::lock_guard lock(mutex);
    transfer->result = result;
    transfer->done = true;
    finished.notify_all();
  }

  // The I/O thread: the only one that touches `multi` (but for curl_multi_wakeup) and the easy
  // handles while they are added to it.
  void drive() {
    CURLM* m = multi.get();
    std::vector<Transfer*> in_flight;
    int running = 0;
    for (;;) {
      std::vector<Transfer*> arrived;
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        arrived.swap(queued);
      }
      for (Transfer* transfer : arrived) {
        if (curl_multi_add_handle(m, transfer->handle.get()) == CURLM_OK) {
          in_flight.push_back(transfer);
        } else {
          complete(transfer, CURLE_FAILED_INIT);
        }
      }
      curl_multi_perform(m, &running);
      int left = 0;
      while (CURLMsg* message = curl_multi_info_read(m, &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        // The message is gone once its handle is removed: copy what it says first.
        CURL* easy = message->easy_handle;
        CURLcode result = message->data.result;
        char* with_transfer = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &with_transfer);
        auto* transfer = reinterpret_cast<Transfer*>(with_transfer);
        curl_multi_remove_handle(m, easy);
        std::erase(in_flight, transfer);
        complete(transfer, result);  // its caller may return at once: not touched after this
      }
      curl_multi_poll(m, nullptr, 0, running > 0 ? kActivePollMs : kIdlePollMs, nullptr);
    }
    // Only a client destroyed while another thread still waits on it gets here with transfers.
    for (Transfer* transfer : in_flight) {
      curl_multi_remove_handle(m, transfer->handle.get());
      complete(transfer, CURLE_ABORTED_BY_CALLBACK);
    }
    std::vector<Transfer*> never_added;
    {
      std::lock_guard lock(mutex);
      never_added.swap(queued);
    }
    for (Transfer* transfer : never_added) complete(transfer, CURLE_ABORTED_BY_CALLBACK);
  }
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  if (!options_.ca_bundle.empty()) check_ca_bundle(options_.ca_bundle);
  global_init();
  impl_ = std::make_unique<Impl>();
  impl_->multi.reset(curl_multi_init());
  if (!impl_->multi) throw Error(ErrorKind::internal, "cannot create a libcurl multi handle");
  CURLM* m = impl_->multi.get();
  // Requests in flight together share one HTTP/2 connection where the server speaks h2.
  multi_setopt(m, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, kMaxHostConnections);
  // Check every option once here, so that a bad one (an unsupported protocol list, say) fails
  // the constructor as it did when the client had a single handle.
  CurlPtr first(curl_easy_init());
  if (!first) throw Error(ErrorKind::internal, "cannot create a libcurl handle");
  configure(first.get(), options_);
  impl_->give_back(std::move(first));
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::get(const std::string& url) { return perform("GET", url, nullptr, nullptr); }

HttpResponse HttpClient::head(const std::string& url) { return perform("HEAD", url, nullptr, nullptr); }

HttpResponse HttpClient::post(const std::string& url, const std::string& content_type,
                              const std::string& body) {
  return perform("POST", url, &content_type, &body);
}

HttpResponse HttpClient::perform(const std::string& method, const std::string& url,
                                 const std::string* content_type, const std::string* body) {
  if (options_.https_only) {
    std::string scheme = url.substr(0, url.find("://"));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme != "https")
      throw Error(ErrorKind::usage,
                  "refusing " + url + ": it is not an https URL, and over plain http anyone on the way could read "
                  "and change what the CA sends",
                  options_.plain_http_hint.empty() ? "use the CA's https:// URL" : options_.plain_http_hint, url);
  }
  Transfer transfer;
  transfer.handle = impl_->take_handle();
  CURL* h = transfer.handle.get();
  // A handle from the idle list was reset; every option is set again, so no request inherits
  // another's method, headers or body.
  configure(h, options_);
  setopt(h, CURLOPT_ERRORBUFFER, transfer.error_buffer);
  setopt(h, CURLOPT_PRIVATE, static_cast<void*>(&transfer));
  if (method == "HEAD") {
    setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "POST") {
    if (content_type->find_first_of("\r\n") != std::string::npos) {
      throw Error(ErrorKind::internal, "Content-Type contains a line break: " + *content_type);
    }
    append(transfer.headers, "Content-Type: " + *content_type);
    // Without this curl sends "Expect: 100-continue" for larger bodies and waits for a reply
    // some servers never send; ACME bodies (a finalize CSR) are small enough to just send.
    append(transfer.headers, "Expect:");
    setopt(h, CURLOPT_POST, 1L);
    setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    setopt(h, CURLOPT_POSTFIELDS, body->data());
    setopt(h, CURLOPT_HTTPHEADER, transfer.headers.get());
  }
  setopt(h, CURLOPT_URL, url.c_str());
  setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&transfer.response));
  setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&transfer.response));

  if (options_.trace_message) {
    TracedMessage request{true, method + " " + url, {}, body ? *body : std::string()};
    if (content_type) request.headers.emplace_back("content-type", *content_type);
    std::lock_guard lock(impl_->trace_mutex);
    options_.trace_message(request);
  }
  ++request_count_;
  CURLcode rc = impl_->run(transfer);

  long new_connections = 0;
  if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &new_connections) == CURLE_OK) {
    connection_count_ += new_connections;
  }
  long http_version = 0;
  curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &http_version);
  HttpResponse response = std::move(transfer.response);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  const std::string error_detail = transfer.error_buffer;
  impl_->give_back(std::move(transfer.handle));

  // Ctrl-C during a transfer: the progress callback aborted it, and that is an interruption,
  // not a network failure (exit 130, the state kept for the next run).
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw_if_stop_requested();
  if (rc != CURLE_OK) {
    std::string message = method + " " + url + " failed: " + curl_easy_strerror(rc);
    if (!error_detail.empty() && error_detail != curl_easy_strerror(rc)) message += " (" + error_detail + ")";
    throw Error(ErrorKind::network, std::move(message), hint_for(rc), url);
  }
  std::lock_guard lock(impl_->trace_mutex);
  if (options_.trace)
    options_.trace(method + " " + url + " -> " + std::to_string(response.status) +
                   (new_connections > 0 ? " (new connection)" : "") +
                   (http_version == CURL_HTTP_VERSION_2_0 ? " (HTTP/2)" : ""));
  if (options_.trace_message)
    options_.trace_message({false, "HTTP " + std::to_string(response.status), response.headers, response.body});
  return response;
}

}  // namespace certcli::net
