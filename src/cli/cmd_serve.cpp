// certcli serve [--listen ADDR:PORT] [--allow-remote] [--require-ownership]: a small HTTP service
// over the state directory (routes and rules in lifecycle/serve.cpp). This file owns what is
// the CLI's: the listen policy's flag, the status JSON (the one `status --json` prints), the
// access log on stderr, and running until SIGTERM/SIGINT.
#include "cli/cli.hpp"

#include <certcli/interrupt.hpp>
#include <certcli/serve.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

namespace certcli::cli {
namespace {

// A request line is outside input: control characters and anything past 200 bytes stay out of
// the log.
std::string loggable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 200)) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace

void register_serve_command(CLI::App& app, Context& context) {
  struct ServeArgs {
    std::string listen = "127.0.0.1:8080";
    bool allow_remote = false;
    bool require_ownership = false;
  };
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Serve /allowed?domain=NAME (on-demand TLS ask), /status/NAME, /healthz and the http-01 answers of "
      "`issue --http-serve` over HTTP, until SIGTERM");
  serve->add_option("--listen", args->listen, "ADDR:PORT to listen on (default 127.0.0.1:8080; loopback only)")
      ->capture_default_str();
  serve->add_flag("--allow-remote", args->allow_remote,
                  "Allow a --listen address that is not loopback (anyone who reaches it sees which names are managed)");
  serve->add_flag("--require-ownership", args->require_ownership,
                  "/allowed answers 200 only for names whose ownership record the last `certcli verify` found");
  serve->callback([&context, args] {
    auto [address, port] = challenge::parse_listen_address(args->listen);
    bool loopback = lifecycle::is_loopback_address(address);
    if (!loopback && !args->allow_remote)
      throw Error(ErrorKind::usage,
                  fmt::format("--listen {} is not a loopback address; certcli serve listens on loopback only unless "
                              "asked",
                              args->listen),
                  "listen on 127.0.0.1 (or [::1]) behind your reverse proxy, or add --allow-remote if other hosts "
                  "must reach it directly",
                  args->listen);
    store::Store& store = context.store();
    Clock& clock = context.clock();
    lifecycle::ServeSettings settings;
    settings.http01_directory = context.home() / "http-01";
    settings.require_ownership = args->require_ownership;
    // The same function and the same serializer as `certcli status NAME --json`.
    settings.status_json = [&store, &clock](const std::string& name) -> std::optional<std::string> {
      std::vector<lifecycle::DomainStatus> statuses;
      try {
        statuses = lifecycle::domain_status(store, name);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::not_found) return std::nullopt;
        throw;
      }
      if (statuses.empty()) return std::nullopt;
      return json_text(domain_json(statuses.front(), clock.now()));
    };
    net::HttpHandler routes = lifecycle::make_serve_handler(store, std::move(settings));
    // One access-log line per response, the server's own refusals (405, 408, 431) included:
    // time, peer, method, path, status, bytes.
    net::HttpObserver access_log = [&clock](const net::HttpRequest& request, long status, std::size_t bytes) {
      std::string target = request.query.empty() ? request.path : request.path + "?" + request.query;
      fmt::print(stderr, "{} {} {} {} {} {}\n", format_rfc3339(clock.now()), loggable(request.peer),
                 request.method.empty() ? "-" : loggable(request.method), target.empty() ? "-" : loggable(target),
                 status, bytes);
      std::fflush(stderr);
    };
    net::HttpServerLimits limits;
    limits.head_timeout = std::chrono::seconds{5};  // a request head must arrive within 5 s...
    limits.max_head_bytes = 8 * 1024;               // ...and fit in 8 KiB (431 otherwise)
    limits.send_timeout = std::chrono::seconds{5};
    net::HttpServer server(address, port, std::move(routes), limits, std::move(access_log));
    if (!loopback)
      fmt::print(stderr,
                 "warning: listening on {} (not loopback): anyone who reaches it can see which names certcli manages "
                 "and read their status\n",
                 args->listen);
    bool v6 = address.find(':') != std::string::npos;
    fmt::print(stderr, "certcli serve: listening on http://{}{}{}:{} (state directory {}); SIGTERM or Ctrl-C stops it\n",
               v6 ? "[" : "", address, v6 ? "]" : "", server.port(), context.home().string());
    std::fflush(stderr);
    while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds{100});
    fmt::print(stderr, "certcli serve: stopped\n");
  });
}

}  // namespace certcli::cli
