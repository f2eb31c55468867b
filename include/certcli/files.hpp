// certcli/files.hpp — durable file primitives shared by the store, the challenge solvers
// (webroot files) and config.toml. Below every module that writes: knows nothing of records.
// Two families: path-based ones for files the operator names (a CSR, --out), and descriptor-
// based ones (`..._at`) for trees certcli must not be led out of (the state directory, a
// webroot): there every component is opened relative to its parent with O_NOFOLLOW, so a link
// planted by someone who can write there is refused, never followed.
#pragma once

#include "certcli/error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace certcli::files {

namespace fs = std::filesystem;

// Owns one file descriptor; -1 means "none" (e.g. an entry that does not exist).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Writes `content` to `path` so that readers see the old file or the new one, never a mix:
// a temp file in the same directory, fsync, rename, fsync of the directory. Throws
// Error{state} naming the file.
void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode);
// Error{state}: a symbolic link where certcli writes, named, with who could have planted it.
Error link_refused(const fs::path& path);
// Throws Error{state} naming the file when it cannot be read.
std::string read_file(const fs::path& path);
// Creates `dir` (and missing parents) with mode 0700; tightens an existing one.
void ensure_private_directory(const fs::path& dir);

// --- Descriptor-based: `shown` is the full path, used only in messages. ---

// The directory `name` inside `parent`, never through a link. Missing: created with
// `create_mode` (exactly that mode, whatever the umask) when given, else an empty UniqueFd.
// A link or a non-directory there is Error{state}.
UniqueFd open_directory_at(int parent, const std::string& name, const fs::path& shown,
                           std::optional<mode_t> create_mode);
// The regular file `name` inside `dir` opened with `flags` (O_NOFOLLOW, O_NONBLOCK and
// O_CLOEXEC added; O_NONBLOCK so a FIFO planted there cannot hang the open). Missing and no
// O_CREAT: an empty UniqueFd. A link, FIFO, device or directory there is Error{state}.
UniqueFd open_file_at(int dir, const std::string& name, const fs::path& shown, int flags, mode_t create_mode = 0600);
// Everything left to read from `fd`.
std::string read_all(int fd, const fs::path& shown);
// write_file_atomic inside the directory `dir`: the temp file is created O_EXCL|O_NOFOLLOW and
// renamed over `name` (a link at `name` is replaced, never followed).
void write_file_atomic_at(int dir, const std::string& name, const fs::path& shown, std::string_view content,
                          fs::perms mode);
void sync_directory(int dir, const fs::path& shown);

// Pure: whether a link's text is "archive/<version>" — one plain component below archive/, no
// "..", not absolute. certcli's `live` links are always that; anything else was not made by it.
bool is_archive_link_target(std::string_view target);
// Pure: whether a directory with this owner and mode may hold state for `euid`: owned by it and
// writable by nobody else (no group or other write bit).
bool is_private_directory(uid_t owner, mode_t mode, uid_t euid);

}  // namespace certcli::files
