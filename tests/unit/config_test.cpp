#include <certcli/config.hpp>
#include <certcli/error.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "temp_dir.hpp"

using namespace certcli;
namespace fs = std::filesystem;

namespace {

using certcli::testing::TempDir;

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// An injected environment.
config::Getenv environment(std::map<std::string, std::string> variables = {}) {
  return [variables](const std::string& name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

// The Error a call throws, so that its message and hint can be checked.
template <class F>
Error error_of(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no certcli::Error was thrown");
  return Error(ErrorKind::internal, "");
}

config::Setting setting(const config::Config& c, const std::string& key) {
  for (const auto& s : config::effective_settings(c))
    if (s.key == key) return s;
  FAIL("no setting " << key);
  return {};
}

const char* kEveryKey = R"([account]
email = ["ops@example.com", "mailto:admin@example.com"]
key_type = "rsa2048"

[ca]
name = "letsencrypt-staging"

[certificate]
key_type = "ec384"

[challenge]
webroot = "/var/www/acme"

[renewal]
buffer_days = 21
deploy_hook = "systemctl reload nginx"
deploy_hook_timeout = 60

[alerts]
webhook = "https://hooks.example/certcli"
days = [20, 5]
)";

}  // namespace

TEST_CASE("every key of config.toml is read into the Config, with the line it came from") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, kEveryKey);
  config::Config c = config::load_config(file, environment());
  CHECK(c.account_emails == std::vector<std::string>{"ops@example.com", "admin@example.com"});
  CHECK(c.account_key_type == crypto::KeyType::rsa2048);
  CHECK(c.ca_name == "letsencrypt-staging");
  CHECK_FALSE(c.ca_directory);
  CHECK(c.certificate_key_type == crypto::KeyType::ec384);
  CHECK(c.webroot == "/var/www/acme");
  CHECK_FALSE(c.http_listen);
  CHECK(c.renewal_buffer_days == 21);
  CHECK(c.deploy_hook == "systemctl reload nginx");
  CHECK(c.deploy_hook_timeout == std::chrono::seconds{60});
  CHECK(c.alert_webhook == "https://hooks.example/certcli");
  CHECK(c.alert_days == std::vector<int>{20, 5});
  CHECK(c.origins.at("renewal.buffer_days").where() == "config.toml:15");
  CHECK(setting(c, "renewal.buffer_days").source == "config.toml:15");

  write(file, "[ca]\ndirectory = \"http://127.0.0.1:14000/dir\"\n[challenge]\nhttp_listen = \"127.0.0.1:5002\"\n");
  c = config::load_config(file, environment());
  CHECK(c.ca_directory == "http://127.0.0.1:14000/dir");
  CHECK(c.http_listen == "127.0.0.1:5002");
  CHECK(setting(c, "ca.name").source == "unset");  // the directory chooses the CA: no built-in name
  CHECK(setting(c, "challenge.webroot").source == "unset");
}

TEST_CASE("a missing config.toml is all built-ins") {
  TempDir dir;
  config::Config c = config::load_config(dir.path / "config.toml", environment());
  CHECK(c.origins.empty());
  CHECK(c.account_emails.empty());
  CHECK_FALSE(c.renewal_buffer_days);
  CHECK(c.deploy_hook_timeout == std::chrono::seconds{300});
  CHECK(c.alert_days == std::vector<int>{30, 14, 7});
  auto settings = config::effective_settings(c);
  REQUIRE(settings.size() == config::known_keys().size());
  for (std::size_t i = 0; i < settings.size(); ++i) CHECK(settings[i].key == config::known_keys()[i]);
  CHECK(setting(c, "ca.name").value == "letsencrypt");
  CHECK(setting(c, "ca.name").source == "built-in");
  CHECK(setting(c, "alerts.days").value == "30, 14, 7");
  CHECK(setting(c, "renewal.deploy_hook_timeout").value == "300");
  CHECK(setting(c, "challenge.http_listen").value == ":80");
  CHECK(setting(c, "renewal.buffer_days").source == "unset");
  CHECK(setting(c, "renewal.buffer_days").value.empty());
  CHECK(setting(c, "alerts.webhook").secret);
}

