// `certcli activity`: reads activity.jsonl and its rotated files (the store writes and rotates
// them, see FileStore::append_activity). A damaged line is skipped and named, never fatal: the
// log is a record of what happened, and one bad line must not hide the rest.
#include <certcli/activity.hpp>
#include <certcli/files.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include <fcntl.h>

namespace certcli::lifecycle {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLogName = "activity.jsonl";

// "activity.jsonl.20261125T163816Z" or "...Z-2": a rotated log, never a temp file or anything else.
bool is_rotated_log(const std::string& file_name) {
  std::string prefix = std::string(kLogName) + ".";
  if (!file_name.starts_with(prefix) || file_name.size() <= prefix.size()) return false;
  return std::all_of(file_name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), file_name.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == 'T' || c == 'Z' || c == '-'; });
}

}  // namespace

std::vector<fs::path> activity_files(const fs::path& home) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(home, ec), end; !ec && it != end; it.increment(ec))
    if (is_rotated_log(it->path().filename().string())) files.push_back(it->path());
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw Error(ErrorKind::state, fmt::format("cannot list {}: {}", home.string(), ec.message()),
                "check that the state directory is readable by this user (see --home)", home.string());
  // The stamps are UTC and fixed-width, so their order is their age ("-2" sorts after its twin).
  std::sort(files.begin(), files.end());
  if (fs::exists(home / kLogName, ec)) files.push_back(home / kLogName);
  return files;
}

void parse_activity(std::string_view text, const std::string& file, const ActivityFilter& filter, ActivityLog& log) {
  std::size_t line_number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto damaged = [&](const std::string& why) { log.damaged.push_back(fmt::format("{} line {}: {}", file, line_number, why)); };

    nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) {
      damaged(event.is_discarded() ? "not JSON (cut short or overwritten?)" : "not a JSON object");
      continue;
    }
    auto time = event.find("time");
    auto name = event.find("event");
    if (name == event.end() || !name->is_string() || time == event.end() || !time->is_string()) {
      damaged("no \"event\" or \"time\"");
      continue;
    }
    TimePoint at;
    try {
      at = parse_rfc3339(time->get<std::string>());
    } catch (const Error&) {
      damaged(fmt::format("\"time\" is not an RFC 3339 time"));
      continue;
    }
    if (filter.since && at < *filter.since) continue;
    if (!filter.domain.empty()) {
      auto domain = event.find("domain");
      if (domain == event.end() || !domain->is_string() || domain->get<std::string>() != filter.domain) continue;
    }
    log.events.push_back(std::move(event));
  }
}

ActivityLog read_activity(const fs::path& home, const ActivityFilter& filter) {
  // A certcli appending meanwhile may rotate activity.jsonl away between the listing and the
  // read; the listing is then taken again, so that the rotated file's lines are not missed.
  for (int attempt = 0;; ++attempt) {
    ActivityLog log;
    bool rotated_meanwhile = false;
    // Each log is opened in the home's descriptor with O_NOFOLLOW and must be a regular file: a
    // linked or FIFO activity.jsonl is refused, never read through or waited on.
    files::UniqueFd home_fd(::open(home.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (const auto& path : activity_files(home)) {
      std::string text;
      try {
        files::UniqueFd fd = home_fd ? files::open_file_at(home_fd.get(), path.filename().string(), path, O_RDONLY)
                                     : files::UniqueFd();
        if (!fd) throw Error(ErrorKind::state, fmt::format("cannot read {}", path.string()));
        text = files::read_all(fd.get(), path);
      } catch (const Error&) {
        std::error_code ec;
        if (attempt > 2 || fs::exists(fs::symlink_status(path, ec))) throw;
        rotated_meanwhile = true;
        break;
      }
      parse_activity(text, path.filename().string(), filter, log);
    }
    if (!rotated_meanwhile) return log;
  }
}

}  // namespace certcli::lifecycle
