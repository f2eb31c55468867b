// config.toml values: what one value means, apart from the file it is written in.
// Split from config.cpp (which reads, edits and shows the file) so that the rules for each key and
// the resolution of $ENV:/$FILE: references can be read in one sitting (see config_values.hpp).
#include "config_values.hpp"

#include <certcli/challenge.hpp>
#include <certcli/dns.hpp>
#include <certcli/error.hpp>
#include <certcli/lifecycle.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace certcli::config::detail {
namespace {

// A text value after resolution, and how to name it in a message without revealing a secret.
struct Text {
  std::string value;
  std::string shown;     // "'letsencrypt'", "the value", "the value of $ENV:VAR"
  bool resolved = true;  // false: a reference left unresolved (its form was checked)
};

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The content of a $FILE: reference: a small regular file, one trailing newline stripped.
std::string read_reference_file(const std::string& path) {
  constexpr std::size_t kLimit = 64 * 1024;
  auto unreadable = [&](int err) {
    return Problem{fmt::format("cannot read {}: {}", path, std::strerror(err)),
                   fmt::format("make {} readable by the user certcli runs as, or change the value", path), false};
  };
  // O_NONBLOCK: a FIFO named by mistake must not hang the run; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw unreadable(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Problem{fmt::format("{} is not a regular file", path), "name a file that holds the value"};
  }
  std::string content;
  char buffer[4096];
  while (content.size() <= kLimit) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw unreadable(err);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (content.size() > kLimit)
    throw Problem{fmt::format("{} is larger than 64 KiB", path), "name a file that holds only the value"};
  if (content.ends_with('\n')) content.pop_back();
  if (content.ends_with('\r')) content.pop_back();
  return content;
}

// `getenv` null: a reference's form is checked, but it is not resolved (set_value and
// unset_value check the other keys of a file that way: whether a variable is set is a property of
// this shell, not of the file).
Text resolve(const std::string& written, const KeySpec& spec, const Getenv* getenv) {
  if (!is_reference(written)) return {written, spec.secret ? "the value" : fmt::format("'{}'", written), true};
  Text text{"", fmt::format("the value of {}", written), getenv != nullptr};
  if (written.starts_with("$ENV:")) {
    std::string name = written.substr(5);
    if (!is_env_name(name))
      throw Problem{fmt::format("'{}' does not name an environment variable", written),
                    "write $ENV: followed by the variable's name, such as $ENV:CERTCLI_WEBHOOK"};
    if (!getenv) return text;
    auto value = (*getenv)(name);
    if (!value || value->empty())
      throw Problem{
          fmt::format("{} refers to the environment variable {}, which is {}", written, name,
                      value ? "empty" : "not set"),
          fmt::format("set {} in certcli's environment (for a systemd unit: Environment= or EnvironmentFile=), "
                      "or change the value",
                      name),
          false};
    text.value = *value;
    return text;
  }
  std::string path = written.substr(6);
  if (!path.starts_with('/'))
    throw Problem{fmt::format("'{}' does not name an absolute path", written),
                  "write $FILE: followed by an absolute path, such as $FILE:/etc/certcli/webhook"};
  if (getenv) text.value = read_reference_file(path);
  return text;
}

void require_text(const Text& text) {
  if (!text.resolved) return;
  if (text.value.empty())
    throw Problem{fmt::format("{} is empty", text.shown), "give a value, or remove the key to use the built-in"};
  if (text.value.find('\0') != std::string::npos)
    throw Problem{fmt::format("{} holds a NUL character", text.shown), "remove it"};
}

void check_url(const Text& text, std::string_view what) {
  std::string_view url = text.value;
  std::string_view rest = url.starts_with("https://") ? url.substr(8) : url.starts_with("http://") ? url.substr(7) : "";
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  bool clean =
      std::none_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
  if (host.empty() || !clean)
    throw Problem{fmt::format("{} is not an http or https URL", text.shown),
                  fmt::format("give {}, such as https://host/path", what)};
}

