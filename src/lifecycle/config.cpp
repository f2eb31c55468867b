// config.toml: reading, checking and editing it (include/certcli/config.hpp).
// The file is read into Entries (each key as written, references unresolved, with its line) and
// then checked and resolved into a Config; editing changes the Entries and writes them back, so a
// reference is stored exactly as the user wrote it and only ever resolved in memory.
// What each value means and how references resolve is in config_values.cpp.
#include "config_values.hpp"

#include <certcli/config.hpp>
#include <certcli/error.hpp>
#include <certcli/store.hpp>
#include <certcli/toml_guard.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <sstream>
#include <variant>

namespace certcli::config {
namespace {

namespace fs = std::filesystem;

using detail::apply;
using detail::is_reference;
using detail::Kind;
using detail::KeySpec;
using detail::Problem;
using detail::Value;

// known_keys() order, which is also the order set_value writes the file in.
constexpr KeySpec kKeys[] = {
    {"account.email", Kind::text_list, false, "", "", "ops@example.com"},
    {"account.key_type", Kind::text, false, "", "ec256", "ec256"},
    {"ca.name", Kind::text, false, "ca.directory", "letsencrypt", "letsencrypt"},
    {"ca.directory", Kind::text, false, "ca.name", "", "https://acme.example/directory"},
    {"ca.caa_identity", Kind::text, false, "", "", "letsencrypt.org"},
    {"certificate.key_type", Kind::text, false, "", "ec256", "ec256"},
    {"challenge.webroot", Kind::text, false, "challenge.http_listen", "", "/var/www/acme"},
    {"challenge.http_listen", Kind::text, false, "challenge.webroot", ":80", ":80"},
    {"challenge.dns_rfc2136", Kind::text, false, "challenge.dns_hook", "", "192.0.2.53:53"},
    {"challenge.dns_hook", Kind::text, false, "challenge.dns_rfc2136", "", "/usr/local/bin/dns-hook"},
    {"challenge.tsig_key", Kind::text, false, "", "", "certcli"},
    {"challenge.tsig_secret", Kind::text, true, "", "", "$FILE:/etc/certcli/tsig.secret"},
    {"challenge.tsig_algorithm", Kind::text, false, "", "hmac-sha256", "hmac-sha256"},
    {"dns.resolver", Kind::text, false, "", "", "127.0.0.1:53"},
    {"renewal.buffer_days", Kind::integer, false, "", "", "30"},
    {"renewal.deploy_hook", Kind::text, false, "", "", "systemctl reload nginx"},
    {"renewal.deploy_hook_timeout", Kind::integer, false, "", "300", "300"},
    {"alerts.webhook", Kind::text, true, "", "", "$ENV:CERTCLI_WEBHOOK"},
    {"alerts.days", Kind::integer_list, false, "", "30, 14, 7", "30, 14, 7"},
    {"keys.passphrase", Kind::text, true, "", "", "$FILE:/etc/certcli/passphrase"},
    {"keys.live_key", Kind::text, false, "", "encrypted", "plain"},
};
constexpr std::string_view kSections[] = {"account", "ca", "certificate", "challenge", "dns", "renewal", "alerts", "keys"};

std::string_view section_of(std::string_view key) { return key.substr(0, key.find('.')); }
std::string_view name_of(std::string_view key) { return key.substr(key.find('.') + 1); }

const KeySpec* find_key(std::string_view key) {
  for (const KeySpec& spec : kKeys)
    if (spec.key == key) return &spec;
  return nullptr;
}

// Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The one candidate within edit distance 2 of `word` (and nearer than `word` is long); nothing
// when none is, or when two are equally near: a wrong guess misleads more than none.
std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  bool tie = false;
  for (const auto& candidate : candidates) {
    std::size_t distance = edit_distance(word, candidate);
    if (distance >= word.size() || distance > 2) continue;
    if (distance < best_distance)
      best = candidate, best_distance = distance, tie = false;
    else if (distance == best_distance && candidate != *best)
      tie = true;
  }
  return tie ? std::nullopt : best;
}

// The known key a mistyped one most likely means: by its name within its section, by the whole
// key, or by its name in any section ("buffer_days" written under [alerts] or outside a section).
std::optional<std::string> suggest_key(std::string_view section, std::string_view name) {
  std::vector<std::string> in_section, everywhere;
  for (const KeySpec& spec : kKeys) {
    if (section_of(spec.key) == section) in_section.emplace_back(name_of(spec.key));
    everywhere.emplace_back(spec.key);
  }
  if (auto near = nearest(name, in_section)) return fmt::format("{}.{}", section, *near);
  if (!section.empty())
    if (auto near = nearest(fmt::format("{}.{}", section, name), everywhere)) return near;
  std::vector<std::string> matches;
  for (const KeySpec& spec : kKeys)
    if (nearest(name, {std::string(name_of(spec.key))})) matches.emplace_back(spec.key);
  if (matches.size() == 1) return matches.front();
  if (matches.size() == 2) return fmt::format("{} or {}", matches[0], matches[1]);
  return std::nullopt;
}

std::string keys_of_section(std::string_view section) {
  std::vector<std::string> names;
  for (const KeySpec& spec : kKeys)
    if (section_of(spec.key) == section) names.emplace_back(name_of(spec.key));
  return fmt::format("{}", fmt::join(names, ", "));
}

// ---- Entries: the file as written ------------------------------------------------------------

struct Entry {
  const KeySpec* spec = nullptr;
  int line = 0;                // 0: from the command line
  std::optional<Value> value;  // as written; empty when its type was wrong
  std::optional<Problem> type_problem;
};
using Entries = std::map<std::string, Entry, std::less<>>;

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "text";
    case toml::node_type::integer: return "a whole number";
    case toml::node_type::floating_point: return "a decimal number";
    case toml::node_type::boolean: return "true/false";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

std::variant<Value, Problem> value_of(const toml::node& node, const KeySpec& spec) {
  std::string name(name_of(spec.key));
  auto wrong = [&](std::string_view wanted, const std::string& example) {
    return Problem{fmt::format("expected {}, found {}", wanted, type_name(node)),
                   fmt::format("write it as {} = {}", name, example)};
  };
  switch (spec.kind) {
    case Kind::text:
      if (auto text = node.value_exact<std::string>()) return Value{*text};
      return wrong("text in quotes", fmt::format("\"{}\"", spec.example));
    case Kind::integer:
      if (node.is_integer()) return Value{node.as_integer()->get()};
      return wrong("a whole number without quotes", std::string(spec.example));
    case Kind::text_list: {
      // One address may be written without the brackets.
      if (auto text = node.value_exact<std::string>()) return Value{std::vector<std::string>{*text}};
      std::vector<std::string> items;
      if (const toml::array* array = node.as_array())
        for (const toml::node& item : *array) {
          auto text = item.value_exact<std::string>();
          if (!text) return wrong("a list of text", fmt::format("[\"{}\"]", spec.example));
          items.push_back(*text);
        }
      else
        return wrong("a list of text", fmt::format("[\"{}\"]", spec.example));
      return Value{items};
    }
    case Kind::integer_list: {
      std::vector<std::int64_t> items;
      if (const toml::array* array = node.as_array())
        for (const toml::node& item : *array) {
          if (!item.is_integer()) return wrong("a list of whole numbers", fmt::format("[{}]", spec.example));
          items.push_back(item.as_integer()->get());
        }
      else
        return wrong("a list of whole numbers", fmt::format("[{}]", spec.example));
      return Value{items};
    }
  }
  return wrong("a value", "");
}

Error file_error(const fs::path& file, int line, std::string_view key, const std::string& what,
                 const std::string& hint) {
  return Error(ErrorKind::invalid_input, fmt::format("{}:{}: {}: {}", file.string(), line, key, what), hint,
               file.string());
}

struct Item {
  int line;
  std::string name;
  const toml::node* node;
};
// A table's keys in the order the file has them (toml++ keeps them sorted by name), so that the
// first problem reported is the first in the file.
std::vector<Item> in_file_order(const toml::table& table) {
  std::vector<Item> items;
  for (auto&& [key, node] : table)
    items.push_back({static_cast<int>(key.source().begin.line), std::string(key.str()), &node});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.line < b.line; });
  return items;
}

