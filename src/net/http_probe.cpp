// probe_http: one GET the way a CA's validation server sends it, for the http-01 preflight.
// Unlike HttpClient it never throws for what the peer does: refusing, timing out or failing a
// handshake is the finding, reported as an outcome for challenge/ to explain.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/net.hpp>

#include <curl/curl.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>

namespace certcli::net {
namespace {

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlString {
  char* text = nullptr;
  ~CurlString() { curl_free(text); }
};

void global_init() {
  // Not thread-safe, and must precede every easy handle; curl counts calls, so HttpClient's
  // own call does no harm.
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw Error(ErrorKind::internal, "cannot initialise libcurl");
  });
}

template <typename T>
void setopt(CURL* handle, CURLoption option, T value) {
  CURLcode rc = curl_easy_setopt(handle, option, value);
  if (rc != CURLE_OK)
    throw Error(ErrorKind::internal, std::string("cannot configure libcurl: ") + curl_easy_strerror(rc));
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& response = *static_cast<ProbeResponse*>(user);
  size_t room = kProbeBodyLimit - response.body.size();
  if (size * count > room) {
    // Keep what fits and stop: the rest cannot change what a CA decides.
    response.body.append(data, room);
    response.body_truncated = true;
    return 0;  // curl reports CURLE_WRITE_ERROR
  }
  response.body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& response = *static_cast<ProbeResponse*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos && colon == 8 && curl_strnequal(line.data(), "location", 8)) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    response.location = value;
  } else if (line.starts_with("HTTP/")) {
    response.location.clear();  // an interim 1xx block does not describe the final answer
  }
  return line.size();
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return stop_requested() ? 1 : 0; }

// The redirect target split as a CA checks it; nullopt when curl cannot parse it.
std::optional<ProbeRedirect> split_redirect(const std::string& url) {
  UrlPtr handle(curl_url());
  if (!handle) throw std::bad_alloc();
  // Non-http schemes must still parse, so that the caller can say which scheme was refused.
  if (curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) return std::nullopt;
  CurlString scheme, host, port;
  if (curl_url_get(handle.get(), CURLUPART_SCHEME, &scheme.text, 0) != CURLUE_OK ||
      curl_url_get(handle.get(), CURLUPART_HOST, &host.text, 0) != CURLUE_OK)
    return std::nullopt;
  ProbeRedirect redirect{url, scheme.text, host.text, 0};
  if (redirect.host.size() > 2 && redirect.host.front() == '[') redirect.host = redirect.host.substr(1, redirect.host.size() - 2);
  if (curl_url_get(handle.get(), CURLUPART_PORT, &port.text, CURLU_DEFAULT_PORT) == CURLUE_OK && port.text)
    redirect.port = std::atoi(port.text);
  return redirect;
}

ProbeOutcome classify(CURLcode rc, long os_errno) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return ProbeOutcome::timed_out;
    case CURLE_COULDNT_CONNECT:
      return os_errno == ECONNREFUSED ? ProbeOutcome::refused : ProbeOutcome::connect_failed;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
      return ProbeOutcome::tls_failed;
    default:
      return ProbeOutcome::no_answer;
  }
}

}  // namespace

ProbeResponse probe_http(const std::string& url, const std::string& connect_address,
                         std::chrono::milliseconds timeout) {
  global_init();
  CurlPtr curl(curl_easy_init());
  if (!curl) throw Error(ErrorKind::internal, "cannot create a libcurl handle");
  CURL* h = curl.get();
  char error_buffer[CURL_ERROR_SIZE] = {};
  ProbeResponse response;

  // Every port of every host in this transfer goes to the address the caller chose: the
  // preflight asks what that address answers, whatever this machine's resolver says.
  bool v6 = connect_address.find(':') != std::string::npos;
  std::string connect_to = "::" + (v6 ? "[" + connect_address + "]" : connect_address) + ":";
  curl_slist* connect_list = curl_slist_append(nullptr, connect_to.c_str());
  if (connect_list == nullptr) throw std::bad_alloc();
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> connect_owner(connect_list, &curl_slist_free_all);

  setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  setopt(h, CURLOPT_NOSIGNAL, 1L);
  setopt(h, CURLOPT_URL, url.c_str());
  setopt(h, CURLOPT_CONNECT_TO, connect_list);
  // The CA follows redirects itself, under its own rules; the caller applies them.
  setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  // The CA reaches the name directly from the internet, never through this host's proxy.
  setopt(h, CURLOPT_NOPROXY, "*");
  // RFC 8555 8.3 lets the CA ignore the certificate after a redirect to https, and Let's
  // Encrypt does: a self-signed or expired certificate must not fail the preflight.
  setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
  setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  setopt(h, CURLOPT_USERAGENT, "certcli/" CERTCLI_VERSION " http-01 preflight");
  setopt(h, CURLOPT_NOPROGRESS, 0L);
  setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&response));
  setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&response));

  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw_if_stop_requested();

  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && response.body_truncated)) {
    response.outcome = ProbeOutcome::answered;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    char* redirect_url = nullptr;
    // curl resolves a relative Location against the URL, as the CA does.
    if (!response.location.empty() && curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect_url) == CURLE_OK &&
        redirect_url != nullptr)
      response.redirect = split_redirect(redirect_url);
    return response;
  }
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  response.outcome = classify(rc, os_errno);
  response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  return response;
}

}  // namespace certcli::net
