// certcli/trace.hpp — what `-v` shows of an exchange with the CA, with its secrets taken out.
// Owns: turning a traced HTTP message (net::TracedMessage) into lines for people, JWS bodies
// decoded, and the redaction rules (a pure function). Prints nothing; cli/ prints the lines.
#pragma once

#include <certcli/net.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace certcli::acme {

// The lines -v prints for one request or response: "> POST URL" / "< HTTP 201", the headers,
// the body. A JWS body shows its protected header and payload decoded and its signature as
// "(redacted)", also for a JWS inside the payload (External Account Binding, key change).
std::vector<std::string> trace_lines(const net::TracedMessage& message);

// `text` with every secret that may cross the wire replaced: private keys in PEM, key
// authorizations (token.thumbprint), and the values of JSON members named like secrets
// (hmac, secret, password, private key, key authorization).
std::string redact_secrets(std::string_view text);

}  // namespace certcli::acme
