// http-01 through `certcli serve` (RFC 8555 8.3): the issuing process publishes each key
// authorization as <home>/http-01/<token>, and a long-running `certcli serve` over the same state
// directory answers /.well-known/acme-challenge/<token> from it, so that a fleet of web servers
// can forward that path to one certcli host. Writer and reader live here together so that the
// layout has one owner. Like the webroot solver, every step below the state directory is opened
// relative to its parent with O_NOFOLLOW: a planted link is refused, never followed.
#include <certcli/challenge.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>

#include "challenge/published_files.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace certcli::challenge {
namespace {

namespace fs = std::filesystem;

// The key authorization is not a secret the way a key is (the CA and anyone on the path see
// it), but the state directory is private and only certcli's user reads it back.
constexpr fs::perms kPublishedFileMode = fs::perms::owner_read | fs::perms::owner_write;
constexpr mode_t kPublishedDirectoryMode = 0700;
// A key authorization is token "." thumbprint: under 200 bytes. Anything much larger in the
// directory was not written by certcli and is not served.
constexpr std::size_t kMaxPublishedBytes = 1024;

// The state directory as given (the operator's path), then its http-01/ child without links.
files::UniqueFd open_published_directory(const fs::path& directory, bool create) {
  const fs::path parent = directory.parent_path();
  files::UniqueFd home(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!home) {
    if (!create) return {};
    throw Error(ErrorKind::state, fmt::format("cannot open the state directory {}: {}", parent.string(), std::strerror(errno)),
                "check that the state directory exists and belongs to this user", parent.string());
  }
  return files::open_directory_at(home.get(), directory.filename().string(), directory,
                                  create ? std::optional<mode_t>(kPublishedDirectoryMode) : std::nullopt);
}

bool is_base64url_token(const std::string& token) {
  if (token.empty() || token.size() > 256) return false;
  for (char c : token)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

class HttpServeSolver final : public Solver {
 public:
  explicit HttpServeSolver(fs::path directory) : directory_(std::move(directory)) {}

  std::string challenge_type() const override { return "http-01"; }

  void present(const ChallengeTask& task) override {
    http01_path(task.token);  // refuses a token that is not base64url before it names a file
    const fs::path file = directory_ / task.token;
    try {
      published_.publish(task.token, open_published_directory(directory_, /*create=*/true), task.token, file,
                         task.key_authorization, kPublishedFileMode);
    } catch (const Error& e) {
      throw Error(ErrorKind::challenge, e.what(),
                  "make the state directory writable by this user; certcli writes only http-01/<token> there for "
                  "certcli serve",
                  file.string());
    }
  }

  std::string cleanup(const ChallengeTask& task) noexcept override {
    return published_.withdraw(task.token, "a published http-01 answer from the state directory");
  }

  std::string describe() const override { return fmt::format("http-01 via certcli serve ({})", directory_.string()); }

 private:
  fs::path directory_;
  PublishedFiles published_;  // http-01/<token>, as written
};

}  // namespace

std::unique_ptr<Solver> make_http_serve_solver(const fs::path& directory) {
  return std::make_unique<HttpServeSolver>(directory);
}

std::optional<std::string> read_published_key_authorization(const fs::path& directory, const std::string& token) noexcept {
  try {
    if (!is_base64url_token(token)) return std::nullopt;
    files::UniqueFd dir = open_published_directory(directory, /*create=*/false);
    if (!dir) return std::nullopt;
    files::UniqueFd file = files::open_file_at(dir.get(), token, directory / token, O_RDONLY);
    if (!file) return std::nullopt;
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || static_cast<std::size_t>(st.st_size) > kMaxPublishedBytes) return std::nullopt;
    return files::read_all(file.get(), directory / token);
  } catch (...) {
    // A link, a FIFO, a directory where the file should be, an unreadable entry: not served.
    return std::nullopt;
  }
}

}  // namespace certcli::challenge
