// certcli/tarball.hpp — a .tar.gz in memory, for `certcli download --format tar`. The one user of
// libarchive, so that its owners (archive_write_free, archive_entry_free) live in one file.
// Knows nothing of certificates; writes no file.
#pragma once

#include <certcli/clock.hpp>

#include <string>
#include <vector>

namespace certcli {

struct TarMember {
  std::string name;     // a plain file name, no directories
  std::string content;
  unsigned mode = 0644;  // the permission bits tar records (a key: 0600)
};

// A gzip-compressed POSIX (ustar) tar of `members`, each stamped with `modified`.
std::string make_tar_gz(const std::vector<TarMember>& members, TimePoint modified);

}  // namespace certcli
