#include "challenge/published_files.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace certcli::challenge {

void PublishedFiles::publish(const std::string& token, files::UniqueFd dir, const std::string& name,
                             const std::filesystem::path& shown, std::string_view content,
                             std::filesystem::perms mode) {
  files::write_file_atomic_at(dir.get(), name, shown, content, mode);
  Written written;
  written.name = name;
  written.shown = shown;
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    written.device = st.st_dev;
    written.inode = st.st_ino;
  }
  written.dir = std::move(dir);
  std::lock_guard guard(mutex_);
  written_.insert_or_assign(token, std::move(written));
}

std::string PublishedFiles::withdraw(const std::string& token, const char* what) noexcept {
  try {
    std::lock_guard guard(mutex_);
    auto it = written_.find(token);
    if (it == written_.end()) return {};
    const Written& written = it->second;
    std::string warning;
    struct stat st {};
    if (::fstatat(written.dir.get(), written.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (st.st_dev != written.device || st.st_ino != written.inode)
        warning = "left " + written.shown.string() + " alone: it is no longer the file certcli wrote";
      else if (::unlinkat(written.dir.get(), written.name.c_str(), 0) != 0)
        warning = "cannot remove " + written.shown.string() + ": " + std::strerror(errno);
    }
    written_.erase(it);
    return warning;
  } catch (...) {
    // A failing mutex or allocation; a leftover file names a token that is spent.
    return fmt::format("cannot remove {}", what);
  }
}

}  // namespace certcli::challenge