std::string checked_email(const Text& text) {
  std::string address = text.value.starts_with("mailto:") ? text.value.substr(7) : text.value;
  auto bad = [&](std::string_view why) {
    return Problem{fmt::format("{} is not one e-mail address: {}", text.shown, why),
                   "give one address per item, such as [\"ops@example.com\", \"admin@example.com\"] in the file or "
                   "ops@example.com,admin@example.com to `certcli config set`"};
  };
  if (address.find_first_of(",;") != std::string::npos) throw bad("it holds a comma or semicolon");
  if (std::any_of(address.begin(), address.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || std::strchr("<>\"()[]\\", c); }))
    throw bad("it holds a space, a control character or one of <>\"()[]\\");
  std::size_t at = address.find('@');
  if (at == std::string::npos || at == 0 || at != address.rfind('@')) throw bad("it needs exactly one @ after a name");
  try {
    if (is_wildcard(normalize_domain_name(address.substr(at + 1)))) throw bad("its domain is a wildcard");
  } catch (const Error&) {
    throw bad("its domain is not a valid DNS name");
  }
  return address;
}

void check_range(std::int64_t value, std::int64_t low, std::int64_t high, const std::string& fix) {
  if (value < low || value > high) throw Problem{fmt::format("{} is not between {} and {}", value, low, high), fix};
}

crypto::KeyType checked_key_type(const Text& text) {
  auto type = crypto::parse_key_type(text.value);
  if (!type)
    throw Problem{fmt::format("{} is not a key type", text.shown),
                  "use one of ec256, ec384, rsa2048, rsa3072, rsa4096"};
  return *type;
}

}  // namespace

// Runs a check of another module on a resolved value and turns its Error into a Problem.
template <typename Check>
auto checked(const Text& text, Check check) {
  try {
    return check();
  } catch (const Error& e) {
    throw Problem{text.shown.starts_with("the value") ? fmt::format("{} is not valid", text.shown) : e.what(), e.hint()};
  }
}

bool is_reference(std::string_view text) { return text.starts_with("$ENV:") || text.starts_with("$FILE:"); }