// Parses the text and checks its sections, keys and types; values are checked later, by build().
Entries read_entries(const std::string& text, const fs::path& file) {
  toml::table root;
  // toml++ 3.3.0 has undefined behaviour on some input certcli never writes: it is refused
  // before the parser sees it (certcli/toml_guard.hpp).
  if (auto refusal = refuse_unsafe_toml(text))
    throw Error(ErrorKind::invalid_input,
                refusal->line > 0 ? fmt::format("{}:{}: {}", file.string(), refusal->line, refusal->reason)
                                  : fmt::format("{}: {}", file.string(), refusal->reason),
                "correct that line by hand (`man certcli` shows every key)", file.string());
  try {
    root = toml::parse(std::string_view(text), std::string_view(file.string()));
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::invalid_input,
                fmt::format("{}:{}: {}", file.string(), e.source().begin.line, e.description()),
                "correct the TOML syntax on that line by hand (`man certcli` shows every key)", file.string());
  }
  Entries entries;
  for (const Item& section : in_file_order(root)) {
    bool known = std::find(std::begin(kSections), std::end(kSections), section.name) != std::end(kSections);
    const toml::table* table = section.node->as_table();
    if (!table) {
      if (known || section.node->is_array_of_tables())
        throw file_error(file, section.line, section.name,
                         fmt::format("expected the section [{}], found {}", section.name, type_name(*section.node)),
                         fmt::format("write it once as [{}] followed by its keys ({})", section.name,
                                     known ? keys_of_section(section.name) : "see `man certcli`"));
      auto near = suggest_key("", section.name);
      throw file_error(file, section.line, section.name, "unknown key outside any section",
                       near ? fmt::format("did you mean {}? Correct it in the file", *near)
                            : "remove it from the file; every key belongs to a section such as [renewal]");
    }
    if (!known) {
      std::vector<std::string> names(std::begin(kSections), std::end(kSections));
      auto near = nearest(section.name, names);
      throw file_error(file, section.line, fmt::format("[{}]", section.name), "unknown section",
                       near ? fmt::format("did you mean [{}]? Correct it in the file", *near)
                            : "remove it from the file; the sections are [account], [ca], [certificate], [challenge], [dns], "
                              "[renewal] and [alerts]");
    }
    for (const Item& item : in_file_order(*table)) {
      std::string key = fmt::format("{}.{}", section.name, item.name);
      const KeySpec* spec = find_key(key);
      if (!spec) {
        auto near = suggest_key(section.name, item.name);
        throw file_error(
            file, item.line, key, "unknown key",
            near ? fmt::format("did you mean {}? Correct it in the file", *near)
                 : fmt::format("remove it from the file; [{}] knows {}", section.name, keys_of_section(section.name)));
      }
      Entry entry{spec, item.line, std::nullopt, std::nullopt};
      auto value = value_of(*item.node, *spec);
      if (auto* problem = std::get_if<Problem>(&value))
        entry.type_problem = *problem;
      else
        entry.value = std::get<Value>(value);
      entries.emplace(key, std::move(entry));
    }
  }
  return entries;
}

