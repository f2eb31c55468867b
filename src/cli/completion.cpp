// Shell completion from the CLI definitions themselves: `certcli __complete WORD...` walks the
// CLI::App tree the way CLI11 parses and prints the candidates for the last word; the scripts
// `certcli completions bash|zsh|fish` prints (and completions/ holds) only ask it. So a command
// or option added to the tree completes at once, with nothing to keep in step by hand.
#include "cli/cli.hpp"

#include <certcli/crypto.hpp>
#include <certcli/names.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <system_error>

namespace certcli::cli {

namespace {

// Marker validators: their name says what completion offers, their check accepts everything
// (the command checks the value itself, with its own message and hint).
constexpr const char* kOffersDomains = "offers-domains";
constexpr const char* kOffersNothing = "offers-nothing";

CLI::Validator marker(const char* name) {
  return CLI::Validator([](std::string&) { return std::string{}; }, "", name);
}

// A "{a,b,c}" description (CLI::IsMember's, and offers()'s) -> its values.
std::vector<std::string> set_values(const std::string& description) {
  std::vector<std::string> values;
  if (description.size() < 2 || description.front() != '{' || description.back() != '}') return values;
  std::string inner = description.substr(1, description.size() - 2);
  for (std::size_t start = 0; start <= inner.size();) {
    std::size_t comma = inner.find(',', start);
    if (comma == std::string::npos) comma = inner.size();
    if (comma > start) values.push_back(inner.substr(start, comma - start));
    start = comma + 1;
  }
  return values;
}

std::vector<CLI::Validator*> validators_of(CLI::Option* option) {
  std::vector<CLI::Validator*> validators;
  // CLI11 2.1 has no count of them; asking past the last throws.
  try {
    for (int i = 0;; ++i) validators.push_back(option->get_validator(i));
  } catch (const CLI::OptionNotFound&) {
  }
  return validators;
}

bool has_marker(CLI::Option* option, const char* name) {
  for (CLI::Validator* v : validators_of(option))
    if (v->get_name() == name) return true;
  return false;
}

CLI::Option* find_option(CLI::App* app, const std::string& word) {
  for (CLI::Option* option : options_in_scope(app)) {
    if (word.starts_with("--") ? option->check_lname(word.substr(2)) : word.size() == 2 && option->check_sname(word.substr(1)))
      return option;
  }
  return nullptr;
}

// Subcommands a user can type: not disabled, not hidden (an empty group hides one from --help).
std::vector<CLI::App*> visible_subcommands(CLI::App* app) {
  std::vector<CLI::App*> subs;
  for (CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_disabled() && !sub->get_name().empty() && !sub->get_group().empty()) subs.push_back(sub);
  return subs;
}

bool takes_value(CLI::Option* option) { return option->get_items_expected_max() > 0; }

// The directory names of <home>/domains back to the names storage_name() made them from.
std::vector<std::string> managed_domains(const std::filesystem::path& home) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(home / "domains", ec)) {
    std::string dir = entry.path().filename().string();
    if (!entry.is_directory(ec) || !std::filesystem::exists(entry.path() / "domain.toml", ec)) continue;
    if (dir.starts_with("_wildcard.")) {
      names.push_back("*" + dir.substr(9));
    } else if (dir.starts_with("ip-")) {
      std::string address = dir.substr(3);
      if (!is_ip_address(address)) std::replace(address.begin(), address.end(), '-', ':');
      names.push_back(address);
    } else {
      names.push_back(dir);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Candidate {
  std::string word;
  std::string description;
};

// What the last word of a command line may become.
struct Completion {
  std::vector<Candidate> candidates;
  bool files = false;  // the shell's own file-name completion instead
};

class Completer {
 public:
  Completer(CLI::App& root, std::vector<std::string> words) : root_(root), words_(std::move(words)) {
    if (words_.empty()) words_.push_back("");
  }

  Completion run() {
    CLI::App* app = &root_;
    std::size_t positionals_taken = 0;
    bool only_positionals = false;  // after "--"
    CLI::Option* awaiting = nullptr;   // the option whose value the next word is
    for (std::size_t i = 0; i + 1 < words_.size(); ++i) {
      const std::string& word = words_[i];
      if (awaiting != nullptr) {
        if (awaiting->check_lname("home")) home_ = word;
        awaiting = nullptr;
        continue;
      }
      if (!only_positionals && word == "--") {
        only_positionals = true;
        continue;
      }
      if (!only_positionals && word.size() > 1 && word[0] == '-') {
        std::size_t equals = word.find('=');
        CLI::Option* option = find_option(app, word.substr(0, equals));
        if (option == nullptr) continue;
        if (equals != std::string::npos) {
          if (option->check_lname("home")) home_ = word.substr(equals + 1);
        } else if (takes_value(option)) {
          awaiting = option;
        }
        continue;
      }
      if (!only_positionals && positionals_taken >= required_positionals(app)) {
        if (CLI::App* sub = find_subcommand(app, word)) {
          app = sub;
          positionals_taken = 0;
          continue;
        }
      }
      ++positionals_taken;
    }

    const std::string& current = words_.back();
    if (awaiting != nullptr) return values_of(awaiting, "", current);
    if (!only_positionals && current.starts_with("--") && current.find('=') != std::string::npos) {
      std::size_t equals = current.find('=');
      CLI::Option* option = find_option(app, current.substr(0, equals));
      if (option == nullptr || !takes_value(option)) return {};
      return values_of(option, current.substr(0, equals + 1), current.substr(equals + 1));
    }
    if (!only_positionals && current.starts_with("-")) return options_of(app, current);
    return words_for(app, positionals_taken, only_positionals, current);
  }

 private:
  static std::size_t required_positionals(CLI::App* app) {
    std::size_t slots = 0;
    for (CLI::Option* option : app->get_options([](CLI::Option* o) { return o->get_positional(); }))
      if (option->get_required()) slots += static_cast<std::size_t>(option->get_items_expected_min());
    return slots;
  }

  static CLI::App* find_subcommand(CLI::App* app, const std::string& word) {
    for (CLI::App* sub : app->get_subcommands({}))
      if (!sub->get_disabled() && sub->check_name(word)) return sub;
    return nullptr;
  }

  std::filesystem::path home() const {
    std::string typed = home_;
    if (typed.empty())
      if (const char* env = std::getenv("CERTCLI_HOME"); env != nullptr) typed = env;
    if (typed.empty()) return store::default_home();
    // A ~ the shell will expand when the command runs.
    if ((typed == "~" || typed.starts_with("~/")) && std::getenv("HOME") != nullptr)
      typed = std::getenv("HOME") + typed.substr(1);
    return typed;
  }

  void add_matching(Completion& out, const std::string& prefix, const std::string& current, const std::string& value,
                    const std::string& description = {}) const {
    if (value.starts_with(current)) out.candidates.push_back({prefix + value, description});
  }

  // The value of `option` (or of a positional) being typed; `prefix` is "--name=" when the
  // value is in the same word.
  Completion values_of(CLI::Option* option, const std::string& prefix, const std::string& current) const {
    Completion out;
    if (has_marker(option, kOffersNothing)) return out;
    bool domain_positional = option->get_positional() && (option->get_name(true) == "name" || option->get_name(true) == "names");
    if (has_marker(option, kOffersDomains) || (domain_positional && validators_of(option).empty())) {
      for (const std::string& name : managed_domains(home())) add_matching(out, prefix, current, name);
      return out;
    }
    bool listed = false;
    for (CLI::Validator* v : validators_of(option)) {
      std::vector<std::string> values = set_values(v->get_description());
      listed = listed || !values.empty();
      for (const std::string& value : values) add_matching(out, prefix, current, value);
    }
    // An option with no known values: most are paths (--webroot, --ca-bundle, --csr, --cert).
    if (!listed && prefix.empty() && option->nonpositional()) out.files = true;
    return out;
  }

  Completion options_of(CLI::App* app, const std::string& current) const {
    Completion out;
    for (CLI::Option* option : options_in_scope(app)) {
      // --version belongs to certcli itself, not to its commands.
      if (app != &root_ && option->check_lname("version") && root_.get_option_no_throw("--version") == option) continue;
      if (option->get_group().empty()) continue;  // hidden from --help, so from completion too
      for (const std::string& name : option->get_lnames()) add_matching(out, "", current, "--" + name, option->get_description());
      for (const std::string& name : option->get_snames()) add_matching(out, "", current, "-" + name, option->get_description());
    }
    return out;
  }

  // A word that is not an option: a subcommand, or the value of the next positional.
  Completion words_for(CLI::App* app, std::size_t positionals_taken, bool only_positionals, const std::string& current) const {
    Completion out;
    if (!only_positionals && positionals_taken >= required_positionals(app))
      for (CLI::App* sub : visible_subcommands(app)) add_matching(out, "", current, sub->get_name(), sub->get_description());
    std::size_t slot = 0;
    for (CLI::Option* positional : app->get_options([](CLI::Option* o) { return o->get_positional(); })) {
      std::size_t slots = static_cast<std::size_t>(std::max(positional->get_items_expected_max(), 0));
      if (positionals_taken < slot + slots) {
        Completion values = values_of(positional, "", current);
        out.candidates.insert(out.candidates.end(), values.candidates.begin(), values.candidates.end());
        break;
      }
      slot += slots;
    }
    return out;
  }

  CLI::App& root_;
  std::vector<std::string> words_;
  std::string home_;  // --home typed on the line
};

// One candidate a line; a description after a tab (zsh and fish show it, bash drops it).
// ":files" alone asks the shell for its file-name completion.
void print_completion(const Completion& completion) {
  if (completion.files) {
    std::cout << ":files\n";
    return;
  }
  for (const Candidate& c : completion.candidates) {
    std::string description = c.description.substr(0, c.description.find('\n'));
    std::cout << c.word << (description.empty() ? "" : "\t" + description) << "\n";
  }
}

// The scripts only hand the words to the binary that is being completed, and show what it says.
constexpr const char* kBashScript = R"BASH(# bash completion for certcli                                   -*- shell-script -*-
#
# Generated by `certcli completions bash`; installed as
# /usr/share/bash-completion/completions/certcli, or `source` it from ~/.bashrc.
# The candidates come from certcli itself (`certcli __complete WORD...`), so they always match
# its commands and options. Works with or without the bash-completion package.

_certcli() {
    # Split the line on blanks only, honouring quotes and backslashes: bash's COMP_WORDS also
    # breaks at = and :, which would tear apart --ca=NAME and ADDR:PORT.
    local line=${COMP_LINE:0:COMP_POINT} word="" quote="" c j
    local -a words=()
    for ((j = 0; j < ${#line}; j++)); do
        c=${line:j:1}
        if [[ -n $quote ]]; then
            if [[ $c == "$quote" ]]; then quote=""; else word+=$c; fi
        elif [[ $c == \\ ]] && ((j + 1 < ${#line})); then
            ((++j))
            word+=${line:j:1}
        elif [[ $c == [[:blank:]] ]]; then
            [[ -n $word ]] && words+=("$word")
            word=""
        elif [[ $c == \' || $c == '"' ]]; then
            quote=$c
        else
            word+=$c
        fi
    done
    words+=("$word")

    local cur=$word candidate prefix="" i
    local -a out
    mapfile -t out < <("${words[0]}" __complete "${words[@]:1}" 2>/dev/null)
    COMPREPLY=()
    if [[ ${out[0]-} == :files ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
    fi
    # bash replaces only the part of the word after its last COMP_WORDBREAKS character.
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        if [[ $COMP_WORDBREAKS == *"${cur:i:1}"* ]]; then
            prefix=${cur:0:i+1}
            break
        fi
    done
    for candidate in "${out[@]}"; do
        candidate=${candidate%%$'\t'*}
        candidate=${candidate#"$prefix"}
        # *.example.com: escaped, so that the shell does not take it for a glob.
        [[ $candidate == '*'* ]] && candidate="\\$candidate"
        COMPREPLY+=("$candidate")
    done
    return 0
}

complete -F _certcli certcli
)BASH";

constexpr const char* kZshScript = R"ZSH(#compdef certcli
#
# zsh completion for certcli. Generated by `certcli completions zsh`; installed as
# /usr/share/zsh/vendor-completions/_certcli (any directory in $fpath will do).
# The candidates come from certcli itself (`certcli __complete WORD...`), so they always match
# its commands and options.

_certcli() {
    local -a lines candidates shown
    local line
    lines=("${(@f)$(${words[1]} __complete "${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ ${lines[1]-} == :files ]]; then
        _files
        return
    fi
    for line in $lines; do
        [[ -z $line ]] && continue
        candidates+=("${line%%$'\t'*}")
        if [[ $line == *$'\t'* ]]; then
            shown+=("${line%%$'\t'*}  -- ${line#*$'\t'}")
        else
            shown+=("$line")
        fi
    done
    (( ${#candidates} )) || return 1
    compadd -l -d shown -a candidates
}

if [[ ${funcstack[1]-} == _certcli ]]; then
    _certcli "$@"
else
    compdef _certcli certcli
fi
)ZSH";

constexpr const char* kFishScript = R"FISH(# fish completion for certcli. Generated by `certcli completions fish`; installed as
# /usr/share/fish/vendor_completions.d/certcli.fish (or ~/.config/fish/completions/).
# The candidates come from certcli itself (`certcli __complete WORD...`), so they always match
# its commands and options.

function __certcli_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..-1] "$current" 2>/dev/null)
    if test "$out[1]" = :files
        __fish_complete_path "$current"
        return
    end
    printf '%s\n' $out
end

complete -c certcli -f -a '(__certcli_complete)'
)FISH";

}  // namespace

CLI::Validator offers(std::vector<std::string> values) {
  std::string description = "{";
  for (std::size_t i = 0; i < values.size(); ++i) description += (i ? "," : "") + values[i];
  return CLI::Validator([](std::string&) { return std::string{}; }, description + "}", "offers");
}

std::vector<std::string> key_type_names() {
  std::vector<std::string> names;
  for (auto type : {crypto::KeyType::ec256, crypto::KeyType::ec384, crypto::KeyType::rsa2048, crypto::KeyType::rsa3072,
                    crypto::KeyType::rsa4096})
    names.push_back(crypto::key_type_name(type));
  return names;
}

std::vector<std::string> ca_preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : lifecycle::ca_presets()) names.push_back(preset.name);
  return names;
}

CLI::Validator offers_domains() { return marker(kOffersDomains); }
CLI::Validator offers_nothing() { return marker(kOffersNothing); }

std::optional<int> complete_command_line(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "__complete") return std::nullopt;
  print_completion(Completer(app, std::vector<std::string>(argv + 2, argv + argc)).run());
  return 0;
}

void register_completions_command(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand("completions", "Print the shell completion script for bash, zsh or fish");
  command->add_option("shell", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  command->callback([shell] {
    std::cout << (*shell == "bash" ? kBashScript : *shell == "zsh" ? kZshScript : kFishScript);
  });
}

}  // namespace certcli::cli