void apply(Config& config, const KeySpec& spec, const Value& value, const Getenv* getenv) {
  std::string_view key = spec.key;
  if (spec.kind == Kind::text_list) {
    std::vector<std::string> addresses;
    for (const auto& written : std::get<std::vector<std::string>>(value)) {
      Text text = resolve(written, spec, getenv);
      require_text(text);
      if (text.resolved) addresses.push_back(checked_email(text));
    }
    if (addresses.empty() && std::get<std::vector<std::string>>(value).empty())
      throw Problem{"the list is empty", "give at least one address, or remove the key"};
    config.account_emails = addresses;
    return;
  }
  if (spec.kind == Kind::integer_list) {
    const auto& days = std::get<std::vector<std::int64_t>>(value);
    if (days.empty())
      throw Problem{"the list is empty", "give at least one number of days, such as [30, 14, 7], or remove the key"};
    std::vector<int> checked;
    for (std::int64_t day : days) {
      check_range(day, 1, 365, "give each threshold as a number of days before expiry, from 1 to 365");
      if (std::find(checked.begin(), checked.end(), day) != checked.end())
        throw Problem{fmt::format("{} is in the list twice", day), "give each threshold once"};
      checked.push_back(static_cast<int>(day));
    }
    config.alert_days = checked;
    return;
  }
  if (spec.kind == Kind::integer) {
    std::int64_t number = std::get<std::int64_t>(value);
    if (key == "renewal.buffer_days") {
      check_range(number, 1, 365, "give the number of days before expiry to renew at, from 1 to 365");
      config.renewal_buffer_days = static_cast<int>(number);
    } else {
      check_range(number, 1, 86400, "give the seconds a deploy hook may run, from 1 to 86400");
      config.deploy_hook_timeout = std::chrono::seconds{number};
    }
    return;
  }
  if (key == "challenge.tsig_secret") {
    // Kept as the reference: the dns-01 solver resolves it when it signs, and a secret never
    // travels further than it must (nor into a domain.toml that copies config defaults).
    const std::string& written = std::get<std::string>(value);
    if (!is_reference(written))
      throw Problem{"the TSIG secret is written in the file itself",
                    "keep the secret in a file readable only by certcli's user and write "
                    "challenge.tsig_secret = \"$FILE:/etc/certcli/tsig.secret\" (or $ENV:VARIABLE)"};
    resolve(written, spec, nullptr);  // checks the reference's form
    config.tsig_secret = written;
    return;
  }
  if (key == "keys.passphrase") {
    // Like the TSIG secret: only a reference, resolved by the CLI when a key is read or written.
    const std::string& written = std::get<std::string>(value);
    if (!is_reference(written))
      throw Problem{"the key passphrase is written in the file itself",
                    "keep it in a file readable only by certcli's user and write "
                    "keys.passphrase = \"$FILE:/etc/certcli/passphrase\" (or $ENV:VARIABLE)"};
    resolve(written, spec, nullptr);  // checks the reference's form
    config.key_passphrase = written;
    return;
  }
  Text text = resolve(std::get<std::string>(value), spec, getenv);
  require_text(text);
  if (!text.resolved) return;
  if (key == "account.key_type") {
    config.account_key_type = checked_key_type(text);
  } else if (key == "certificate.key_type") {
    config.certificate_key_type = checked_key_type(text);
  } else if (key == "ca.name") {
    std::vector<std::string> names;
    for (const auto& preset : lifecycle::ca_presets()) names.push_back(preset.name);
    if (std::find(names.begin(), names.end(), text.value) == names.end())
      throw Problem{fmt::format("{} is not a CA preset", text.shown),
                    fmt::format("use one of {}, or set ca.directory to the CA's ACME directory URL instead",
                                fmt::join(names, ", "))};
    config.ca_name = text.value;
  } else if (key == "ca.directory") {
    check_url(text, "the CA's ACME directory URL");
    config.ca_directory = text.value;
  } else if (key == "challenge.webroot") {
    if (!text.value.starts_with('/'))
      throw Problem{fmt::format("{} is not an absolute path", text.shown),
                    "give the web server's document root as an absolute path, such as /var/www/acme"};
    config.webroot = text.value;
  } else if (key == "challenge.http_listen") {
    try {
      challenge::parse_listen_address(text.value);
    } catch (const Error& e) {
      throw Problem{
          is_reference(std::get<std::string>(value)) ? fmt::format("{} is not a listen address", text.shown) : e.what(),
          e.hint()};
    }
    config.http_listen = text.value;
  } else if (key == "ca.caa_identity") {
    config.caa_identity = checked(text, [&] { return normalize_domain_name(text.value); });
  } else if (key == "challenge.dns_rfc2136") {
    checked(text, [&] { return dns::parse_server_address(text.value, "challenge.dns_rfc2136").to_string(); });
    config.dns_rfc2136 = text.value;
  } else if (key == "challenge.dns_hook") {
    if (!text.value.starts_with('/'))
      throw Problem{fmt::format("{} is not an absolute path", text.shown),
                    "give the hook program's absolute path: it is run without a shell"};
    config.dns_hook = text.value;
  } else if (key == "challenge.tsig_key") {
    config.tsig_key = text.value;
  } else if (key == "challenge.tsig_algorithm") {
    checked(text, [&] {
      dns::check_tsig_algorithm(text.value);
      return text.value;
    });
    config.tsig_algorithm = text.value;
  } else if (key == "dns.resolver") {
    checked(text, [&] { return dns::parse_server_address(text.value, "dns.resolver").to_string(); });
    config.dns_resolver = text.value;
  } else if (key == "renewal.deploy_hook") {
    config.deploy_hook = text.value;
  } else if (key == "keys.live_key") {
    if (text.value != "encrypted" && text.value != "plain")
      throw Problem{fmt::format("{} is not a live key mode", text.shown),
                    "use \"encrypted\" (every key encrypted) or \"plain\" (the current live key in clear, for a "
                    "web server that cannot decrypt it)"};
    config.plain_live_key = text.value == "plain";
  } else if (key == "alerts.webhook") {
    check_url(text, "the URL that receives the alerts");
    config.alert_webhook = text.value;
  }
}

}  // namespace certcli::config::detail