TEST_CASE("$ENV: and $FILE: references resolve at load time and are never shown resolved") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(dir.path / "hook", "/usr/local/bin/deploy --token=file-secret\n");
  write(file, "[account]\nemail = [\"$ENV:ADMIN_EMAIL\"]\n[renewal]\ndeploy_hook = \"$FILE:" +
                  (dir.path / "hook").string() + "\"\n[alerts]\nwebhook = \"$ENV:CERTCLI_WEBHOOK\"\n");
  auto env = environment({{"CERTCLI_WEBHOOK", "https://hooks.example/env-secret"}, {"ADMIN_EMAIL", "ops@example.com"}});
  config::Config c = config::load_config(file, env);
  CHECK(c.alert_webhook == "https://hooks.example/env-secret");
  CHECK(c.deploy_hook == "/usr/local/bin/deploy --token=file-secret");  // one trailing newline stripped
  CHECK(c.account_emails == std::vector<std::string>{"ops@example.com"});
  CHECK(c.origins.at("alerts.webhook").reference == "$ENV:CERTCLI_WEBHOOK");

  auto webhook = setting(c, "alerts.webhook");
  CHECK(webhook.value == "$ENV:CERTCLI_WEBHOOK");
  CHECK(webhook.source == "config.toml:6");
  CHECK(webhook.secret);
  auto hook = setting(c, "renewal.deploy_hook");
  CHECK(hook.value == "$FILE:" + (dir.path / "hook").string());
  CHECK(hook.secret);
  auto email = setting(c, "account.email");  // not a secret: shown as used, its source says how
  CHECK(email.value == "ops@example.com");
  CHECK(email.source == "config.toml:2 ($ENV:ADMIN_EMAIL)");
  CHECK_FALSE(email.secret);
  for (const auto& s : config::effective_settings(c)) {
    CHECK(s.value.find("env-secret") == std::string::npos);
    CHECK(s.value.find("file-secret") == std::string::npos);
  }
}

TEST_CASE("a webhook written in the file itself is shown as (secret)") {
  TempDir dir;
  write(dir.path / "config.toml", "[alerts]\nwebhook = \"https://hooks.example/t0ken\"\n");
  auto c = config::load_config(dir.path / "config.toml", environment());
  CHECK(setting(c, "alerts.webhook").value == "(secret)");
}

TEST_CASE("a reference that does not resolve names the variable or path and the key") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[alerts]\nwebhook = \"$ENV:CERTCLI_WEBHOOK\"\n");
  Error unset = error_of([&] { config::load_config(file, environment()); });
  CHECK(unset.kind() == ErrorKind::invalid_input);
  CHECK_THAT(unset.what(), Catch::Contains(file.string() + ":2: alerts.webhook:"));
  CHECK_THAT(unset.what(), Catch::Contains("CERTCLI_WEBHOOK, which is not set"));
  Error empty = error_of([&] { config::load_config(file, environment({{"CERTCLI_WEBHOOK", ""}})); });
  CHECK_THAT(empty.what(), Catch::Contains("which is empty"));

  fs::path missing = dir.path / "no-such-secret";
  write(file, "[renewal]\ndeploy_hook = \"$FILE:" + missing.string() + "\"\n");
  Error unreadable = error_of([&] { config::load_config(file, environment()); });
  CHECK_THAT(unreadable.what(), Catch::Contains(":2: renewal.deploy_hook:"));
  CHECK_THAT(unreadable.what(), Catch::Contains("cannot read " + missing.string()));

  write(file, "[renewal]\ndeploy_hook = \"$FILE:relative/path\"\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(), Catch::Contains("absolute path"));
}

TEST_CASE("a resolved secret that is not valid is reported without its value") {
  TempDir dir;
  write(dir.path / "config.toml", "[alerts]\nwebhook = \"$ENV:HOOK\"\n");
  Error e = error_of([&] {
    config::load_config(dir.path / "config.toml", environment({{"HOOK", "not-a-url-s3cret"}}));
  });
  CHECK_THAT(e.what(), Catch::Contains("the value of $ENV:HOOK is not an http or https URL"));
  CHECK_THAT(e.what(), !Catch::Contains("s3cret"));
  CHECK_THAT(e.hint(), !Catch::Contains("s3cret"));
}

