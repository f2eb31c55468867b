// certcli/error.hpp — the one error type every module throws.
// Owns: what went wrong, for which subject, and the hint that fixes it. The CLI maps
// ErrorKind to an exit code in one table (src/cli/exit_codes.cpp); nothing below cli/ prints.
#pragma once

#include <stdexcept>
#include <string>

namespace certcli {

// Each kind is one row of the documented exit-code table (README "Exit codes").
enum class ErrorKind {
  usage,        // the command line or an argument is wrong
  invalid_input,// a name, file or value from the user is malformed
  not_found,    // a domain, account or file the user named does not exist
  state,        // the state directory is unreadable, corrupt or locked
  network,      // the CA (or another peer) could not be reached
  ca_rejected,  // the CA answered with an ACME problem document
  challenge,    // a challenge could not be presented or was judged invalid
  crypto,       // key, CSR or certificate handling failed
  internal,     // a bug: an invariant did not hold
  retry_later,  // the CA asked certcli to wait past this run's budget; run again after that time
  renewal_failed,  // `renew`: one or more renewals failed (each is recorded with its next attempt)
  hook_failed,  // a deploy hook failed; the new certificate is in place
  preflight,    // a check before ordering failed (DNS, HTTP reachability, CAA, ownership); the CA was not asked
  interrupted,  // SIGINT or SIGTERM asked certcli to stop
  timed_out,    // `wait`: the domain was neither ready nor failed within --timeout
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string hint = {}, std::string subject = {})
      : std::runtime_error(std::move(message)),
        kind_(kind),
        hint_(std::move(hint)),
        subject_(std::move(subject)) {}

  ErrorKind kind() const { return kind_; }
  // What the user should do next; empty when there is nothing better than the message.
  const std::string& hint() const { return hint_; }
  // The domain, file or URL the error is about, when there is one.
  const std::string& subject() const { return subject_; }

 private:
  ErrorKind kind_;
  std::string hint_;
  std::string subject_;
};

}  // namespace certcli
