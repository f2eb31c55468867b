// .tar.gz in memory through libarchive (certcli/tarball.hpp).
#include <certcli/error.hpp>
#include <certcli/tarball.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <memory>

namespace certcli {
namespace {

struct WriterFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using WriterPtr = std::unique_ptr<archive, WriterFree>;
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

la_ssize_t append(archive*, void* out, const void* buffer, size_t length) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

[[noreturn]] void fail(archive* a, const std::string& what) {
  const char* why = a ? archive_error_string(a) : nullptr;
  throw Error(ErrorKind::internal, fmt::format("cannot write the tar archive: {}{}", what, why ? fmt::format(" ({})", why) : ""));
}

}  // namespace

std::string make_tar_gz(const std::vector<TarMember>& members, TimePoint modified) {
  std::string out;
  WriterPtr writer(archive_write_new());
  if (!writer) fail(nullptr, "out of memory");
  if (archive_write_add_filter_gzip(writer.get()) != ARCHIVE_OK) fail(writer.get(), "gzip");
  if (archive_write_set_format_ustar(writer.get()) != ARCHIVE_OK) fail(writer.get(), "ustar");
  if (archive_write_open(writer.get(), &out, nullptr, append, nullptr) != ARCHIVE_OK) fail(writer.get(), "open");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(modified.time_since_epoch()).count();
  for (const auto& member : members) {
    EntryPtr entry(archive_entry_new());
    if (!entry) fail(nullptr, "out of memory");
    archive_entry_set_pathname(entry.get(), member.name.c_str());
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(member.content.size()));
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), member.mode);
    archive_entry_set_mtime(entry.get(), static_cast<time_t>(seconds), 0);
    if (archive_write_header(writer.get(), entry.get()) != ARCHIVE_OK) fail(writer.get(), member.name);
    if (!member.content.empty() &&
        archive_write_data(writer.get(), member.content.data(), member.content.size()) !=
            static_cast<la_ssize_t>(member.content.size()))
      fail(writer.get(), member.name);
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) fail(writer.get(), "close");
  return out;
}

}  // namespace certcli
