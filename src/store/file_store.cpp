// The embedded Store: one directory on the local file system. Layout (docs/state.md):
//   .lock  activity.jsonl  accounts/<ca-id>/{account.toml,account.key}
//   domains/<name>/domain.toml  domains/<name>/pending/key.pem
//   domains/<name>/archive/<UTC>/{cert,chain,fullchain,key}.pem  domains/<name>/live -> archive/<UTC>
// live is a symlink so that the four files of a certificate change together in one rename.
#include "store/records.hpp"

#include <certcli/crypto.hpp>
#include <certcli/error.hpp>
#include <certcli/names.hpp>
#include <certcli/store.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/file.h>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace certcli::store {
namespace {

constexpr fs::perms kPrivateFile = fs::perms::owner_read | fs::perms::owner_write;

// Defence in depth: callers validate names, but nothing from outside may reach a path unchecked.
std::string checked_domain_dir(const std::string& name) {
  if (normalize_name(name) != name)
    throw Error(ErrorKind::internal, fmt::format("domain name '{}' reached the store unnormalized", name));
  return storage_name(name);
}

void check_ca_id(const std::string& ca_id) {
  bool ok = !ca_id.empty() && ca_id.find("..") == std::string::npos &&
            std::all_of(ca_id.begin(), ca_id.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
            });
  if (!ok) throw Error(ErrorKind::internal, fmt::format("CA id '{}' is not a safe directory name", ca_id));
}

// getpwuid_r: the domain listing parses on several threads, and a refused directory is named
// with its owner from any of them.
std::string user_name(uid_t uid) {
  passwd entry{};
  passwd* user = nullptr;
  std::array<char, 4096> buffer{};
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &user) == 0 && user != nullptr) return user->pw_name;
  return std::to_string(uid);
}

// The state directory could not be read: a monitoring script must never take that for "no
// domains", so it is an Error{state} naming the directory and whose it is.
Error unreadable_state(const fs::path& path, int err) {
  struct stat st {};
  std::string owner;
  if (::stat(path.c_str(), &st) == 0) owner = user_name(st.st_uid);
  return Error(ErrorKind::state, fmt::format("cannot read the state directory {}: {}", path.string(), std::strerror(err)),
               owner.empty() || st.st_uid == ::geteuid()
                   ? "check its permissions, or choose another state directory (--home)"
                   : fmt::format("it belongs to {}: run certcli as that user (sudo for root's state), or choose "
                                 "another state directory (--home)",
                                 owner),
               path.string());
}


// A directory under (or at) the state directory that someone else owns or may write is refused,
// on reads too: whoever can write there can plant a domain.toml whose deploy hook root runs.
void require_private(int fd, const fs::path& dir, bool tighten) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw unreadable_state(dir, errno);
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    throw Error(ErrorKind::state,
                fmt::format("the state directory {} belongs to {} (uid {}), not to this user ({}, uid {})",
                            dir.string(), user_name(st.st_uid), st.st_uid, user_name(me), me),
                fmt::format("it belongs to {0}: run certcli as {0}, or, if it is this user's state, run: chown -R {1} {2}",
                            user_name(st.st_uid), user_name(me), dir.string()),
                dir.string());
  if (!files::is_private_directory(st.st_uid, st.st_mode, me))
    throw Error(ErrorKind::state,
                fmt::format("the state directory {} is writable by its group or by others (mode {:04o}), who could "
                            "plant files and links in it",
                            dir.string(), st.st_mode & 07777),
                fmt::format("check nothing in it was planted, then run: chmod 700 {}", dir.string()), dir.string());
  // Tighten, never loosen: a directory left 0755 by hand must not expose keys.
  if (tighten && (st.st_mode & 077) != 0) ::fchmod(fd, 0700);
}