TEST_CASE("an unknown key is an error naming the file, line and key, and suggesting the near one") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[renewal]\ndeploy_hook = \"true\"\nbufer_days = 30\n");
  Error e = error_of([&] { config::load_config(file, environment()); });
  CHECK(e.kind() == ErrorKind::invalid_input);
  CHECK(std::string(e.what()) == file.string() + ":3: renewal.bufer_days: unknown key");
  CHECK_THAT(e.hint(), Catch::StartsWith("did you mean renewal.buffer_days?"));

  write(file, "[renewal]\nfrobnicate = 1\n");
  e = error_of([&] { config::load_config(file, environment()); });
  CHECK_THAT(e.hint(), Catch::Contains("[renewal] knows buffer_days, deploy_hook, deploy_hook_timeout"));

  write(file, "[renewl]\nbuffer_days = 30\n");
  e = error_of([&] { config::load_config(file, environment()); });
  CHECK(std::string(e.what()) == file.string() + ":1: [renewl]: unknown section");
  CHECK_THAT(e.hint(), Catch::StartsWith("did you mean [renewal]?"));

  write(file, "buffer_days = 30\n");
  e = error_of([&] { config::load_config(file, environment()); });
  CHECK_THAT(e.what(), Catch::Contains(":1: buffer_days: unknown key outside any section"));
  CHECK_THAT(e.hint(), Catch::StartsWith("did you mean renewal.buffer_days?"));

  write(file, "[ca]\nkey_type = \"ec256\"\n");
  e = error_of([&] { config::load_config(file, environment()); });
  CHECK_THAT(e.hint(), Catch::StartsWith("did you mean account.key_type or certificate.key_type?"));
}

TEST_CASE("a value of the wrong type is an error naming the line and key, not a crash") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[renewal]\nbuffer_days = \"30\"\n");
  Error e = error_of([&] { config::load_config(file, environment()); });
  CHECK(std::string(e.what()) ==
        file.string() + ":2: renewal.buffer_days: expected a whole number without quotes, found text");
  CHECK_THAT(e.hint(), Catch::Contains("buffer_days = 30"));

  for (const char* text : {"[challenge]\nwebroot = 5\n", "[alerts]\ndays = [\"30\"]\n", "[alerts]\ndays = 30\n",
                           "[account]\nemail = [1]\n", "[renewal]\ndeploy_hook_timeout = 30.5\n", "[ca]\nname = true\n",
                           "ca = \"letsencrypt\"\n", "[[renewal]]\nbuffer_days = 3\n"}) {
    write(file, text);
    e = error_of([&] { config::load_config(file, environment()); });
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":"));
  }
}

TEST_CASE("integers out of range are errors naming the file, line and key") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[account]\nkey_type = \"ec256\"\n\n[renewal]\ndeploy_hook = \"true\"\n\nbuffer_days = 0\n");
  Error e = error_of([&] { config::load_config(file, environment()); });
  CHECK(std::string(e.what()) == file.string() + ":7: renewal.buffer_days: 0 is not between 1 and 365");
  CHECK_THAT(e.hint(), Catch::Contains("certcli config set renewal.buffer_days VALUE"));
  CHECK_THAT(e.hint(), Catch::Contains("edit the file"));

  write(file, "[renewal]\nbuffer_days = 366\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(),
             Catch::Contains("366 is not between 1 and 365"));
  write(file, "[renewal]\ndeploy_hook_timeout = 86401\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(),
             Catch::Contains("renewal.deploy_hook_timeout: 86401 is not between 1 and 86400"));
  write(file, "[alerts]\ndays = [30, 0]\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(),
             Catch::Contains("alerts.days: 0 is not between 1 and 365"));
  write(file, "[alerts]\ndays = [7, 7]\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(),
             Catch::Contains("7 is in the list twice"));
}

TEST_CASE("keys that exclude each other cannot both be set") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[ca]\nname = \"letsencrypt\"\ndirectory = \"https://acme.example/directory\"\n");
  Error e = error_of([&] { config::load_config(file, environment()); });
  CHECK_THAT(e.what(), Catch::Contains(":3: ca.directory: ca.name is set too (line 2)"));
  write(file, "[challenge]\nhttp_listen = \":80\"\nwebroot = \"/var/www\"\n");
  CHECK_THAT(error_of([&] { config::load_config(file, environment()); }).what(),
             Catch::Contains("challenge.webroot: challenge.http_listen is set too"));
}

