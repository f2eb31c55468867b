// The wire format of certcli's HTTP server, as pure functions over bytes: where a request head
// ends, what it says, and the bytes of a response. Internal to net/ (and its unit tests).
#pragma once

#include <certcli/net.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace certcli::net::wire {

// The offset just past the blank line that ends a request head ("\r\n\r\n", or "\n\n" from a
// lenient client), or npos while it has not arrived. `from` skips bytes already searched.
std::size_t head_end(std::string_view data, std::size_t from = 0);

// A head parsed: status 0 with the request, or the error status to answer (400, 405 with
// `allow`), with `request` filled as far as it could be (for the access log).
struct ParsedHead {
  long status = 0;
  std::string allow;
  HttpRequest request;
};

// `head` is the bytes up to and including the blank line; `peer` is copied into the request.
ParsedHead parse_request_head(std::string_view head, const std::string& peer);

// "HTTP/1.1 200 OK\r\n..." with Content-Length, Connection: close and a default Content-Type;
// the body only when `with_body` (not for HEAD).
std::string render_response(const HttpResponse& response, bool with_body);

std::string_view reason_phrase(long status);

}  // namespace certcli::net::wire
