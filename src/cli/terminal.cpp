// Colour, progress and the timeline bar: see terminal.hpp.
#include "cli/terminal.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace certcli::cli {

bool color_enabled(const std::string& mode, bool is_terminal, const char* no_color) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  // https://no-color.org: set to any non-empty value, it disables colour.
  if (no_color != nullptr && *no_color != '\0') return false;
  return is_terminal;
}

bool progress_enabled(const std::string& mode, bool is_terminal, bool quiet) {
  if (quiet || mode == "never") return false;
  return mode == "always" || is_terminal;
}

ProgressLine classify_progress(const std::string& line) {
  // Without these the operator cannot finish a dns-01 by hand: shown even with --quiet.
  if (line.find("create this TXT record") != std::string::npos || line.find("you may now delete") != std::string::npos)
    return ProgressLine::instruction;
  if (line.starts_with("warning:") || line.find(": warning:") != std::string::npos) return ProgressLine::warning;
  return ProgressLine::progress;
}

ProgressReporter::ProgressReporter(bool show_progress, bool quiet, Sink sink)
    : show_progress_(show_progress), quiet_(quiet), sink_(std::move(sink)), started_(std::chrono::steady_clock::now()) {}

void ProgressReporter::operator()(const std::string& line) const {
  switch (classify_progress(line)) {
    case ProgressLine::instruction:
      sink_(line);
      return;
    case ProgressLine::warning:
      if (!quiet_) sink_(line);
      return;
    case ProgressLine::progress:
      if (!show_progress_) return;
      // Elapsed time on a monotonic clock: for the person watching, not a decision.
      auto elapsed = std::chrono::steady_clock::now() - started_;
      auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() / 100;
      sink_(fmt::format("{} ({}.{} s)", line, tenths / 10, tenths % 10));
      return;
  }
}

std::string paint(const std::string& text, Health health, bool color) {
  if (!color) return text;
  const char* code = health == Health::ok ? "32" : health == Health::due ? "33" : "31";
  return fmt::format("\033[{}m{}\033[0m", code, text);
}

Health timeline_health(const store::DomainRecord& record, TimePoint now, const renewal::Policy& policy) {
  if (record.status == store::CertificateStatus::failed || record.revoked_at) return Health::bad;
  if (!record.expires_at) return Health::due;
  if (now >= *record.expires_at) return Health::bad;
  return renewal::renewal_due(record, now, policy).due ? Health::due : Health::ok;
}

namespace {

constexpr int kNameColumns = 28;
constexpr int kLabelColumns = 16;

std::string fit(const std::string& text, std::size_t columns) {
  if (text.size() <= columns) return text + std::string(columns - text.size(), ' ');
  return text.substr(0, columns - 1) + "~";
}

std::string label_for(const store::DomainRecord& record, TimePoint now, Health health) {
  if (!record.expires_at) return record.status == store::CertificateStatus::failed ? "failed, no cert" : "no certificate";
  int days = renewal::days_left(*record.expires_at, now);
  if (now >= *record.expires_at) return fmt::format("expired {}d ago", -days);
  const char* word = record.revoked_at ? "revoked" : record.status == store::CertificateStatus::failed ? "failed"
                                                    : health == Health::due                            ? "due"
                                                                                                       : "ok";
  return fmt::format("{}, {}d left", word, days);
}

}  // namespace

std::string timeline_line(const store::DomainRecord& record, TimePoint now, const renewal::Policy& policy, int width,
                          bool color) {
  const int cells = std::max(10, width - kNameColumns - kLabelColumns - 4);  // " [" "]" " "
  const Health health = timeline_health(record, now, policy);
  std::string bar;
  if (!record.expires_at) {
    bar = fit("", static_cast<std::size_t>(cells));
  } else {
    // From the record alone, no certificate parsed: notBefore, else the time it was issued.
    TimePoint start = record.not_before ? *record.not_before
                                        : record.issued_at.value_or(*record.expires_at - std::chrono::hours(24 * 90));
    TimePoint end = *record.expires_at;
    if (end <= start) start = end - std::chrono::hours(24);
    auto cell_of = [&](TimePoint t) {
      double at = std::chrono::duration<double>(t - start).count() / std::chrono::duration<double>(end - start).count();
      return std::clamp(static_cast<int>(at * cells), 0, cells - 1);
    };
    const int today = cell_of(now);
    bar.assign(static_cast<std::size_t>(cells), '-');
    for (int i = 0; i < cells && (i < today || now >= end); ++i) bar[static_cast<std::size_t>(i)] = '=';
    bar[static_cast<std::size_t>(cells - 1)] = '|';
    if (auto due_at = renewal::renewal_due(record, now, policy).due_at; due_at && *due_at >= start && *due_at < end)
      bar[static_cast<std::size_t>(cell_of(*due_at))] = 'R';
    bar[static_cast<std::size_t>(today)] = '^';
  }
  std::string label = label_for(record, now, health);
  return fmt::format("{} [{}] {}", fit(record.name, kNameColumns), paint(bar, health, color),
                     paint(label.substr(0, kLabelColumns), health, color));
}

std::string timeline_legend(bool color) {
  return fmt::format("[ issued  = past  - to come  ^ today  R renewal  | expiry  {} {} {}",
                     paint("ok", Health::ok, color), paint("due", Health::due, color),
                     paint("expired/failed", Health::bad, color));
}

}  // namespace certcli::cli