TEST_CASE("bad values of text keys are errors naming the key") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"[ca]\nname = \"letsencrpyt\"\n", "ca.name: 'letsencrpyt' is not a CA preset"},
      {"[ca]\ndirectory = \"ftp://acme.example/\"\n",
       "ca.directory: 'ftp://acme.example/' is not an http or https URL"},
      {"[certificate]\nkey_type = \"ec521\"\n", "certificate.key_type: 'ec521' is not a key type"},
      {"[challenge]\nwebroot = \"www\"\n", "challenge.webroot: 'www' is not an absolute path"},
      {"[challenge]\nhttp_listen = \"localhost\"\n", "challenge.http_listen: listen address 'localhost' has no port"},
      {"[account]\nemail = [\"a@example.com, b@example.com\"]\n", "is not one e-mail address"},
      {"[account]\nemail = [\"ops at example.com\"]\n", "is not one e-mail address"},
      {"[renewal]\ndeploy_hook = \"\"\n", "renewal.deploy_hook: '' is empty"},
      {"[renewal\n", "config.toml:1:"},
  };
  for (const auto& [text, expected] : cases) {
    write(file, text);
    Error e = error_of([&] { config::load_config(file, environment()); });
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::Contains(expected));
  }
}

TEST_CASE("set_value writes a file that loads back with the same values, private and in a fixed order") {
  TempDir dir;
  fs::path file = dir.path / "home" / "config.toml";
  auto env = environment({{"CERTCLI_WEBHOOK", "https://hooks.example/secret-value"}});
  config::set_value(file, "renewal.buffer_days", "20", env);
  config::set_value(file, "account.email", "ops@example.com, mailto:admin@example.com", env);
  config::set_value(file, "alerts.days", "30,7", env);
  auto line = config::set_value(file, "alerts.webhook", "$ENV:CERTCLI_WEBHOOK", env);
  CHECK(line.value == "$ENV:CERTCLI_WEBHOOK");
  CHECK(line.source.starts_with("config.toml:"));
  config::set_value(file, "renewal.buffer_days", "25", env);  // replaces, does not add

  config::Config c = config::load_config(file, env);
  CHECK(c.renewal_buffer_days == 25);
  CHECK(c.account_emails == std::vector<std::string>{"ops@example.com", "admin@example.com"});
  CHECK(c.alert_days == std::vector<int>{30, 7});
  CHECK(c.alert_webhook == "https://hooks.example/secret-value");

  std::string text = read(file);
  CHECK(text.find("secret-value") == std::string::npos);  // the reference is stored, not its value
  CHECK(text.find("$ENV:CERTCLI_WEBHOOK") != std::string::npos);
  CHECK(text.find("[account]") < text.find("[renewal]"));
  CHECK(text.find("[renewal]") < text.find("[alerts]"));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("set_value refuses to write over a file that does not load, and leaves it as it was") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  std::vector<std::string> broken_files = {"[renewal]\nbuffer_days = 0\n", "[renewal\nbuffer_days = 3\n",
                                           "[renewal]\nbufer_days = 3\n"};
  for (const auto& broken : broken_files) {
    write(file, broken);
    Error e = error_of([&] { config::set_value(file, "alerts.days", "14", environment()); });
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":"));
    CHECK_THAT(e.hint(), Catch::Contains("nothing was changed"));
    CHECK(read(file) == broken);
    e = error_of([&] { config::unset_value(file, "alerts.days"); });
    CHECK(read(file) == broken);
  }
}

TEST_CASE("set_value replaces a bad value of the key it sets") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[renewal]\nbuffer_days = \"thirty\"\n");
  config::set_value(file, "renewal.buffer_days", "30", environment());
  CHECK(config::load_config(file, environment()).renewal_buffer_days == 30);
}

