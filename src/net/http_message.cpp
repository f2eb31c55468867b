// Parsing a request head and writing a response (RFC 9112), strictly: what certcli's server
// answers is small and fixed, so anything unusual in a head is a 400 rather than a guess.
#include "net/http_message.hpp"

#include <algorithm>
#include <cctype>

namespace certcli::net::wire {
namespace {

// RFC 9110 5.6.2: the characters of a header name (and of a method).
bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

// A request target is printed in logs and handed to handlers: no controls, no spaces, no
// bytes outside ASCII (a client percent-encodes those).
bool is_clean_target(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The next line of `rest` without its "\n" or "\r\n"; advances `rest` past it.
std::string_view next_line(std::string_view& rest) {
  std::size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace

std::size_t head_end(std::string_view data, std::size_t from) {
  // Back up so that a terminator split across two reads is still found.
  from = from > 3 ? from - 3 : 0;
  for (std::size_t i = data.find('\n', from); i != std::string_view::npos; i = data.find('\n', i + 1)) {
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

ParsedHead parse_request_head(std::string_view head, const std::string& peer) {
  ParsedHead parsed;
  HttpRequest& request = parsed.request;
  request.peer = peer;
  auto bad = [&parsed]() -> ParsedHead& {
    parsed.status = 400;
    return parsed;
  };

  std::string_view rest = head;
  std::string_view line = next_line(rest);
  // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
  if (line.empty()) line = next_line(rest);
  std::size_t first_space = line.find(' ');
  std::size_t second_space = first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return bad();
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string_view version = line.substr(second_space + 1);
  if (!is_token(method) || !is_clean_target(target) || !version.starts_with("HTTP/1.")) return bad();
  request.method = std::string(method);
  request.target = std::string(target);

  // Origin form "/p?q", or absolute form "http://host/p?q" (what a proxy would send).
  std::string_view path = target;
  if (path.front() != '/') {
    std::size_t scheme = path.find("://");
    if (scheme == std::string_view::npos) return bad();  // "*" or authority form: not for us
    std::size_t slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  path = path.substr(0, path.find('#'));
  std::size_t question = path.find('?');
  if (question != std::string_view::npos) {
    request.query = std::string(path.substr(question + 1));
    path = path.substr(0, question);
  }
  request.path = std::string(path);

  while (!rest.empty()) {
    line = next_line(rest);
    if (line.empty()) break;
    // RFC 9112 5.2: obsolete line folding may be rejected with 400; so may a space before
    // the colon (5.1), which is how request smuggling starts.
    if (line.front() == ' ' || line.front() == '\t') return bad();
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return bad();
    std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && u != '\t') || u == 0x7f;
        }))
      return bad();
    request.headers.emplace_back(lowercase(line.substr(0, colon)), std::string(value));
  }

  if (request.method != "GET" && request.method != "HEAD") {
    parsed.status = 405;
    parsed.allow = "GET, HEAD";
  }
  return parsed;
}

std::string_view reason_phrase(long status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string render_response(const HttpResponse& response, bool with_body) {
  long status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  bool has_type = false;
  for (const auto& [name, value] : response.headers) {
    // The server owns framing; a handler's own length or connection header would contradict it.
    if (iequals(name, "content-length") || iequals(name, "connection") || iequals(name, "transfer-encoding")) continue;
    // A header a handler built from outside text must not be able to add lines of its own.
    if (!is_token(name) || value.find_first_of("\r\n") != std::string::npos) continue;
    has_type = has_type || iequals(name, "content-type");
    out += name + ": " + value + "\r\n";
  }
  if (!has_type) out += "Content-Type: text/plain\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (with_body) out += response.body;
  return out;
}

}  // namespace certcli::net::wire

namespace certcli::net {

HttpResponse text_response(long status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "text/plain"}};
  response.body = std::move(body);
  return response;
}

}  // namespace certcli::net
