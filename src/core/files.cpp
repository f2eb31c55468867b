// Durable file primitives (certcli/files.hpp), used by the state directory, webroots and config.toml. Every write is atomic and durable because a
// crash or Ctrl-C at any point must leave a state the next run can resume from.
#include <certcli/error.hpp>
#include <certcli/files.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace certcli::files {
namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error(ErrorKind::state, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
               "check that the state directory is writable by this user (see --home)", path.string());
}

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// After a failed open: what is at `name`, as the error the caller should see.
Error describe_failure(int dir, const std::string& name, const fs::path& shown, int err, bool want_directory) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return link_refused(shown);
    if (want_directory && !S_ISDIR(st.st_mode))
      return Error(ErrorKind::state, fmt::format("{} exists but is not a directory", shown.string()),
                   "move it out of the way; certcli keeps a directory there", shown.string());
    if (!want_directory && !S_ISREG(st.st_mode))
      return Error(ErrorKind::state,
                   fmt::format("{} is {}, not a regular file", shown.string(), file_type_name(st.st_mode)),
                   "move it out of the way; certcli keeps only regular files there", shown.string());
  }
  return io_error("open", shown, err);
}

std::string temp_name_for(const std::string& name) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string suffix(6, 'x');
  for (char& c : suffix) c = kAlphabet[random() % (sizeof kAlphabet - 1)];
  // The shape ".NAME.tmp-XXXXXX" is what the store's sweep of a killed writer's leftovers knows.
  return fmt::format(".{}.tmp-{}", name, suffix);
}

}  // namespace

// Links are refused in the trees certcli writes into as root: whoever could plant one there
// could otherwise make certcli create, truncate or chmod any file on the system.
Error link_refused(const fs::path& path) {
  return Error(ErrorKind::state,
               fmt::format("{} is a symbolic link; certcli does not follow links it did not make", path.string()),
               fmt::format("nothing was read or written through it: remove the link, and check who else can write "
                           "to {}",
                           path.parent_path().string()),
               path.string());
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void sync_directory(int dir, const fs::path& shown) {
  if (::fsync(dir) != 0) throw io_error("sync directory", shown, errno);
}

UniqueFd open_directory_at(int parent, const std::string& name, const fs::path& shown,
                           std::optional<mode_t> create_mode) {
  bool created = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd) {
      // The umask must not narrow it (a webroot's directories are read by the web server).
      if (created && ::fchmod(fd.get(), *create_mode) != 0) throw io_error("set the mode of", shown, errno);
      if (created) sync_directory(parent, shown.parent_path());
      return fd;
    }
    int err = errno;
    if (err == ENOENT && create_mode) {
      if (::mkdirat(parent, name.c_str(), *create_mode) == 0)
        created = true;
      else if (errno != EEXIST)
        throw io_error("create directory", shown, errno);
      continue;
    }
    if (err == ENOENT) return UniqueFd();
    throw describe_failure(parent, name, shown, err, /*want_directory=*/true);
  }
  throw io_error("create directory", shown, EAGAIN);
}

UniqueFd open_file_at(int dir, const std::string& name, const fs::path& shown, int flags, mode_t create_mode) {
  UniqueFd fd(::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, create_mode));
  if (!fd) {
    int err = errno;
    if (err == ENOENT && !(flags & O_CREAT)) return UniqueFd();
    throw describe_failure(dir, name, shown, err, /*want_directory=*/false);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw io_error("open", shown, errno);
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorKind::state, fmt::format("{} is {}, not a regular file", shown.string(), file_type_name(st.st_mode)),
                "move it out of the way; certcli keeps only regular files there", shown.string());
  int status_flags = ::fcntl(fd.get(), F_GETFL);
  if (status_flags >= 0) ::fcntl(fd.get(), F_SETFL, status_flags & ~O_NONBLOCK);
  return fd;
}

std::string read_all(int fd, const fs::path& shown) {
  // One fstat, one read for the usual small record: `renew` reads every domain's.
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw io_error("read", shown, errno);
  std::string content;
  content.resize(static_cast<size_t>(st.st_size) + 1);  // +1: a file that grew is read to its end
  size_t used = 0;
  for (;;) {
    if (used == content.size()) content.resize(content.size() * 2);
    ssize_t n = ::read(fd, content.data() + used, content.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("read", shown, errno);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  content.resize(used);
  return content;
}

void write_file_atomic_at(int dir, const std::string& name, const fs::path& shown, std::string_view content,
                          fs::perms mode) {
  std::string temp;
  UniqueFd fd;
  // O_EXCL|O_NOFOLLOW and 0600: the temp file is new, ours, and a key in it is never readable by
  // others, not even briefly.
  for (int attempt = 0; !fd && attempt < 100; ++attempt) {
    temp = temp_name_for(name);
    fd = UniqueFd(::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd && errno != EEXIST) throw io_error("create a file in", shown.parent_path(), errno);
  }
  if (!fd) throw io_error("create a file in", shown.parent_path(), EEXIST);
  const fs::path temp_shown = shown.parent_path() / temp;
  try {
    size_t written = 0;
    while (written < content.size()) {
      ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error("write", temp_shown, errno);
      }
      written += static_cast<size_t>(n);
    }
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) throw io_error("set the mode of", temp_shown, errno);
    if (::fsync(fd.get()) != 0) throw io_error("sync", temp_shown, errno);
    if (::close(fd.release()) != 0) throw io_error("close", temp_shown, errno);
    if (::renameat(dir, temp.c_str(), dir, name.c_str()) != 0) throw io_error("replace", shown, errno);
  } catch (...) {
    ::unlinkat(dir, temp.c_str(), 0);
    throw;
  }
  sync_directory(dir, shown.parent_path());
}

void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode) {
  fs::path dir = path.parent_path();
  UniqueFd dir_fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) throw io_error("create a file in", dir, errno);
  write_file_atomic_at(dir_fd.get(), path.filename().string(), path, content, mode);
}

std::string read_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw io_error("read", path, errno);
  return read_all(fd.get(), path);
}

void ensure_private_directory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (dir.has_parent_path() && dir.parent_path() != dir && !fs::exists(dir.parent_path(), ec))
      ensure_private_directory(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw io_error("create directory", dir, errno);
    UniqueFd parent(::open(dir.parent_path().empty() ? "." : dir.parent_path().c_str(),
                           O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent) throw io_error("sync directory", dir.parent_path(), errno);
    sync_directory(parent.get(), dir.parent_path());
    return;
  }
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::state, fmt::format("{} exists but is not a directory", dir.string()),
                "move it out of the way or choose another --home", dir.string());
  // Tighten, never loosen: a directory left 0755 by hand must not expose keys.
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(dir.c_str(), 0700);
}

bool is_archive_link_target(std::string_view target) {
  constexpr std::string_view prefix = "archive/";
  if (!target.starts_with(prefix)) return false;
  std::string_view version = target.substr(prefix.size());
  return !version.empty() && version != "." && version != ".." && version.find('/') == std::string_view::npos &&
         version.find('\0') == std::string_view::npos;
}

bool is_private_directory(uid_t owner, mode_t mode, uid_t euid) { return owner == euid && (mode & 022) == 0; }

}  // namespace certcli::files
