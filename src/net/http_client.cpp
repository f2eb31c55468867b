// HttpClient over one libcurl easy handle. Keeping the handle for the client's lifetime is what
// gives us keep-alive: curl parks the connection in the handle's cache between transfers.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/net.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
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

}  // namespace

struct HttpClient::Impl {
  CurlPtr curl;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  if (!options_.ca_bundle.empty()) check_ca_bundle(options_.ca_bundle);
  global_init();
  impl_ = std::make_unique<Impl>();
  impl_->curl.reset(curl_easy_init());
  if (!impl_->curl) throw Error(ErrorKind::internal, "cannot create a libcurl handle");
  CURL* h = impl_->curl.get();

  setopt(h, CURLOPT_ERRORBUFFER, impl_->error_buffer);
  // Signals for DNS timeouts are unsafe with threads (the http-01 server runs on one).
  setopt(h, CURLOPT_NOSIGNAL, 1L);
  // ACME puts meaning in 201/3xx Location headers; the caller decides what to fetch next.
  setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  setopt(h, CURLOPT_PROTOCOLS_STR, options_.https_only ? "https" : "http,https");
#else
  setopt(h, CURLOPT_PROTOCOLS,
         static_cast<long>(options_.https_only ? CURLPROTO_HTTPS : (CURLPROTO_HTTP | CURLPROTO_HTTPS)));
#endif
  setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
  setopt(h, CURLOPT_TIMEOUT, options_.total_timeout_seconds);
  setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // "": every encoding this libcurl can decode
  if (!options_.ca_bundle.empty()) {
    setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    // The bundle replaces the system store, so libcurl's compiled-in CA directory
    // (/etc/ssl/certs on Debian) must not be consulted beside it: a private CA's run trusts
    // exactly the bundle.
    setopt(h, CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  }
  // A proxy's CONNECT answer is not part of the CA's response.
  setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  // No CURLOPT_PROXY on purpose: curl then reads HTTPS_PROXY/https_proxy/http_proxy/NO_PROXY
  // from the environment itself, which is the behaviour users of curl-based tools expect.
  // libcurl calls this about once a second and more often while data flows; a non-zero answer
  // aborts the transfer (CURLE_ABORTED_BY_CALLBACK), which is how Ctrl-C reaches a request.
  setopt(h, CURLOPT_NOPROGRESS, 0L);
  setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
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
  CURL* h = impl_->curl.get();
  HttpResponse response;
  SlistPtr headers;

  // The handle remembers every option, so each request first puts the method back to a plain
  // GET without custom headers, then sets only what it needs.
  setopt(h, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  setopt(h, CURLOPT_HTTPGET, 1L);
  setopt(h, CURLOPT_NOBODY, 0L);
  if (method == "HEAD") {
    setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "POST") {
    if (content_type->find_first_of("\r\n") != std::string::npos) {
      throw Error(ErrorKind::internal, "Content-Type contains a line break: " + *content_type);
    }
    append(headers, "Content-Type: " + *content_type);
    // Without this curl sends "Expect: 100-continue" for larger bodies and waits for a reply
    // some servers never send; ACME bodies (a finalize CSR) are small enough to just send.
    append(headers, "Expect:");
    setopt(h, CURLOPT_POST, 1L);
    setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    setopt(h, CURLOPT_POSTFIELDS, body->data());
    setopt(h, CURLOPT_HTTPHEADER, headers.get());
  }
  setopt(h, CURLOPT_URL, url.c_str());
  setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&response));
  setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&response));

  if (options_.trace_message) {
    TracedMessage request{true, method + " " + url, {}, body ? *body : std::string()};
    if (content_type) request.headers.emplace_back("content-type", *content_type);
    options_.trace_message(request);
  }
  impl_->error_buffer[0] = '\0';
  ++request_count_;
  CURLcode rc = curl_easy_perform(h);

  // Do not leave the handle pointing at this call's header list and body, which die here.
  setopt(h, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
  setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(nullptr));
  if (method == "POST") {
    setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
    setopt(h, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));
    setopt(h, CURLOPT_HTTPGET, 1L);  // after POSTFIELDS, which switches the method to POST
  }

  long new_connections = 0;
  if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &new_connections) == CURLE_OK) {
    connection_count_ += new_connections;
  }

  // Ctrl-C during a transfer: the progress callback aborted it, and that is an interruption,
  // not a network failure (exit 130, the state kept for the next run).
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw_if_stop_requested();
  if (rc != CURLE_OK) {
    std::string message = method + " " + url + " failed: " + curl_easy_strerror(rc);
    std::string detail = impl_->error_buffer;
    if (!detail.empty() && detail != curl_easy_strerror(rc)) message += " (" + detail + ")";
    throw Error(ErrorKind::network, std::move(message), hint_for(rc), url);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  if (options_.trace)
    options_.trace(method + " " + url + " -> " + std::to_string(response.status) +
                   (new_connections > 0 ? " (new connection)" : ""));
  if (options_.trace_message)
    options_.trace_message({false, "HTTP " + std::to_string(response.status), response.headers, response.body});
  return response;
}

}  // namespace certcli::net