std::string toml_string(const std::string& text) {
  std::ostringstream out;
  out << toml::value<std::string>(text);
  return out.str();
}

std::string serialize(const Entries& entries) {
  std::string out =
      "# certcli configuration: defaults for `certcli issue`, renewal and alerts (see `man certcli`).\n"
      "# Rewritten by `certcli config set` and `certcli config unset`, which do not keep comments.\n";
  for (std::string_view section : kSections) {
    bool started = false;
    for (const KeySpec& spec : kKeys) {
      if (section_of(spec.key) != section) continue;
      auto it = entries.find(spec.key);
      if (it == entries.end()) continue;
      if (!it->second.value)
        throw Error(ErrorKind::internal, fmt::format("config key {} reached the writer without a value", spec.key));
      if (!started) out += fmt::format("\n[{}]\n", section);
      started = true;
      std::string text = std::visit(
          [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>)
              return toml_string(v);
            else if constexpr (std::is_same_v<T, std::int64_t>)
              return std::to_string(v);
            else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              std::vector<std::string> items;
              for (const auto& item : v) items.push_back(toml_string(item));
              return fmt::format("[{}]", fmt::join(items, ", "));
            } else
              return fmt::format("[{}]", fmt::join(v, ", "));
          },
          *it->second.value);
      out += fmt::format("{} = {}\n", name_of(spec.key), text);
    }
  }
  return out;
}

