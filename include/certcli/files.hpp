// certcli/files.hpp — durable file primitives shared by the store, the challenge solvers
// (webroot files) and config.toml. Below every module that writes: knows nothing of records.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace certcli::files {

namespace fs = std::filesystem;

// Writes `content` to `path` so that readers see the old file or the new one, never a mix:
// a temp file in the same directory, fsync, rename, fsync of the directory. Throws
// Error{state} naming the file.
void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode);
// Throws Error{state} naming the file when it cannot be read.
std::string read_file(const fs::path& path);
// Creates `dir` (and missing parents) with mode 0700; tightens an existing one.
void ensure_private_directory(const fs::path& dir);

}  // namespace certcli::files
