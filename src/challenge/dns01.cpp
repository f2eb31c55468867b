// dns-01 solvers (RFC 8555 8.4): one solver that finds where the TXT record goes (following a
// CNAME at _acme-challenge, RFC 8555 8.4 / the usual delegation), hands it to a publisher (RFC 2136
// update, the operator's hook program, or the operator by hand) and waits until the zone's
// authoritative servers serve it. The TSIG secret is resolved once, kept in memory, and never put
// into a message.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>
#include <certcli/process.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <poll.h>
#include <unistd.h>

namespace certcli::challenge {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kDefaultTtl = 60;
constexpr int kDefaultHookTimeoutSeconds = 120;
constexpr int kDefaultPropagationTimeoutSeconds = 120;
constexpr int kDefaultPropagationIntervalSeconds = 2;
constexpr std::chrono::seconds kUpdateTimeout{10};
constexpr std::chrono::seconds kProgressEvery{5};

// Exactly what present() put where: cleanup() removes this and nothing else.
struct Placement {
  std::string identifier;  // as ordered
  std::string fqdn;        // _acme-challenge.NAME
  std::string target;      // where the CNAMEs from fqdn end: the name the record was written at
  std::string zone;        // "" when not known (hook, manual)
  std::string value;
};

std::string dotted(const std::string& name) { return name + "."; }

std::string lowercase(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// ---------------------------------------------------------------------------------------------
// Publishers: the provider-specific part.
// ---------------------------------------------------------------------------------------------

class Publisher {
 public:
  virtual ~Publisher() = default;
  // RFC 2136 must name the zone in its update; the others only use it for propagation checks.
  virtual bool needs_zone() const = 0;
  // A hook writes to a DNS provider certcli may not be able to see (split horizon, a private
  // resolver): a failed CNAME lookup there means "no CNAME", not failure.
  virtual bool sees_dns_itself() const { return true; }
  virtual void add(const Placement& placement) = 0;
  // "" or what could not be removed; never throws.
  virtual std::string remove(const Placement& placement) noexcept = 0;
  virtual std::string describe() const = 0;
};

class Rfc2136Publisher final : public Publisher {
 public:
  Rfc2136Publisher(const DnsSettings& settings, const DnsContext& context)
      : server_(dns::parse_server_address(settings.rfc2136_server, "--dns-rfc2136")),
        ttl_(settings.ttl.value_or(kDefaultTtl)) {
    if (!settings.tsig_key.empty()) {
      dns::TsigKey key;
      key.name = settings.tsig_key;
      if (!settings.tsig_algorithm.empty()) key.algorithm = settings.tsig_algorithm;
      dns::check_tsig_algorithm(key.algorithm);
      // Here, not at the first update: a missing $ENV or file fails before the CA is asked.
      key.secret = resolve_secret(settings.tsig_secret, context.getenv ? context.getenv : [](const char* name) {
        return static_cast<const char*>(std::getenv(name));
      });
      key_ = std::move(key);
    }
  }

  bool needs_zone() const override { return true; }
  void add(const Placement& p) override {
    dns::update_txt(server_, p.zone, p.target, p.value, /*add=*/true, ttl_, key_, kUpdateTimeout);
  }
  std::string remove(const Placement& p) noexcept override {
    try {
      dns::update_txt(server_, p.zone, p.target, p.value, /*add=*/false, ttl_, key_, kUpdateTimeout);
      return "";
    } catch (const std::exception& e) {
      return fmt::format("could not delete the TXT record {} \"{}\" (zone {}) at {}: {}", p.target, p.value, p.zone,
                         server_.to_string(), e.what());
    } catch (...) {
      return fmt::format("could not delete the TXT record {} \"{}\" at {}", p.target, p.value, server_.to_string());
    }
  }
  std::string describe() const override {
    std::string text = "dns-01 via RFC 2136 at " + server_.to_string();
    if (key_) text += " (key " + key_->name + ")";
    return text;
  }

 private:
  dns::ServerAddress server_;
  int ttl_;
  std::optional<dns::TsigKey> key_;
};

// `PROGRAM present|cleanup FQDN. VALUE`: the argument list of lego's exec provider, so scripts
// written for it work unchanged. Run directly, never through a shell.
class HookPublisher final : public Publisher {
 public:
  explicit HookPublisher(const DnsSettings& settings)
      : program_(settings.hook),
        timeout_(settings.hook_timeout_seconds.value_or(kDefaultHookTimeoutSeconds)) {}

  bool needs_zone() const override { return false; }
  bool sees_dns_itself() const override { return false; }

  void add(const Placement& p) override {
    process::Result result = run("present", p, /*cleanup=*/false);
    if (result.succeeded()) return;
    if (result.interrupted) throw_if_stop_requested();
    if (!result.started)
      throw Error(ErrorKind::challenge, fmt::format("could not start the dns-01 hook {}: {}", program_, result.start_error),
                  "give the path of an executable program; it is run directly with its arguments, not through a shell",
                  p.identifier);
    throw Error(ErrorKind::challenge,
                fmt::format("the dns-01 hook {} {} for {}", program_, result.failure(), p.identifier) +
                    stderr_part(result),
                fmt::format("run `{} present {} {}` by hand to see what it does; it must exit with status 0 once "
                            "the TXT record is written",
                            program_, dotted(p.target), p.value),
                p.identifier);
  }

  std::string remove(const Placement& p) noexcept override {
    try {
      process::Result result = run("cleanup", p, /*cleanup=*/true);
      if (result.succeeded()) return "";
      return fmt::format("the dns-01 hook {} cleanup {} {}", program_, dotted(p.target), result.failure()) +
             stderr_part(result);
    } catch (const std::exception& e) {
      return fmt::format("could not run the dns-01 hook {} cleanup {}: {}", program_, dotted(p.target), e.what());
    } catch (...) {
      return fmt::format("could not run the dns-01 hook {} cleanup {}", program_, dotted(p.target));
    }
  }

  std::string describe() const override { return "dns-01 via hook " + program_; }

 private:
  process::Result run(const std::string& action, const Placement& p, bool cleanup) const {
    process::Command command;
    command.argv = {program_, action, dotted(p.target), p.value};
    command.unset_environment = {"CERTCLI_DNS_ACTION", "CERTCLI_DNS_FQDN", "CERTCLI_DNS_VALUE", "CERTCLI_DNS_ZONE",
                                 "CERTCLI_DNS_DOMAIN"};
    command.environment = {{"CERTCLI_DNS_ACTION", action},
                           {"CERTCLI_DNS_FQDN", dotted(p.target)},
                           {"CERTCLI_DNS_VALUE", p.value},
                           {"CERTCLI_DNS_DOMAIN", p.identifier}};
    if (!p.zone.empty()) command.environment.emplace_back("CERTCLI_DNS_ZONE", p.zone);
    command.timeout = timeout_;
    // Cleanup also runs after Ctrl-C, and must still get to remove the record.
    command.stop_on_interrupt = !cleanup;
    return process::run(command);
  }

  static std::string stderr_part(const process::Result& result) {
    std::string tail = result.stderr_tail();
    return tail.empty() ? std::string{} : "; its stderr ended with:\n" + tail;
  }

  std::string program_;
  std::chrono::seconds timeout_;
};

class ManualPublisher final : public Publisher {
 public:
  ManualPublisher(const DnsSettings& settings, Progress progress)
      : ttl_(settings.ttl.value_or(kDefaultTtl)), progress_(std::move(progress)) {}

  bool needs_zone() const override { return false; }
  void add(const Placement& p) override { say("create this TXT record: " + record(p)); }
  std::string remove(const Placement& p) noexcept override {
    try {
      say("you may now delete the TXT record " + record(p));
    } catch (...) {
      // Nothing was removed by certcli; the instruction is a courtesy.
    }
    return "";
  }
  std::string describe() const override { return "dns-01 by hand"; }

 private:
  std::string record(const Placement& p) const {
    return fmt::format("{} {} IN TXT \"{}\"", dotted(p.target), ttl_, p.value);
  }
  void say(const std::string& line) const {
    if (progress_) progress_(line);
  }

  int ttl_;
  Progress progress_;
};

// ---------------------------------------------------------------------------------------------
// Waiting for propagation.
// ---------------------------------------------------------------------------------------------

struct ServerCheck {
  std::string name;
  dns::ServerAddress address;
  bool seen = false;
  std::string problem;  // why the last question got no answer; "" when it answered
};

// One name and every value certcli put there.
struct RecordWatch {
  std::string identifier;
  std::string target;
  std::string zone;
  std::set<std::string> values;
  bool through_resolver = false;  // else the zone's authoritative servers
  bool servers_known = false;
  std::vector<ServerCheck> servers;
  bool seen_by_resolver = false;
  std::string problem;  // finding the servers or asking the resolver

  bool done() const {
    if (through_resolver) return seen_by_resolver;
    return servers_known && std::all_of(servers.begin(), servers.end(), [](const auto& s) { return s.seen; });
  }
};

bool serves_all(const dns::Answer& answer, const std::set<std::string>& values) {
  return std::all_of(values.begin(), values.end(), [&](const std::string& v) {
    return std::find(answer.values.begin(), answer.values.end(), v) != answer.values.end();
  });
}

void check_once(const dns::Resolver& resolver, RecordWatch& watch) {
  if (watch.through_resolver) {
    try {
      watch.seen_by_resolver = serves_all(resolver.lookup(watch.target, dns::RecordType::TXT), watch.values);
      watch.problem.clear();
    } catch (const Error& e) {
      watch.problem = e.what();
    }
    return;
  }
  if (!watch.servers_known) {
    try {
      for (auto& [name, address] : resolver.authoritative_servers(watch.zone))
        watch.servers.push_back(ServerCheck{name, address, false, {}});
      watch.servers_known = true;
      watch.problem.clear();
    } catch (const Error& e) {
      watch.problem = fmt::format("the authoritative servers of {} are not known yet: {}", watch.zone, e.what());
      return;
    }
  }
  for (auto& server : watch.servers) {
    if (server.seen) continue;
    try {
      server.seen = serves_all(resolver.ask(server.address, watch.target, dns::RecordType::TXT), watch.values);
      server.problem.clear();
    } catch (const Error& e) {
      server.problem = e.what();
    }
  }
}

// "_acme-challenge.example.com TXT at ns2.example.com (192.0.2.2:53)", with the reason a server
// did not answer when there is one.
std::string describe_missing(const RecordWatch& watch) {
  std::string text = watch.target + " TXT";
  if (watch.through_resolver) {
    text += " through the resolver";
    if (!watch.problem.empty()) text += " (" + watch.problem + ")";
    return text;
  }
  if (!watch.servers_known) return text + " (" + watch.problem + ")";
  std::string where;
  for (const auto& server : watch.servers) {
    if (server.seen) continue;
    where += where.empty() ? " at " : ", ";
    where += fmt::format("{} ({})", server.name, server.address.to_string());
    if (!server.problem.empty()) where += ": " + server.problem;
  }
  return text + where;
}

std::string describe_all_missing(const std::vector<RecordWatch>& watches) {
  std::string text;
  for (const auto& watch : watches) {
    if (watch.done()) continue;
    if (!text.empty()) text += "; ";
    text += describe_missing(watch);
  }
  return text;
}

// True when a whole line was typed on stdin (Enter); sets `open` to false at end of input.
bool enter_pressed(std::chrono::milliseconds wait, bool& open) {
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buffer[256];
  ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
  if (n <= 0) {
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) open = false;
    return false;
  }
  return std::find(buffer, buffer + n, '\n') != buffer + n;
}

// Sleeps for `duration` in short slices, throwing Error{interrupted} on a stop request; with
// `watch_stdin`, returns true as soon as Enter is pressed.
bool pause(std::chrono::milliseconds duration, bool& watch_stdin) {
  constexpr std::chrono::milliseconds kSlice{100};
  const auto end = SteadyClock::now() + duration;
  for (auto now = SteadyClock::now(); now < end; now = SteadyClock::now()) {
    throw_if_stop_requested();
    auto slice = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(end - now), kSlice);
    if (watch_stdin) {
      if (enter_pressed(slice, watch_stdin)) return true;
    } else {
      std::this_thread::sleep_for(slice);
    }
  }
  throw_if_stop_requested();
  return false;
}