Origin origin_of(const Entry& entry) {
  Origin origin;
  origin.line = entry.line;
  std::vector<std::string> written;
  if (entry.value) {
    if (const auto* text = std::get_if<std::string>(&*entry.value)) written = {*text};
    if (const auto* texts = std::get_if<std::vector<std::string>>(&*entry.value)) written = *texts;
  }
  bool any_reference =
      std::any_of(written.begin(), written.end(), [](const std::string& w) { return is_reference(w); });
  if (any_reference) origin.reference = fmt::format("{}", fmt::join(written, ", "));
  origin.from_file_reference =
      std::any_of(written.begin(), written.end(), [](const std::string& w) { return w.starts_with("$FILE:"); });
  return origin;
}

struct BuildOptions {
  const Getenv* getenv = nullptr;  // nullptr: references are checked in form only
  std::string resolve_only;        // when set, only this key's references are resolved
  std::string unchecked;           // a key about to be replaced or removed: its value is not checked
};

Config build(const Entries& entries, const fs::path& file, const BuildOptions& options) {
  std::vector<const Entry*> ordered;
  for (const auto& [key, entry] : entries) ordered.push_back(&entry);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Entry* a, const Entry* b) { return a->line < b->line; });
  // Structure before values: two keys that exclude each other are a problem of the file whatever
  // their values.
  for (const KeySpec& spec : kKeys) {
    if (spec.excludes.empty() || spec.key == options.unchecked || spec.excludes == options.unchecked) continue;
    auto it = entries.find(spec.key), other = entries.find(spec.excludes);
    if (it == entries.end() || other == entries.end() || it->second.line < other->second.line) continue;
    throw file_error(
        file, it->second.line, spec.key,
        fmt::format("{} is set too (line {}), and the two exclude each other", spec.excludes, other->second.line),
        fmt::format("keep one of them: edit the file, or run `certcli config unset {}` or `certcli config unset {}`",
                    spec.excludes, spec.key));
  }
  Config config;
  for (const Entry* entry : ordered) {
    std::string key(entry->spec->key);
    config.origins[key] = origin_of(*entry);
    if (key == options.unchecked) continue;
    try {
      if (entry->type_problem) throw *entry->type_problem;
      bool resolve_here = options.resolve_only.empty() || options.resolve_only == key;
      apply(config, *entry->spec, *entry->value, resolve_here ? options.getenv : nullptr);
    } catch (const Problem& problem) {
      if (entry->line == 0)
        throw Error(ErrorKind::invalid_input, fmt::format("{}: {}", key, problem.what), problem.fix, key);
      if (!problem.fixed_in_file) throw file_error(file, entry->line, key, problem.what, problem.fix);
      throw file_error(file, entry->line, key, problem.what,
                       fmt::format("{}: edit the file, or run `certcli config set {} VALUE`, which checks the value "
                                   "before writing it",
                                   problem.fix, key));
    }
  }
  return config;
}

std::optional<std::string> read_if_exists(const fs::path& file) {
  std::error_code ec;
  // Not followed: a config.toml linked elsewhere (to a file another user controls) is refused.
  fs::file_status status = fs::symlink_status(file, ec);
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
    throw Error(ErrorKind::state, fmt::format("cannot read {}: {}", file.string(), ec.message()),
                "check that the state directory is readable by this user (see --home)", file.string());
  if (!fs::exists(status)) return std::nullopt;
  if (!fs::is_regular_file(status))
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} is {}", file.string(),
                            fs::is_symlink(status) ? "a symbolic link; certcli does not follow links it did not make"
                                                   : "not a regular file"),
                "move it out of the way: config.toml must be a file", file.string());
  return store::read_file(file);
}

const KeySpec& require_key(const std::string& key) {
  if (const KeySpec* spec = find_key(key)) return *spec;
  std::size_t dot = key.find('.');
  auto near = dot == std::string::npos ? suggest_key("", key) : suggest_key(key.substr(0, dot), key.substr(dot + 1));
  throw Error(ErrorKind::invalid_input, fmt::format("unknown key '{}'", key),
              near ? fmt::format("did you mean {}? (`certcli config show` lists every key)", *near)
                   : "`certcli config show` lists every key",
              key);
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return false;
    i += length;
  }
  return true;
}

