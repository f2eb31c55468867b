// The files an http-01 solver writes for the CA to fetch (a webroot's challenge files, the
// answers `certcli serve` reads back), and the one rule for taking them back: only the file
// certcli wrote, in the directory it wrote it in (the descriptor kept since), and never one that
// replaced it meanwhile (another run's answer for the same token).
#pragma once

#include <certcli/files.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace certcli::challenge {

class PublishedFiles {
 public:
  // Writes `content` atomically as `name` in `dir` (shown as `shown` in messages) and remembers
  // it under `token`. Throws what files::write_file_atomic_at throws.
  void publish(const std::string& token, files::UniqueFd dir, const std::string& name,
               const std::filesystem::path& shown, std::string_view content, std::filesystem::perms mode);
  // Removes what publish() wrote for `token`: a warning when it could not or would not, never a
  // throw (cleanup runs on every way out). `what` names the file kind for the last-resort warning.
  std::string withdraw(const std::string& token, const char* what) noexcept;

 private:
  struct Written {
    files::UniqueFd dir;
    std::string name;
    std::filesystem::path shown;
    dev_t device = 0;
    ino_t inode = 0;
  };
  std::map<std::string, Written> written_;  // token -> file written
  std::mutex mutex_;                        // parallel renewals share one solver
};

}  // namespace certcli::challenge