TEST_CASE("set_value keeps other keys' references that do not resolve in this environment") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  write(file, "[alerts]\nwebhook = \"$ENV:CERTCLI_WEBHOOK\"\n");
  config::set_value(file, "renewal.buffer_days", "10", environment());
  CHECK_THAT(read(file), Catch::Contains("$ENV:CERTCLI_WEBHOOK"));
  auto c = config::load_config(file, environment({{"CERTCLI_WEBHOOK", "https://hooks.example/x"}}));
  CHECK(c.renewal_buffer_days == 10);
  CHECK(c.alert_webhook == "https://hooks.example/x");
}

TEST_CASE("set_value checks the key and the value before writing") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  auto env = environment();
  Error e = error_of([&] { config::set_value(file, "renewal.bufer_days", "3", env); });
  CHECK(std::string(e.what()) == "unknown key 'renewal.bufer_days'");
  CHECK_THAT(e.hint(), Catch::StartsWith("did you mean renewal.buffer_days?"));
  std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"renewal.buffer_days", "0", "renewal.buffer_days: 0 is not between 1 and 365"},
      {"renewal.buffer_days", "ten", "renewal.buffer_days: 'ten' is not a whole number"},
      {"renewal.buffer_days", "$ENV:DAYS", "is not a whole number"},
      {"renewal.deploy_hook_timeout", "3.5", "is not a whole number"},
      {"alerts.days", "30,,7", "the list has an empty item"},
      {"alerts.days", "30,400", "400 is not between 1 and 365"},
      {"account.email", "ops@example.com admin@example.com", "is not one e-mail address"},
      {"account.email", "ops", "is not one e-mail address"},
      {"account.email", "ops@localhost", "is not one e-mail address"},
      {"account.key_type", "rsa1024", "is not a key type"},
      {"ca.name", "letsencrypt-prod", "is not a CA preset"},
      {"ca.directory", "acme.example/directory", "is not an http or https URL"},
      {"challenge.http_listen", "80", "has no port"},
      {"alerts.webhook", "$ENV:NOT_SET_HERE", "NOT_SET_HERE, which is not set"},
      {"alerts.webhook", "hooks.example", "alerts.webhook: the value is not an http or https URL"},
      {"renewal.deploy_hook", "", "is empty"},
  };
  for (const auto& [key, value, expected] : cases) {
    // Copies: Clang before 16 cannot capture structured bindings in a lambda.
    const std::string k = key, v = value;
    e = error_of([&] { config::set_value(file, k, v, env); });
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK_THAT(e.what(), Catch::Contains(expected));
  }
  CHECK_FALSE(fs::exists(file));
}

TEST_CASE("set_value refuses a key while the key it excludes is set, and unset_value makes room") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  config::set_value(file, "ca.directory", "https://acme.example/directory", environment());
  Error e = error_of([&] { config::set_value(file, "ca.name", "letsencrypt", environment()); });
  CHECK_THAT(e.what(), Catch::Contains("ca.directory is set"));
  CHECK(e.hint() == "unset it first: certcli config unset ca.directory");

  auto after = config::unset_value(file, "ca.directory");
  CHECK(after.source == "unset");
  config::set_value(file, "ca.name", "zerossl", environment());
  auto c = config::load_config(file, environment());
  CHECK(c.ca_name == "zerossl");
  CHECK_FALSE(c.ca_directory);
}

TEST_CASE("unset_value removes the key so that its built-in applies again") {
  TempDir dir;
  fs::path file = dir.path / "config.toml";
  config::set_value(file, "renewal.deploy_hook_timeout", "60", environment());
  config::set_value(file, "renewal.buffer_days", "30", environment());
  auto line = config::unset_value(file, "renewal.deploy_hook_timeout");
  CHECK(line.value == "300");
  CHECK(line.source == "built-in");
  auto c = config::load_config(file, environment());
  CHECK_FALSE(c.is_set("renewal.deploy_hook_timeout"));
  CHECK(c.deploy_hook_timeout == std::chrono::seconds{300});
  CHECK(c.renewal_buffer_days == 30);

  fs::path absent = dir.path / "absent" / "config.toml";
  CHECK(config::unset_value(absent, "renewal.buffer_days").source == "unset");
  CHECK_FALSE(fs::exists(absent.parent_path()));  // nothing to remove: nothing written
  CHECK_THROWS_AS(config::unset_value(file, "renewal.bufer_days"), Error);
}