std::string trimmed(std::string_view text) {
  std::size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  return begin == std::string_view::npos ? std::string() : std::string(text.substr(begin, end - begin + 1));
}

// A value as `certcli config set` takes it, in the form the file stores.
Value parse_command_line(const KeySpec& spec, const std::string& text) {
  auto fail = [&](const std::string& what, const std::string& fix) {
    return Error(ErrorKind::invalid_input, fmt::format("{}: {}", spec.key, what), fix, std::string(spec.key));
  };
  if (!is_utf8(text)) throw fail("the value is not UTF-8 text", "give the value as UTF-8 text");
  auto integer = [&](const std::string& item) {
    std::int64_t number = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), number);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      throw fail(fmt::format("'{}' is not a whole number", item),
                 is_reference(item) ? "$ENV: and $FILE: references are for text values; give the number itself"
                                    : fmt::format("give a whole number, such as {}", spec.example));
    return number;
  };
  std::vector<std::string> items;
  if (spec.kind == Kind::text_list || spec.kind == Kind::integer_list) {
    std::size_t start = 0;
    while (true) {
      std::size_t comma = text.find(',', start);
      items.push_back(trimmed(
          std::string_view(text).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (items.back().empty())
        throw fail("the list has an empty item",
                   fmt::format("separate the items with commas, such as {}", spec.example));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  switch (spec.kind) {
    case Kind::text: return text;
    case Kind::integer: return integer(text);
    case Kind::text_list:
      for (auto& item : items)
        if (item.starts_with("mailto:")) item.erase(0, 7);
      return items;
    case Kind::integer_list: {
      std::vector<std::int64_t> numbers;
      for (const auto& item : items) numbers.push_back(integer(item));
      return numbers;
    }
  }
  return text;
}

// Reads the file for an edit of `key`, refusing a file that does not load: rewriting it would
// replace what the user meant with what certcli guessed.
Entries entries_for_edit(const fs::path& file, const std::string& key) {
  auto text = read_if_exists(file);
  if (!text) return {};
  try {
    Entries entries = read_entries(*text, file);
    build(entries, file, BuildOptions{nullptr, "", key});
    return entries;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::invalid_input) throw;
    throw Error(e.kind(), e.what(),
                fmt::format("{} (nothing was changed: certcli rewrites config.toml only when it loads)", e.hint()),
                e.subject());
  }
}

Setting setting_of(const Config& config, std::string_view key) {
  for (Setting& setting : effective_settings(config))
    if (setting.key == key) return setting;
  throw Error(ErrorKind::internal, fmt::format("config key {} has no setting", key));
}

// Writes the edited entries and returns the key's setting as the new file gives it.
Setting write_entries(const fs::path& file, const Entries& entries, const std::string& key, const Getenv* getenv) {
  std::string text = serialize(entries);
  Config config;
  try {
    config = build(read_entries(text, file), file, BuildOptions{getenv, key, ""});
  } catch (const Error& e) {
    throw Error(ErrorKind::internal, fmt::format("the config certcli was about to write does not load: {}", e.what()));
  }
  // config.toml lives in the state directory: created or adopted under the store's rules (owned
  // by this user, writable by nobody else, never a stray directory).
  if (fs::path dir = file.parent_path(); !dir.empty()) store::prepare_home(dir);
  store::write_file_atomic(file, text, fs::perms::owner_read | fs::perms::owner_write);
  return setting_of(config, key);
}

std::string joined(const std::vector<std::string>& items) { return fmt::format("{}", fmt::join(items, ", ")); }

std::string value_text(const Config& c, std::string_view key) {
  auto text = [](const std::optional<std::string>& v) { return v.value_or(""); };
  auto key_type = [](const std::optional<crypto::KeyType>& t) { return t ? crypto::key_type_name(*t) : std::string(); };
  if (key == "account.email") return joined(c.account_emails);
  if (key == "account.key_type") return key_type(c.account_key_type);
  if (key == "ca.name") return text(c.ca_name);
  if (key == "ca.directory") return text(c.ca_directory);
  if (key == "certificate.key_type") return key_type(c.certificate_key_type);
  if (key == "challenge.webroot") return text(c.webroot);
  if (key == "challenge.http_listen") return text(c.http_listen);
  if (key == "challenge.dns_rfc2136") return text(c.dns_rfc2136);
  if (key == "challenge.dns_hook") return text(c.dns_hook);
  if (key == "challenge.tsig_key") return text(c.tsig_key);
  if (key == "challenge.tsig_secret") return text(c.tsig_secret);
  if (key == "challenge.tsig_algorithm") return text(c.tsig_algorithm);
  if (key == "ca.caa_identity") return text(c.caa_identity);
  if (key == "dns.resolver") return text(c.dns_resolver);
  if (key == "renewal.buffer_days") return c.renewal_buffer_days ? std::to_string(*c.renewal_buffer_days) : "";
  if (key == "renewal.deploy_hook") return text(c.deploy_hook);
  if (key == "renewal.deploy_hook_timeout") return std::to_string(c.deploy_hook_timeout.count());
  if (key == "alerts.webhook") return text(c.alert_webhook);
  if (key == "alerts.days") return fmt::format("{}", fmt::join(c.alert_days, ", "));
  if (key == "keys.passphrase") return text(c.key_passphrase);
  if (key == "keys.live_key") return c.plain_live_key ? "plain" : "encrypted";
  return "";
}

}  // namespace

std::string Origin::where() const { return fmt::format("config.toml:{}", line); }

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all;
    for (const KeySpec& spec : kKeys) all.emplace_back(spec.key);
    return all;
  }();
  return keys;
}