// The state directory itself, opened (its own path is the operator's, so a link naming it is
// followed) and checked. Missing: an empty UniqueFd, or created when `create`.
files::UniqueFd open_home(const fs::path& home, bool create) {
  files::UniqueFd fd(::open(home.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd && errno == ENOENT && create) {
    files::ensure_private_directory(home);  // its parents are the operator's, as they are
    fd = files::UniqueFd(::open(home.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return fd;
    if (err == ENOTDIR)
      throw Error(ErrorKind::state, fmt::format("the state directory {} is not a directory", home.string()),
                  "point the state directory (--home) at a directory; certcli creates it when it is missing",
                  home.string());
    throw unreadable_state(home, err);
  }
  require_private(fd.get(), home, create);
  return fd;
}

// Entry names of an open directory, without "." and "..", sorted.
std::vector<std::string> entry_names(int dir_fd, const fs::path& shown) {
  std::vector<std::string> names;
  int copy = ::dup(dir_fd);
  DIR* dir = copy >= 0 ? ::fdopendir(copy) : nullptr;
  if (!dir) {
    int err = errno;
    if (copy >= 0) ::close(copy);
    throw unreadable_state(shown, err);
  }
  ::rewinddir(dir);
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw unreadable_state(shown, err);
  std::sort(names.begin(), names.end());
  return names;
}

// "20260101T000000Z", optionally with "-N" (a second one in the same second).
bool is_stamp(const std::string& text) {
  auto digits = [&](size_t from, size_t count) {
    return text.size() >= from + count &&
           std::all_of(text.begin() + from, text.begin() + from + count, [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!(digits(0, 8) && text.size() >= 16 && text[8] == 'T' && digits(9, 6) && text[15] == 'Z')) return false;
  if (text.size() == 16) return true;
  return text[16] == '-' && text.size() > 17 && text.size() <= 22 && digits(17, text.size() - 17);
}

// Archive versions and removal stamps sort by time, then by their "-N" suffix as a number.
std::pair<std::string, int> version_order(const std::string& version) {
  size_t dash = version.rfind('-');
  if (dash == std::string::npos || dash + 1 >= version.size() ||
      !std::all_of(version.begin() + dash + 1, version.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      version.size() - dash > 7)
    return {version, 1};
  return {version.substr(0, dash), std::stoi(version.substr(dash + 1))};
}

class FileLock final : public Lock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class FileStore final : public Store {
 public:
  FileStore(fs::path home, Clock& clock, KeyProtection keys)
      : home_(std::move(home)), clock_(clock), keys_(std::move(keys)) {}
  ~FileStore() override { crypto::wipe(keys_.passphrase); }
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  std::unique_ptr<Lock> lock(std::chrono::seconds timeout) override {
    ensure_private_directory(home_);
    auto lock = acquire(home_ / ".lock", timeout, home_.string());
    check_activity_log();
    // Temp files outside domains/ belong to writers holding this lock: none is alive now.
    sweep_temporary_files(home_, /*into_domains=*/false);
    return lock;
  }

  bool is_locked() const override { return held_by_another(home_ / ".lock"); }

  std::unique_ptr<Lock> lock_domain(const std::string& name, std::chrono::seconds timeout) override {
    fs::path dir = domain_dir(name);
    ensure_private_directory(dir);
    auto lock = acquire(dir / ".lock", timeout, fmt::format("{} (domain {})", home_.string(), name));
    check_activity_log();
    sweep_temporary_files(dir, /*into_domains=*/true);
    return lock;
  }

  bool is_domain_locked(const std::string& name) const override {
    return held_by_another(domain_dir(name) / ".lock") || held_by_another(home_ / ".lock");
  }

  std::optional<DomainRecord> load_domain(const std::string& name) const override {
    check_home_readable();
    fs::path path = domain_dir(name) / "domain.toml";
    if (!state_file_exists(path)) return std::nullopt;
    return read_domain_record(path);
  }

  DomainRecord read_domain_record(const fs::path& path) const {
    return domain_from_toml(parse_toml(read_file(path), path.string()), path.string());
  }

  // Every domains/<name>/domain.toml, read in one walk: the state directory and domains/ are
  // opened and checked once, each domains/<name> and its domain.toml relative to them, with the
  // walk's checks (O_NOFOLLOW, private directories). Sorted by directory name (which orders like
  // the names) before anything is read, so no parsed record is moved to sort it. Parsing is
  // most of a run's cost at fleet size (toml++, ~0.15 M instructions a record): a large store
  // is parsed on up to kScanThreads threads, each record into its own slot. A record that cannot
  // be read is a failure beside the others, in name order.
  struct RecordScan {
    std::vector<DomainRecord> records;
    std::vector<std::pair<std::string, std::exception_ptr>> failures;  // directory name, what went wrong
  };

  static constexpr size_t kScanThreads = 4;
  static constexpr size_t kRecordsPerThread = 256;  // below this, a thread costs more than it saves

  RecordScan scan_domain_records() const {
    check_home_readable();
    const fs::path dir = home_ / "domains";
    files::UniqueFd domains = open_directory(dir, /*create=*/false);
    if (!domains) return {};
    const std::vector<std::string> names = entry_names(domains.get(), dir);
    enum class Slot : unsigned char { missing, read, failed };
    std::vector<DomainRecord> records(names.size());
    std::vector<Slot> slots(names.size(), Slot::missing);
    std::vector<std::exception_ptr> failures(names.size());
    auto read_one = [&](size_t i) {
      try {
        fs::path shown = dir;
        files::UniqueFd domain = enter(domains.get(), names[i], shown, /*create=*/false);
        if (!domain) return;  // removed since the listing
        fs::path path = shown / "domain.toml";
        files::UniqueFd file = files::open_file_at(domain.get(), "domain.toml", path, O_RDONLY);
        if (!file) return;  // a directory without a record: nothing was added there
        records[i] = domain_from_toml(parse_toml(files::read_all(file.get(), path), path.string()), path.string());
        slots[i] = Slot::read;
      } catch (...) {
        failures[i] = std::current_exception();
        slots[i] = Slot::failed;
      }
    };
    const size_t threads = std::clamp<size_t>(names.size() / kRecordsPerThread, 1,
                                              std::min<size_t>(kScanThreads, std::max(1u, std::thread::hardware_concurrency())));
    if (threads == 1) {
      for (size_t i = 0; i < names.size(); ++i) read_one(i);
    } else {
      std::atomic<size_t> next{0};
      constexpr size_t kBatch = 32;
      auto work = [&] {
        for (size_t from = next.fetch_add(kBatch); from < names.size(); from = next.fetch_add(kBatch))
          for (size_t i = from; i < std::min(from + kBatch, names.size()); ++i) read_one(i);
      };
      std::vector<std::thread> helpers;
      for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
      work();
      for (auto& helper : helpers) helper.join();
    }
    RecordScan scan;
    size_t kept = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      if (slots[i] == Slot::read) {
        if (kept != i) records[kept] = std::move(records[i]);
        ++kept;
      } else if (slots[i] == Slot::failed) {
        scan.failures.emplace_back(names[i], failures[i]);
      }
    }
    records.resize(kept);
    scan.records = std::move(records);
    return scan;
  }

  void save_domain(const DomainRecord& record) override {
    fs::path dir = domain_dir(record.name);
    ensure_private_directory(dir);
    fs::path path = dir / "domain.toml";
    // A record the user damaged or hand-edited into something unreadable is theirs to fix:
    // replacing it would lose whatever they meant, so every command that would save it stops.
    if (state_file_exists(path)) {
      try {
        (void)read_domain_record(path);
      } catch (const Error& e) {
        throw Error(ErrorKind::state, fmt::format("{}; certcli does not replace it", e.what()), e.hint(), e.subject());
      }
    }
    write_file_atomic(path, serialize(domain_to_toml(record)), kPrivateFile);
  }

  std::vector<DomainRecord> list_domains() const override {
    RecordScan scan = scan_domain_records();
    if (!scan.failures.empty()) std::rethrow_exception(scan.failures.front().second);
    return std::move(scan.records);
  }

  DomainListing list_domains_and_damage() const override {
    RecordScan scan = scan_domain_records();
    DomainListing listing;
    listing.records = std::move(scan.records);
    for (auto& [name, failure] : scan.failures) {
      try {
        std::rethrow_exception(failure);
      } catch (const Error& e) {
        listing.unreadable.push_back({name, (home_ / "domains" / name / "domain.toml").string(), e});
      }
    }
    return listing;
  }

  std::string remove_domain(const std::string& name, const std::string& stamp) override {
    fs::path from = domain_dir(name);
    ensure_private_directory(home_ / "removed");
    fs::path to = home_ / "removed" / (checked_domain_dir(name) + "." + stamp);
    // The walk refuses a domains/<name> that is a link, so the rename below moves certcli's own.
    if (!state_file_exists(from))
      throw Error(ErrorKind::not_found, fmt::format("{} does not exist", from.string()), "", from.string());
    for (int n = 2; state_file_exists(to); ++n) to = home_ / "removed" / fmt::format("{}.{}-{}", checked_domain_dir(name), stamp, n);
    if (::rename(from.c_str(), to.c_str()) != 0)
      throw Error(ErrorKind::state, fmt::format("cannot move {} to {}: {}", from.string(), to.string(), std::strerror(errno)),
                  "check that the state directory is writable by this user (see --home)", from.string());
    // Under live_key = "plain" the live key was in clear for the web server; in removed/ it is
    // nobody's live key any more, so it encrypts like every other key left behind.
    encrypt_keys_left_behind(to, /*version=*/"");
    return to.string();
  }

  std::optional<RemovedDomain> newest_removed(const std::string& name) const override {
    check_home_readable();
    std::vector<fs::path> copies = removed_copies(name);
    if (copies.empty()) return std::nullopt;
    const fs::path& dir = copies.back();
    RemovedDomain removed;
    removed.location = dir.string();
    removed.stamp = dir.filename().string().substr(checked_domain_dir(name).size() + 1);
    fs::path record = dir / "domain.toml";
    try {
      if (state_file_exists(record))
        removed.record = domain_from_toml(parse_toml(read_file(record), record.string()), record.string());
      if (state_file_exists(dir / "live" / "cert.pem")) removed.live_certificate = read_file(dir / "live" / "cert.pem");
    } catch (const Error&) {
      // A damaged copy is only a copy: it cannot be restored, and it never blocks adding anew.
      removed.record.reset();
      removed.live_certificate.reset();
    }
    return removed;
  }

  std::string restore_domain(const std::string& name) override {
    fs::path to = domain_dir(name);
    if (state_file_exists(to / "domain.toml"))
      throw Error(ErrorKind::invalid_input, fmt::format("{} is managed again: it has a record of its own", name),
                  "remove it first, or keep it; the removed copy stays where it is", (to / "domain.toml").string());
    std::vector<fs::path> copies = removed_copies(name);
    if (copies.empty())
      throw Error(ErrorKind::not_found, fmt::format("{} was never removed: there is nothing to restore", name),
                  "see the names that can be restored under removed/ in the state directory", name);
    const fs::path from = copies.back();
    if (!state_file_exists(from / "domain.toml"))
      throw Error(ErrorKind::state, fmt::format("{} holds no domain.toml, so it cannot be restored", from.string()),
                  "add the domain anew; the files there are left alone", from.string());
    ensure_private_directory(to);
    // Entry by entry into the existing directory (it holds the domain's lock file), the record
    // last: until it moves, the domain does not exist, and running restore again finishes the job.
    std::error_code ec;
    std::vector<fs::path> entries;
    for (const auto& file : list_entries(from))
      if (file != "domain.toml" && file != ".lock") entries.push_back(from / file);
    entries.push_back(from / "domain.toml");
    for (const auto& entry : entries) {
      fs::path target = to / entry.filename();
      if (::rename(entry.c_str(), target.c_str()) != 0)
        throw Error(ErrorKind::state,
                    fmt::format("cannot move {} to {}: {}", entry.string(), target.string(), std::strerror(errno)),
                    "check that the state directory is writable by this user (see --home)", entry.string());
    }
    fsync_directory(to);
    fs::remove_all(from, ec);  // what is left is the old lock file
    match_live_key_setting(to);
    return from.string();
  }

  std::vector<std::string> purge_domain(const std::string& name, const std::string& stamp) override {
    std::vector<std::string> deleted;
    std::vector<fs::path> doomed = removed_copies(name);
    for (const auto& copy : doomed) deleted.push_back(copy.string());
    fs::path dir = domain_dir(name);
    if (state_file_exists(dir)) {
      doomed.push_back(remove_domain(name, stamp));
      deleted.insert(deleted.begin(), dir.string());
    }
    for (const fs::path& path : doomed) {
      std::error_code ec;
      fs::remove_all(path, ec);
      if (ec)
        throw Error(ErrorKind::state, fmt::format("cannot delete {}: {}", path.string(), ec.message()),
                    "check that the state directory is writable by this user (see --home)", path.string());
    }
    return deleted;
  }

  std::vector<ArchivedCertificate> list_archive(const std::string& name) const override {
    check_home_readable();
    std::vector<ArchivedCertificate> versions;
    fs::path dir = domain_dir(name);
    if (!state_file_exists(dir / "archive")) return versions;
    std::error_code ec;
    const std::string live = fs::read_symlink(dir / "live", ec).filename().string();
    std::vector<fs::path> paths;
    for (const auto& entry : list_entries(dir / "archive")) paths.push_back(dir / "archive" / entry);
    std::sort(paths.begin(), paths.end(), [](const fs::path& a, const fs::path& b) {
      return version_order(a.filename().string()) < version_order(b.filename().string());
    });
    for (const auto& path : paths)
      if (state_file_exists(path / "cert.pem"))
        versions.push_back({path.filename().string(), read_file(path / "cert.pem"), path.filename().string() == live});
    return versions;
  }

  std::optional<AccountRecord> load_account(const std::string& ca_id) const override {
    check_home_readable();
    fs::path path = account_dir(ca_id) / "account.toml";
    if (!state_file_exists(path)) return std::nullopt;
    return account_from_toml(parse_toml(read_file(path), path.string()), path.string());
  }

  std::optional<std::string> load_account_key(const std::string& ca_id) const override {
    check_home_readable();
    fs::path path = account_dir(ca_id) / "account.key";
    if (!state_file_exists(path)) return std::nullopt;
    return read_key(path);
  }

  void save_account(const std::string& ca_id, const AccountRecord& record, const std::string& key_pem) override {
    fs::path dir = account_dir(ca_id);
    ensure_private_directory(dir);
    write_key(dir / "account.key", key_pem, /*encrypt=*/true);
    write_file_atomic(dir / "account.toml", serialize(account_to_toml(record)), kPrivateFile);
  }

  std::optional<CaTimingRecord> load_ca_timing(const std::string& ca_id) const override {
    check_home_readable();
    fs::path path = account_dir(ca_id) / "timing.toml";
    if (!state_file_exists(path)) return std::nullopt;
    return ca_timing_from_toml(parse_toml(read_file(path), path.string()), path.string());
  }

  void save_ca_timing(const std::string& ca_id, const CaTimingRecord& timing) override {
    fs::path dir = account_dir(ca_id);
    ensure_private_directory(dir);
    write_file_atomic(dir / "timing.toml", serialize(ca_timing_to_toml(timing)), kPrivateFile);
  }

  std::string archive_account_key(const std::string& ca_id, const std::string& stamp, const std::string& key_pem) override {
    if (!is_stamp(stamp)) throw Error(ErrorKind::internal, fmt::format("'{}' is not a stamp", stamp));
    fs::path old_keys = account_dir(ca_id) / "old-keys";
    ensure_private_directory(old_keys);
    fs::path dir = old_keys / stamp;
    for (int n = 2; state_file_exists(dir); ++n) dir = old_keys / fmt::format("{}-{}", stamp, n);
    ensure_private_directory(dir);
    write_key(dir / "account.key", key_pem, /*encrypt=*/true);
    return (dir / "account.key").string();
  }

  void save_pending_key(const std::string& name, const std::string& key_pem) override {
    fs::path dir = domain_dir(name) / "pending";
    ensure_private_directory(dir);
    write_key(dir / "key.pem", key_pem, /*encrypt=*/true);
  }

  std::optional<std::string> load_pending_key(const std::string& name) const override {
    check_home_readable();
    fs::path path = domain_dir(name) / "pending" / "key.pem";
    if (!state_file_exists(path)) return std::nullopt;
    return read_key(path);
  }

  void remove_pending_key(const std::string& name) override {
    if (!state_file_exists(domain_dir(name) / "pending")) return;  // the walk refuses a link on the way
    std::error_code ec;
    fs::remove_all(domain_dir(name) / "pending", ec);
  }

  std::string install_certificate(const std::string& name, const std::string& preferred_version,
                                  const CertificateFiles& files) override {
    fs::path dir = domain_dir(name);
    files::UniqueFd dir_fd = open_directory(dir, /*create=*/true);
    files::UniqueFd archive_fd = open_directory(dir / "archive", /*create=*/true);
    std::string version = preferred_version;
    // mkdir is the claim: it fails when the name is taken, so two installs never share one.
    for (int n = 2; ::mkdirat(archive_fd.get(), version.c_str(), 0700) != 0; ++n) {
      if (errno != EEXIST || n > 1000)
        throw Error(ErrorKind::state, fmt::format("cannot create {}: {}", (dir / "archive" / version).string(),
                                                  std::strerror(errno)));
      version = fmt::format("{}-{}", preferred_version, n);
    }
    fs::path archive = dir / "archive" / version;
    write_file_atomic(archive / "cert.pem", files.certificate, kPrivateFile);
    write_file_atomic(archive / "chain.pem", files.chain, kPrivateFile);
    write_file_atomic(archive / "fullchain.pem", files.fullchain, kPrivateFile);
    // No key: the certificate was issued for an operator's own CSR, whose key certcli never had.
    if (!files.private_key.empty()) write_key(archive / "key.pem", files.private_key, /*encrypt=*/!plain_live_key_in(dir));

    // A relative link keeps the state directory movable. Made and renamed inside the domain's
    // directory descriptor, so a planted link on the path cannot move it elsewhere.
    const std::string target = "archive/" + version;
    ::unlinkat(dir_fd.get(), ".live.tmp", 0);
    if (::symlinkat(target.c_str(), dir_fd.get(), ".live.tmp") != 0 ||
        ::renameat(dir_fd.get(), ".live.tmp", dir_fd.get(), "live") != 0)
      throw Error(ErrorKind::state, fmt::format("cannot switch {} to the new certificate: {}",
                                                (dir / "live").string(), std::strerror(errno)));
    ::fsync(dir_fd.get());
    encrypt_keys_left_behind(dir, version);
    return version;
  }

  std::optional<CertificateFiles> load_archived_certificate(const std::string& name,
                                                            const std::string& version) const override {
    check_home_readable();
    if (!is_stamp(version)) return std::nullopt;
    fs::path dir = domain_dir(name) / "archive" / version;
    if (!state_file_exists(dir / "cert.pem")) return std::nullopt;
    return CertificateFiles{read_file(dir / "cert.pem"), read_file(dir / "chain.pem"), read_file(dir / "fullchain.pem"),
                            read_key(dir / "key.pem")};
  }

  std::optional<CertificateFiles> load_live_public(const std::string& name) const override {
    check_home_readable();
    fs::path live = domain_dir(name) / "live";
    if (!state_file_exists(live / "cert.pem")) return std::nullopt;
    return CertificateFiles{read_file(live / "cert.pem"), read_file(live / "chain.pem"),
                            read_file(live / "fullchain.pem"), std::string()};
  }

  std::optional<std::string> load_live_leaf(const std::string& name) const override {
    check_home_readable();
    fs::path cert = domain_dir(name) / "live" / "cert.pem";
    if (!state_file_exists(cert)) return std::nullopt;
    return read_file(cert);
  }

  std::optional<CertificateFiles> load_live_certificate(const std::string& name) const override {
    check_home_readable();
    fs::path live = domain_dir(name) / "live";
    if (!state_file_exists(live / "cert.pem")) return std::nullopt;
    return CertificateFiles{read_file(live / "cert.pem"), read_file(live / "chain.pem"),
                            read_file(live / "fullchain.pem"),
                            state_file_exists(live / "key.pem") ? live_key_text(live / "key.pem") : std::string()};
  }

  // Past this size activity.jsonl is renamed to activity.jsonl.<UTC stamp> (kept, never
  // deleted) and a new one begun, so that no single file grows without bound.
  static constexpr off_t kActivityRotateBytes = 8 * 1024 * 1024;

  // Defence in depth behind "never pass secrets": a string carrying PEM key material is
  // replaced, whatever the caller passed.
  static void redact_key_material(nlohmann::json& value) {
    if (value.is_string()) {
      if (value.get_ref<const std::string&>().find("PRIVATE KEY") != std::string::npos) value = "[redacted key material]";
    } else if (value.is_structured()) {
      for (auto& item : value) redact_key_material(item);
    }
  }

  // The ledger's name before it was kept in lines (one JSON document, rewritten for every event).
  static constexpr const char* kFirstLedger = "rate-limits.json";

  void append_activity(const nlohmann::json& event) override {
    // Opened in the home's descriptor with O_NOFOLLOW: a linked activity.jsonl is refused, so
    // root never appends to a file someone pointed it at.
    files::UniqueFd home_fd = open_home_for_writing();
    fs::path path = home_ / "activity.jsonl";
    nlohmann::json stamped = event;
    stamped["uid"] = static_cast<long long>(::geteuid());
    stamped["command"] = activity_command();
    redact_key_material(stamped);
    std::string line = stamped.dump() + "\n";
    auto failed = [&](int err) {
      return Error(ErrorKind::state, fmt::format("cannot append to {}: {}", path.string(), std::strerror(err)),
                   "check that the state directory is writable by this user (see --home)", path.string());
    };
    // Appenders serialize on flock of the log itself, so that exactly one of them rotates it and
    // none writes to a file that was just renamed away (then the new one is opened).
    for (int attempt = 0;; ++attempt) {
      int fd = files::open_file_at(home_fd.get(), "activity.jsonl", path, O_WRONLY | O_APPEND | O_CREAT, 0600).release();
      struct stat open_st {}, path_st {};
      bool ok = ::flock(fd, LOCK_EX) == 0 && ::fstat(fd, &open_st) == 0;
      if (ok && attempt < 3 &&
          (::fstatat(home_fd.get(), "activity.jsonl", &path_st, AT_SYMLINK_NOFOLLOW) != 0 ||
           path_st.st_ino != open_st.st_ino)) {
        ::close(fd);  // rotated by another certcli meanwhile
        continue;
      }
      if (ok && attempt < 3 && open_st.st_size >= kActivityRotateBytes) {
        std::string stamp = format_compact_utc(clock_.now());
        fs::path rotated = home_ / ("activity.jsonl." + stamp);
        for (int n = 2; state_file_exists(rotated); ++n) rotated = home_ / fmt::format("activity.jsonl.{}-{}", stamp, n);
        int err = ::renameat(home_fd.get(), "activity.jsonl", home_fd.get(), rotated.filename().c_str()) == 0 ? 0 : errno;
        ::close(fd);
        if (err != 0)
          throw Error(ErrorKind::state,
                      fmt::format("cannot rotate {} to {}: {}", path.string(), rotated.string(), std::strerror(err)),
                      "check that the state directory is writable by this user (see --home)", path.string());
        continue;
      }
      ok = ok && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
      int err = errno;
      ::close(fd);
      if (!ok) throw failed(err);
      return;
    }
  }

  std::string live_location(const std::string& name) const override { return (domain_dir(name) / "live").string(); }

  std::optional<std::string> load_ledger() const override {
    for (const char* name : {"rate-limits.jsonl", kFirstLedger}) {
      fs::path path = home_ / name;
      if (state_file_exists(path)) return read_file(path);
    }
    return std::nullopt;
  }
  void save_ledger(const std::string& text) override {
    ensure_private_directory(home_);
    write_file_atomic(home_ / "rate-limits.jsonl", text, kPrivateFile);
    // Its entries are in the new file now (the rewrite read them).
    std::error_code ignored;
    fs::remove(home_ / kFirstLedger, ignored);
  }
  void append_ledger(const std::string& line) override {
    files::UniqueFd home_fd = open_home_for_writing();
    // An earlier certcli's rate-limits.json is carried over by the rewrite that comes first
    // (limits::record_event), never by an append.
    const fs::path path = home_ / "rate-limits.jsonl";
    // O_NOFOLLOW through the home's descriptor, as for the activity log.
    files::UniqueFd fd = files::open_file_at(home_fd.get(), "rate-limits.jsonl", path, O_RDWR | O_APPEND | O_CREAT, 0600);
    // A line a crash cut short (no newline at the end) is cut off first: this entry then stands
    // on a line of its own, and every line before it is whole.
    struct stat st {};
    bool ok = ::fstat(fd.get(), &st) == 0;
    if (ok && st.st_size > 0) {
      char tail[4096];
      const off_t from = std::max<off_t>(0, st.st_size - static_cast<off_t>(sizeof tail));
      const ssize_t n = ::pread(fd.get(), tail, static_cast<size_t>(st.st_size - from), from);
      ok = n == st.st_size - from;
      if (ok && tail[n - 1] != '\n') {
        const std::string_view read(tail, static_cast<size_t>(n));
        const size_t newline = read.rfind('\n');
        // A torn line longer than the tail read is no entry certcli wrote: keep it for the reader to name.
        if (newline != std::string_view::npos || from == 0)
          ok = ::ftruncate(fd.get(), newline == std::string_view::npos ? 0 : from + static_cast<off_t>(newline) + 1) == 0;
      }
    }
    ok = ok && ::write(fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd.get()) == 0;
    if (!ok)
      throw Error(ErrorKind::state, fmt::format("cannot append to {}: {}", path.string(), std::strerror(errno)),
                  "check that the state directory is writable by this user (see --home)", path.string());
  }
  std::string ledger_location() const override { return (home_ / "rate-limits.jsonl").string(); }

  // --- Certificate pinning: pins.toml, trusted-roots.pem, domains/<name>/backup-key.pem. ---
  std::optional<std::string> load_pin_table() const override {
    fs::path path = home_ / "pins.toml";
    if (!state_file_exists(path)) return std::nullopt;
    return read_file(path);
  }
  void save_pin_table(const std::string& text) override {
    ensure_private_directory(home_);
    write_file_atomic(home_ / "pins.toml", text, kPrivateFile);
  }
  std::string pin_table_location() const override { return (home_ / "pins.toml").string(); }
  std::optional<std::string> load_trusted_roots() const override {
    fs::path path = home_ / "trusted-roots.pem";
    if (!state_file_exists(path)) return std::nullopt;
    return read_file(path);
  }
  void save_trusted_roots(const std::string& pem) override {
    ensure_private_directory(home_);
    write_file_atomic(home_ / "trusted-roots.pem", pem, kPrivateFile);
  }
  std::string trusted_roots_location() const override { return (home_ / "trusted-roots.pem").string(); }
  std::optional<std::string> load_backup_key(const std::string& name) const override {
    check_home_readable();
    fs::path path = domain_dir(name) / "backup-key.pem";
    if (!state_file_exists(path)) return std::nullopt;
    return read_key(path);
  }
  void save_backup_key(const std::string& name, const std::string& key_pem) override {
    ensure_private_directory(domain_dir(name));
    write_key(domain_dir(name) / "backup-key.pem", key_pem, /*encrypt=*/true);
  }
  void remove_backup_key(const std::string& name) override {
    std::error_code ec;
    fs::remove(domain_dir(name) / "backup-key.pem", ec);
    fsync_directory(domain_dir(name));
  }

 private:
  // No state directory yet is fine (nothing was added); one that is a file or cannot be read is
  // an error, checked first so that the message names the directory itself.
  void check_home_readable() const { (void)open_home(home_, /*create=*/false); }

  // Every command that changes state ends by appending to activity.jsonl: a link or FIFO there
  // is refused when the lock is taken, before anything is written, not after the change.
  void check_activity_log() const {
    if (state_file_exists(home_ / "activity.jsonl")) (void)open_state_file(home_ / "activity.jsonl").first;
  }

  // --- The walk. Every path below home_ is opened one component at a time, relative to its
  // parent's descriptor, with O_NOFOLLOW: a link planted anywhere below the state directory is
  // refused, never followed. The one link certcli makes, domains/<name>/live, is read with
  // readlinkat and entered only when it says archive/<version>, so it cannot lead outside. ---

  struct Located {
    files::UniqueFd dir;  // the parent directory of `leaf`; empty when a parent is missing
    std::string leaf;
    fs::path shown;  // the path as walked (through live: the archive/<version> it names)
  };

  // The state directory, ready to write: created or adopted (see prepare_home) once per store.
  files::UniqueFd open_home_for_writing() const {
    if (!adopted_) {
      prepare_home(home_);
      adopted_ = true;
    }
    return open_home(home_, /*create=*/true);
  }

  files::UniqueFd enter(int parent, const std::string& name, fs::path& shown, bool create) const {
    // Only domains/<name>/live and removed/<name>.<UTC>/live are certcli's links.
    const std::string grandparent = shown.parent_path().filename().string();
    if (name == "live" && (grandparent == "domains" || grandparent == "removed")) {
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(parent, "live", target, sizeof target - 1);
      if (n >= 0) {
        std::string text(target, static_cast<size_t>(n));
        if (!files::is_archive_link_target(text))
          throw Error(ErrorKind::state,
                      fmt::format("{} points to '{}', not into its own archive/; certcli did not make that link",
                                  (shown / "live").string(), text),
                      "remove the link; `certcli issue` makes it again", (shown / "live").string());
        files::UniqueFd archive = enter(parent, "archive", shown, /*create=*/false);
        if (!archive) return archive;
        return enter(archive.get(), text.substr(std::string_view("archive/").size()), shown, /*create=*/false);
      }
    }
    shown /= name;
    files::UniqueFd fd =
        files::open_directory_at(parent, name, shown, create ? std::optional<mode_t>(0700) : std::nullopt);
    if (fd) require_private(fd.get(), shown, create);
    return fd;
  }

  Located locate(const fs::path& path, bool create) const {
    fs::path relative = path.lexically_relative(home_);
    if (relative.empty() || relative == "." || *relative.begin() == "..")
      throw Error(ErrorKind::internal, fmt::format("{} is not inside the state directory {}", path.string(), home_.string()));
    std::vector<std::string> parts;
    for (const auto& part : relative) parts.push_back(part.string());
    files::UniqueFd dir = create ? open_home_for_writing() : open_home(home_, /*create=*/false);
    fs::path shown = home_;
    for (size_t i = 0; dir && i + 1 < parts.size(); ++i) dir = enter(dir.get(), parts[i], shown, create);
    return {std::move(dir), parts.back(), shown / parts.back()};
  }

  // A directory below (or at) the state directory; empty when missing and not `create`.
  files::UniqueFd open_directory(const fs::path& dir, bool create) const {
    if (dir == home_) return create ? open_home_for_writing() : open_home(home_, /*create=*/false);
    Located at = locate(dir, create);
    if (!at.dir) return {};
    fs::path shown = at.shown.parent_path();
    return enter(at.dir.get(), at.leaf, shown, create);
  }

  // Whether a state file or directory exists; anything but "yes" or "no such file" (a link, a
  // permission, a file where a directory should be) is an error, never a quiet "no".
  bool state_file_exists(const fs::path& path) const {
    if (path == home_) return static_cast<bool>(open_home(home_, /*create=*/false));
    Located at = locate(path, /*create=*/false);
    if (!at.dir) return false;
    struct stat st {};
    if (::fstatat(at.dir.get(), at.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      throw unreadable_state(at.shown.parent_path(), errno);
    }
    if (S_ISLNK(st.st_mode)) throw files::link_refused(at.shown);
    return true;
  }

  // The regular file at `path` for reading, and the path it was found at.
  std::pair<files::UniqueFd, fs::path> open_state_file(const fs::path& path) const {
    Located at = locate(path, /*create=*/false);
    files::UniqueFd fd = at.dir ? files::open_file_at(at.dir.get(), at.leaf, at.shown, O_RDONLY) : files::UniqueFd();
    if (!fd)
      throw Error(ErrorKind::state, fmt::format("cannot read {}: {}", path.string(), std::strerror(ENOENT)),
                  "check that the state directory is readable by this user (see --home)", path.string());
    return {std::move(fd), at.shown};
  }

  std::string read_file(const fs::path& path) const {
    auto [fd, shown] = open_state_file(path);
    return files::read_all(fd.get(), shown);
  }

  // A private key opened for reading: one loosened by hand (group or others may read it) is
  // refused, not silently used or tightened, because someone may already have copied it.
  std::string read_key_file(const fs::path& path) const {
    auto [fd, shown] = open_state_file(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw unreadable_state(shown, errno);
    if ((st.st_mode & 077) != 0)
      throw Error(ErrorKind::state,
                  fmt::format("the private key {} is readable by others than its owner (mode {:04o})", shown.string(),
                              st.st_mode & 07777),
                  fmt::format("certcli keeps keys 0600: run chmod 600 {}, and replace the key (certcli renew --force) if "
                              "someone may have copied it",
                              shown.string()),
                  shown.string());
    return files::read_all(fd.get(), shown);
  }

  void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode) const {
    Located at = locate(path, /*create=*/true);
    files::write_file_atomic_at(at.dir.get(), at.leaf, at.shown, content, mode);
  }

  void ensure_private_directory(const fs::path& dir) const { (void)open_directory(dir, /*create=*/true); }

  void fsync_directory(const fs::path& dir) const {
    if (files::UniqueFd fd = open_directory(dir, /*create=*/false)) ::fsync(fd.get());
  }

  // Entry names of a state directory (sorted); none when it is missing.
  std::vector<std::string> list_entries(const fs::path& dir) const {
    files::UniqueFd fd = open_directory(dir, /*create=*/false);
    return fd ? entry_names(fd.get(), dir) : std::vector<std::string>{};
  }

  // flock on `path`, waiting up to `timeout` on the store's clock; a stop request ends the wait.
  std::unique_ptr<Lock> acquire(const fs::path& path, std::chrono::seconds timeout, const std::string& what) {
    // O_NOFOLLOW through the walk: the pid written below truncates the lock file, and a linked
    // .lock would make root truncate whatever it names.
    Located at = locate(path, /*create=*/true);
    int fd = files::open_file_at(at.dir.get(), at.leaf, at.shown, O_RDWR | O_CREAT, 0600).release();
    const TimePoint deadline = clock_.now() + timeout;
    // Most waits are short (another thread of this run saving the rate-limit ledger, a few
    // milliseconds): look again soon, then less and less often.
    std::chrono::milliseconds pause{2};
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        int err = errno;
        ::close(fd);
        throw Error(ErrorKind::state, fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
      }
      if (clock_.now() >= deadline) {
        char holder[32] = {};
        ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
        ::close(fd);
        std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "unknown";
        pid.erase(pid.find_last_not_of(" \n") + 1);
        throw Error(ErrorKind::state, fmt::format("another certcli (pid {}) is changing the state in {}", pid, what),
                    "wait for it to finish, or stop it; the lock is released when that process exits", home_.string());
      }
      try {
        clock_.sleep_for(pause);  // throws Error{interrupted} on Ctrl-C
        pause = std::min(pause * 2, std::chrono::milliseconds{200});
      } catch (...) {
        ::close(fd);
        throw;
      }
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // The pid is only a courtesy for the message above; the flock is what protects.
    }
    return std::make_unique<FileLock>(fd);
  }

  bool held_by_another(const fs::path& path) const {
    Located at = locate(path, /*create=*/false);
    if (!at.dir) return false;
    int fd = files::open_file_at(at.dir.get(), at.leaf, at.shown, O_RDONLY).release();
    if (fd < 0) return false;
    bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);  // also releases the shared lock when we got it
    return locked;
  }

  // A writer killed between mkstemp and rename leaves ".NAME.tmp-XXXXXX" behind. Writers in a
  // domain's directory hold that domain's lock, all others the state lock; so the state lock
  // sweeps everything but domains/, and a domain's lock sweeps that domain.
  void sweep_temporary_files(const fs::path& root, bool into_domains) {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!into_domains && it.depth() == 0 && it->path().filename() == "domains") {
        it.disable_recursion_pending();
        continue;
      }
      std::string file = it->path().filename().string();
      bool temporary = (file.starts_with(".") && file.size() > 11 && file.compare(file.size() - 11, 5, ".tmp-") == 0) ||
                       file == ".live.tmp";
      if (temporary && !it->is_directory(ec)) stale.push_back(it->path());
    }
    for (const auto& path : stale) fs::remove(path, ec);
  }

  // removed/<name>.<stamp> for this name, oldest first. The stamp is checked, so that the
  // copies of "example.com" never include those of "example.com.example.net".
  std::vector<fs::path> removed_copies(const std::string& name) const {
    std::vector<fs::path> copies;
    fs::path dir = home_ / "removed";
    if (!state_file_exists(dir)) return copies;
    const std::string prefix = checked_domain_dir(name) + ".";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string file = entry.path().filename().string();
      if (file.starts_with(prefix) && is_stamp(file.substr(prefix.size()))) copies.push_back(entry.path());
    }
    if (ec) throw unreadable_state(dir, ec.value());
    std::sort(copies.begin(), copies.end(), [&](const fs::path& a, const fs::path& b) {
      return version_order(a.filename().string().substr(prefix.size())) <
             version_order(b.filename().string().substr(prefix.size()));
    });
    return copies;
  }

  // --- Private keys: the one pair of functions every key is written and read through. ---

  static Error key_error(const fs::path& path, const std::string& what) {
    return Error(ErrorKind::state, fmt::format("cannot open the private key {}: {}", path.string(), what),
                 "set CERTCLI_PASSPHRASE or pass --passphrase-file with the passphrase the keys were encrypted "
                 "with (config.toml: keys.passphrase)",
                 path.string());
  }

  // The key in clear; a file in clear is returned as it is (written before a passphrase was set,
  // or the live key under live_key = "plain").
  std::string read_key(const fs::path& path) const {
    std::string text = read_key_file(path);
    if (!crypto::is_encrypted_key_pem(text)) return text;
    if (keys_.passphrase.empty()) throw key_error(path, "it is encrypted and no passphrase was given");
    try {
      return crypto::reencode_key_pem(text, keys_.passphrase, {});
    } catch (const Error& e) {
      throw key_error(path, e.what());
    }
  }

  // `status` reads the live certificate without a passphrase: then the key comes as stored.
  std::string live_key_text(const fs::path& path) const {
    return keys_.passphrase.empty() ? read_key_file(path) : read_key(path);
  }

  void write_key(const fs::path& path, const std::string& pem, bool encrypt) {
    if (!encrypt || keys_.passphrase.empty()) {
      write_file_atomic(path, pem, kPrivateFile);
      return;
    }
    write_file_atomic(path, crypto::reencode_key_pem(pem, {}, keys_.passphrase), kPrivateFile);
  }

  // A key encrypts the moment it leaves live/: after `live` moved to `version`, any archive key
  // of the domain still in clear (the previous live one, or one from before the passphrase).
  void encrypt_keys_left_behind(const fs::path& dir, const std::string& version) {
    if (keys_.passphrase.empty()) return;
    for (const auto& entry : list_entries(dir / "archive")) {
      fs::path key = dir / "archive" / entry / "key.pem";
      if (entry == version || !state_file_exists(key)) continue;
      std::string text = read_key_file(key);
      if (!crypto::is_encrypted_key_pem(text)) write_key(key, text, /*encrypt=*/true);
    }
  }

  // Whether the domain in `dir` keeps its live key in clear: its record's live_key, else the
  // store's (config.toml's keys.live_key). A record that does not load falls back to the store's.
  bool plain_live_key_in(const fs::path& dir) const {
    try {
      const fs::path record = dir / "domain.toml";
      if (state_file_exists(record)) {
        std::string setting = domain_from_toml(parse_toml(read_file(record), record.string()), record.string()).live_key;
        if (!setting.empty()) return setting == "plain";
      }
    } catch (const Error&) {
      // A damaged record is reported by the commands that read it; the key follows the default.
    }
    return keys_.plain_live_key;
  }

  // The key live/ points at, in clear when the domain keeps its live key plain and encrypted
  // otherwise (a restored domain's was encrypted while removed; `domain set --live-key` changes
  // the setting). Nothing without a passphrase.
  void match_live_key_setting(const fs::path& dir) {
    if (keys_.passphrase.empty()) return;
    if (!state_file_exists(dir)) return;  // refuses a linked domains/<name> before readlink
    std::error_code ec;
    fs::path target = fs::read_symlink(dir / "live", ec);
    if (ec || !files::is_archive_link_target(target.string())) return;
    fs::path key = dir / target / "key.pem";
    if (!state_file_exists(key)) return;
    const bool encrypted = crypto::is_encrypted_key_pem(read_key_file(key));
    const bool plain = plain_live_key_in(dir);
    if (encrypted == !plain) return;
    write_key(key, read_key(key), /*encrypt=*/!plain);
  }

  void apply_live_key_setting(const std::string& name) override { match_live_key_setting(domain_dir(name)); }

  // Every private key file under the state directory: accounts/*/account.key, and key.pem under
  // domains/ (pending/, archive/<v>/) and removed/. Symlinks (live) are not followed.
  std::vector<fs::path> key_files() const {
    std::vector<fs::path> found;
    for (const char* top : {"accounts", "domains", "removed"}) {
      std::error_code ec;
      if (!state_file_exists(home_ / top)) continue;
      for (auto it = fs::recursive_directory_iterator(home_ / top, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        std::string file = it->path().filename().string();
        if (file != "account.key" && file != "key.pem" && file != "backup-key.pem") continue;
        // A linked key would be read, re-encrypted or rewritten through the link: refused, not skipped.
        if (it->is_symlink(ec)) throw files::link_refused(it->path());
        if (it->is_regular_file(ec)) found.push_back(it->path());
      }
      if (ec) throw unreadable_state(home_ / top, ec.value());
    }
    std::sort(found.begin(), found.end());
    return found;
  }

  // domains/<name>/archive/<v>/key.pem that domains/<name>/live points at.
  bool is_current_live_key(const fs::path& key) const {
    fs::path version_dir = key.parent_path();
    fs::path domain = version_dir.parent_path().parent_path();
    if (version_dir.parent_path().filename() != "archive" || domain.parent_path() != home_ / "domains") return false;
    std::error_code ec;
    fs::path target = fs::read_symlink(domain / "live", ec);
    return !ec && target == fs::path("archive") / version_dir.filename();
  }

  void check_key_passphrase() const override {
    // One decryption proves the passphrase (scrypt makes each one cost); every encrypted file
    // is still checked for a passphrase being there at all.
    bool opened_one = false;
    for (const auto& path : key_files()) {
      std::string text = read_key_file(path);
      if (!crypto::is_encrypted_key_pem(text)) continue;
      if (keys_.passphrase.empty()) throw key_error(path, "it is encrypted and no passphrase was given");
      if (opened_one) continue;
      read_key(path);
      opened_one = true;
    }
  }

  std::vector<std::string> convert_keys(bool encrypt) override {
    if (encrypt && keys_.passphrase.empty())
      throw Error(ErrorKind::usage, "no passphrase to encrypt the keys with",
                  "set CERTCLI_PASSPHRASE or pass --passphrase-file (config.toml: keys.passphrase)");
    struct Planned {
      fs::path path;
      std::string text;  // the new content
    };
    std::vector<Planned> plan;
    for (const auto& path : key_files()) {  // open every key before writing any
      std::string current = read_key_file(path);
      std::string clear = read_key(path);
      bool want_encrypted =
          encrypt && !(is_current_live_key(path) && plain_live_key_in(path.parent_path().parent_path().parent_path()));
      if (crypto::is_encrypted_key_pem(current) == want_encrypted) continue;
      plan.push_back({path, want_encrypted ? crypto::reencode_key_pem(clear, {}, keys_.passphrase) : clear});
    }
    std::vector<std::string> rewritten;
    for (const auto& item : plan) {
      write_file_atomic(item.path, item.text, kPrivateFile);
      rewritten.push_back(fs::relative(item.path, home_).string());
    }
    return rewritten;
  }

  fs::path domain_dir(const std::string& name) const { return home_ / "domains" / checked_domain_dir(name); }
  fs::path account_dir(const std::string& ca_id) const {
    // "<ca-id>/<name>": a named account beside the CA's default one (never "old-keys").
    if (auto slash = ca_id.find('/'); slash != std::string::npos) {
      std::string name = ca_id.substr(slash + 1);
      check_ca_id(ca_id.substr(0, slash));
      check_ca_id(name);
      if (name == "old-keys" || name.find('.') != std::string::npos)
        throw Error(ErrorKind::internal, fmt::format("account name '{}' is not a safe directory name", name));
      return home_ / "accounts" / ca_id.substr(0, slash) / name;
    }
    check_ca_id(ca_id);
    return home_ / "accounts" / ca_id;
  }

  fs::path home_;
  mutable bool adopted_ = false;
  Clock& clock_;
  KeyProtection keys_;
};

}  // namespace

bool looks_like_state_directory(const std::vector<std::string>& entries) {
  if (entries.empty()) return true;
  // domains/ or accounts/ is certcli's layout whatever else a newer version put beside it.
  for (const auto& entry : entries)
    if (entry == "domains" || entry == "accounts") return true;
  static const char* const kTopLevel[] = {".lock",          "config.toml", "activity.jsonl",    "rate-limits.json",
                                          "pins.toml",      "removed",     "trusted-roots.pem"};
  return std::all_of(entries.begin(), entries.end(), [](const std::string& entry) {
    bool temporary = entry.starts_with(".") && entry.size() > 11 && entry.compare(entry.size() - 11, 5, ".tmp-") == 0;
    bool rotated_log = entry.starts_with("activity.jsonl.");
    return temporary || rotated_log ||
           std::any_of(std::begin(kTopLevel), std::end(kTopLevel), [&](const char* known) { return entry == known; });
  });
}

void prepare_home(const fs::path& home) {
  files::UniqueFd fd(::open(home.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    (void)open_home(home, /*create=*/true);  // made by certcli now: its own
    return;
  }
  if (!fd) (void)open_home(home, /*create=*/false);  // throws the error that names the problem
  // Checked before anything is changed: a stray --home is neither chmodded nor swept.
  require_private(fd.get(), home, /*tighten=*/false);
  std::vector<std::string> entries = entry_names(fd.get(), home);
  if (looks_like_state_directory(entries)) return;
  std::vector<std::string> shown(entries.begin(), entries.begin() + std::min<std::ptrdiff_t>(3, std::ssize(entries)));
  throw Error(ErrorKind::state,
              fmt::format("{} is not empty and is not a certcli state directory (it holds {}{})", home.string(),
                          fmt::join(shown, ", "), entries.size() > shown.size() ? ", ..." : ""),
              "choose a new or empty directory for the state (--home, CERTCLI_HOME); nothing in this one was changed",
              home.string());
}

fs::path default_home() {
  if (const char* env = std::getenv("CERTCLI_HOME"); env && *env) return fs::absolute(env);
  if (::geteuid() == 0) return "/var/lib/certcli";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return fs::path(xdg) / "certcli";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".local" / "state" / "certcli";
  throw Error(ErrorKind::usage, "cannot tell where the state directory is: neither CERTCLI_HOME nor HOME is set",
              "pass --home DIR");
}

std::unique_ptr<Store> open_file_store(const fs::path& home, Clock* clock, KeyProtection keys) {
  static SystemClock system_clock;
  // Absolute, so that messages and a later run from another directory name the same place.
  return std::make_unique<FileStore>(fs::absolute(home).lexically_normal(), clock ? *clock : system_clock,
                                     std::move(keys));
}

}  // namespace certcli::store
