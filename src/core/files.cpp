// Durable file primitives (certcli/files.hpp), used by the state directory, webroots and config.toml. Every write is atomic and durable because a
// crash or Ctrl-C at any point must leave a state the next run can resume from.
#include <certcli/error.hpp>
#include <certcli/files.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace certcli::files {
namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error(ErrorKind::state, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
               "check that the state directory is writable by this user (see --home)", path.string());
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

void fsync_directory(const fs::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw io_error("sync directory", dir, errno);
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode) {
  fs::path dir = path.parent_path();
  // Formatted rather than `"." + name + ...`: at -O2/-O3 GCC 12 reports a false -Wrestrict from
  // inside libstdc++'s operator+(const char*, std::string&&), which -Werror builds turn into an error.
  std::string temp_template = (dir / fmt::format(".{}.tmp-XXXXXX", path.filename().string())).string();
  // mkstemp creates the file 0600, so a key is never readable by others, not even briefly.
  FileDescriptor fd(::mkstemp(temp_template.data()));
  if (fd.get() < 0) throw io_error("create a file in", dir, errno);
  fs::path temp_path = temp_template;
  try {
    size_t written = 0;
    while (written < content.size()) {
      ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error("write", temp_path, errno);
      }
      written += static_cast<size_t>(n);
    }
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) throw io_error("set the mode of", temp_path, errno);
    if (::fsync(fd.get()) != 0) throw io_error("sync", temp_path, errno);
    if (::close(fd.release()) != 0) throw io_error("close", temp_path, errno);
    if (::rename(temp_path.c_str(), path.c_str()) != 0) throw io_error("replace", path, errno);
  } catch (...) {
    ::unlink(temp_path.c_str());
    throw;
  }
  fsync_directory(dir);
}

std::string read_file(const fs::path& path) {
  // One open, one fstat, one read for the usual small record: `renew` reads every domain's.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw io_error("read", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw io_error("read", path, errno);
  std::string content;
  content.resize(static_cast<size_t>(st.st_size) + 1);  // +1: a file that grew is read to its end
  size_t used = 0;
  for (;;) {
    if (used == content.size()) content.resize(content.size() * 2);
    ssize_t n = ::read(fd.get(), content.data() + used, content.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("read", path, errno);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  content.resize(used);
  return content;
}

void ensure_private_directory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (dir.has_parent_path() && dir.parent_path() != dir && !fs::exists(dir.parent_path(), ec))
      ensure_private_directory(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw io_error("create directory", dir, errno);
    fsync_directory(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
    return;
  }
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::state, fmt::format("{} exists but is not a directory", dir.string()),
                "move it out of the way or choose another --home", dir.string());
  // Tighten, never loosen: a directory left 0755 by hand must not expose keys.
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(dir.c_str(), 0700);
}

}  // namespace certcli::files