std::filesystem::path config_file(const std::filesystem::path& home) { return home / "config.toml"; }

Config load_config(const std::filesystem::path& file, const Getenv& getenv) {
  auto text = read_if_exists(file);
  if (!text) return Config{};
  return build(read_entries(*text, file), file, BuildOptions{&getenv, "", ""});
}

std::vector<Setting> effective_settings(const Config& config) {
  std::vector<Setting> settings;
  for (const KeySpec& spec : kKeys) {
    Setting setting{std::string(spec.key), "", "unset", spec.secret};
    if (auto it = config.origins.find(setting.key); it != config.origins.end()) {
      const Origin& origin = it->second;
      setting.secret = spec.secret || origin.from_file_reference;
      setting.source = origin.where();
      if (setting.secret) {
        setting.value = origin.reference.empty() ? "(secret)" : origin.reference;
      } else {
        setting.value = value_text(config, spec.key);
        if (!origin.reference.empty()) setting.source += fmt::format(" ({})", origin.reference);
      }
    } else if (!spec.built_in.empty() && (spec.excludes.empty() || !config.is_set(std::string(spec.excludes)))) {
      setting.value = spec.built_in;
      setting.source = "built-in";
    }
    settings.push_back(std::move(setting));
  }
  return settings;
}

void check_key(const std::string& key) { require_key(key); }

void check_value(const std::string& key, const std::string& value, const Getenv& getenv) {
  const KeySpec& spec = require_key(key);
  Entries entries;
  entries.emplace(key, Entry{&spec, 0, parse_command_line(spec, value), std::nullopt});
  build(entries, key, BuildOptions{&getenv, "", ""});
}

Setting set_value(const std::filesystem::path& file, const std::string& key, const std::string& value,
                  const Getenv& getenv) {
  check_value(key, value, getenv);
  const KeySpec& spec = require_key(key);
  Entries entries = entries_for_edit(file, key);
  if (auto other = entries.find(spec.excludes); other != entries.end())
    throw Error(ErrorKind::invalid_input,
                fmt::format("{} is set ({}:{}), and {} and {} exclude each other", spec.excludes, file.string(),
                            other->second.line, spec.key, spec.excludes),
                fmt::format("unset it first: certcli config unset {}", spec.excludes), file.string());
  entries.insert_or_assign(key, Entry{&spec, 0, parse_command_line(spec, value), std::nullopt});
  return write_entries(file, entries, key, &getenv);
}

Setting unset_value(const std::filesystem::path& file, const std::string& key) {
  require_key(key);
  Entries entries = entries_for_edit(file, key);
  auto it = entries.find(key);
  if (it == entries.end()) return setting_of(build(entries, file, BuildOptions{nullptr, "", key}), key);
  entries.erase(it);
  return write_entries(file, entries, key, nullptr);
}

}  // namespace certcli::config