// ---------------------------------------------------------------------------------------------
// The solver.
// ---------------------------------------------------------------------------------------------

class DnsSolver final : public Solver {
 public:
  DnsSolver(const DnsSettings& settings, const DnsContext& context, std::unique_ptr<Publisher> publisher, bool manual)
      : settings_(settings), context_(context), publisher_(std::move(publisher)), manual_(manual) {}

  std::string challenge_type() const override { return "dns-01"; }

  void present(const ChallengeTask& task) override {
    Placement p;
    p.identifier = task.identifier;
    p.fqdn = dns01_record_name(task.identifier);
    p.value = dns01_txt_value(task.key_authorization);
    p.target = where_to_write(p.fqdn);
    p.zone = settings_.zone;
    if (p.zone.empty()) {
      if (publisher_->needs_zone()) {
        p.zone = context_.resolver->find_zone(p.target);
      } else {
        // Only for CERTCLI_DNS_ZONE and the propagation check, which tries again at wait time.
        try {
          p.zone = context_.resolver->find_zone(p.target);
        } catch (const Error&) {
        }
      }
    }
    publisher_->add(p);
    std::lock_guard guard(mutex_);
    presented_[task.token] = std::move(p);
  }

  void wait_until_visible(const std::vector<ChallengeTask>& tasks, const Progress& progress) override {
    const Progress& say = progress ? progress : context_.progress;
    auto report = [&](const std::string& line) {
      if (say) say(line);
    };
    std::vector<RecordWatch> watches = watches_for(tasks, report);
    bool watch_stdin = manual_ && context_.interactive;
    const std::string mode = settings_.propagation.empty() ? "authoritative" : settings_.propagation;
    if (mode == "off" || watches.empty()) {
      if (!watch_stdin || watches.empty()) return;
      report("press Enter once the record is in place");
      while (watch_stdin && !pause(std::chrono::seconds{1}, watch_stdin)) {
      }
      return;
    }
    if (watch_stdin) report("press Enter once the record is in place (certcli is also checking DNS)");

    const auto timeout = propagation_timeout();
    const auto interval = std::chrono::seconds(settings_.propagation_interval_seconds.value_or(
        kDefaultPropagationIntervalSeconds));
    const auto deadline = SteadyClock::now() + timeout;
    std::optional<SteadyClock::time_point> last_report;
    for (;;) {
      throw_if_stop_requested();
      for (auto& watch : watches)
        if (!watch.done()) check_once(*context_.resolver, watch);
      if (std::all_of(watches.begin(), watches.end(), [](const auto& w) { return w.done(); })) return;
      const auto now = SteadyClock::now();
      if (now >= deadline) throw not_visible(watches, mode, timeout);
      if (!last_report || now - *last_report >= kProgressEvery) {
        report("waiting for " + describe_all_missing(watches));
        last_report = now;
      }
      auto sleep = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                            std::chrono::duration_cast<std::chrono::milliseconds>(interval));
      if (pause(sleep, watch_stdin)) return;  // the operator says it is in place
    }
  }

  std::chrono::seconds propagation_timeout() const override {
    return std::chrono::seconds(settings_.propagation_timeout_seconds.value_or(kDefaultPropagationTimeoutSeconds));
  }

  std::string cleanup(const ChallengeTask& task) noexcept override {
    Placement p;
    try {
      std::lock_guard guard(mutex_);
      auto it = presented_.find(task.token);
      if (it == presented_.end()) return "";
      p = std::move(it->second);
      presented_.erase(it);
    } catch (...) {
      return "could not look up what was presented for " + task.identifier;
    }
    return publisher_->remove(p);
  }

  std::string describe() const override { return publisher_->describe(); }

 private:
  void tell(const std::string& line) const {
    if (context_.progress) context_.progress(line);
  }

  // The end of the CNAME chain at _acme-challenge.NAME: the CA follows it, so the record goes there.
  std::string where_to_write(const std::string& fqdn) const {
    std::string target;
    try {
      target = context_.resolver->follow_cnames(fqdn);
    } catch (const Error& e) {
      if (publisher_->sees_dns_itself() || e.kind() != ErrorKind::network) throw;
      tell(fmt::format("could not check {} for a CNAME ({}); the hook is given {} itself", fqdn, e.what(), fqdn));
      return fqdn;
    }
    if (target == lowercase(fqdn)) return fqdn;
    tell(fmt::format("{} is a CNAME: writing the record at {}", fqdn, target));
    if (!settings_.alias.empty()) {
      std::string alias = lowercase(settings_.alias);
      if (alias.ends_with('.')) alias.pop_back();
      if (alias != target)
        tell(fmt::format("{} was expected to point to {} but leads to {}; the CA follows the CNAME, so the record "
                         "is written at {}",
                         fqdn, alias, target, target));
    }
    return target;
  }

  std::vector<RecordWatch> watches_for(const std::vector<ChallengeTask>& tasks,
                                       const std::function<void(const std::string&)>& report) const {
    std::vector<Placement> placements;
    {
      std::lock_guard guard(mutex_);
      for (const auto& task : tasks) {
        auto it = presented_.find(task.token);
        if (it != presented_.end()) placements.push_back(it->second);
      }
    }
    bool through_resolver = settings_.propagation == "resolver";
    std::vector<RecordWatch> watches;
    for (const auto& p : placements) {
      auto same = std::find_if(watches.begin(), watches.end(), [&](const auto& w) { return w.target == p.target; });
      if (same != watches.end()) {
        same->values.insert(p.value);
        continue;
      }
      RecordWatch watch;
      watch.identifier = p.identifier;
      watch.target = p.target;
      watch.zone = p.zone;
      watch.values.insert(p.value);
      watch.through_resolver = through_resolver;
      if (!through_resolver && watch.zone.empty() && settings_.propagation != "off") {
        try {
          watch.zone = context_.resolver->find_zone(p.target);
        } catch (const Error& e) {
          report(fmt::format("could not find the zone of {} ({}); checking through the resolver instead", p.target,
                           e.what()));
          watch.through_resolver = true;
        }
      }
      watches.push_back(std::move(watch));
    }
    return watches;
  }

  Error not_visible(const std::vector<RecordWatch>& watches, const std::string& mode, std::chrono::seconds timeout) const {
    const RecordWatch& first = *std::find_if(watches.begin(), watches.end(), [](const auto& w) { return !w.done(); });
    std::string hint =
        mode == "resolver"
            ? "check that the record was created, and that the resolver is not still caching the answer from "
              "before it was (the negative TTL of the zone's SOA); "
            : fmt::format("check that the record reaches the primary server of {} and that every authoritative "
                          "server receives the zone from it; ",
                          first.zone.empty() ? "the zone" : first.zone);
    hint += "if it only propagates slowly, raise the wait with --dns-propagation-timeout, or check through the "
            "resolver (--dns-propagation resolver) or not at all (--dns-propagation off)";
    return Error(ErrorKind::challenge,
                 fmt::format("{} still not visible after {} s: {}",
                             std::count_if(watches.begin(), watches.end(), [](const auto& w) { return !w.done(); }) > 1
                                 ? "the TXT records are"
                                 : "the TXT record is",
                             timeout.count(), describe_all_missing(watches)),
                 hint, first.identifier);
  }

  DnsSettings settings_;
  DnsContext context_;
  std::unique_ptr<Publisher> publisher_;
  bool manual_;
  mutable std::mutex mutex_;
  std::map<std::string, Placement> presented_;  // token -> what was added where
};

}  // namespace

std::unique_ptr<Solver> make_dns_solver(const DnsSettings& settings, const DnsContext& context) {
  if (!context.resolver) throw Error(ErrorKind::internal, "make_dns_solver needs a DNS resolver");
  const std::string provider = settings.provider();
  const std::string& propagation = settings.propagation;
  if (!propagation.empty() && propagation != "authoritative" && propagation != "resolver" && propagation != "off")
    throw Error(ErrorKind::invalid_input, fmt::format("unknown DNS propagation check \"{}\"", propagation),
                "use authoritative, resolver or off");
  std::unique_ptr<Publisher> publisher;
  if (provider == "rfc2136")
    publisher = std::make_unique<Rfc2136Publisher>(settings, context);
  else if (provider == "hook")
    publisher = std::make_unique<HookPublisher>(settings);
  else if (provider == "manual")
    publisher = std::make_unique<ManualPublisher>(settings, context.progress);
  else
    throw Error(ErrorKind::invalid_input, "no dns-01 provider is configured",
                "give an RFC 2136 server, a hook program, or answer the challenge by hand");
  return std::make_unique<DnsSolver>(settings, context, std::move(publisher), provider == "manual");
}

}  // namespace certcli::challenge
