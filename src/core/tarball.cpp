// .tar.gz in memory through libarchive (certcli/tarball.hpp). libarchive is loaded here, on the
// first archive written, rather than linked: linked, it and what it links (libxml2, ICU, five
// compressors) are loaded and initialised by every start of certcli, 1.5 ms of a 10 ms
// `certcli --version`, for the one command that writes a tar.
#include <certcli/error.hpp>
#include <certcli/tarball.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <memory>
#include <type_traits>

namespace certcli {
namespace {

// The soname of libarchive 3 (Debian's libarchive13), then the development link as a fallback.
constexpr const char* kLibArchiveNames[] = {"libarchive.so.13", "libarchive.so"};

// The functions certcli calls, with the signatures of the headers it was built against.
struct LibArchive {
  decltype(&archive_write_new) write_new = nullptr;
  decltype(&archive_write_free) write_free = nullptr;
  decltype(&archive_write_add_filter_gzip) write_add_filter_gzip = nullptr;
  decltype(&archive_write_set_format_ustar) write_set_format_ustar = nullptr;
  decltype(&archive_write_open) write_open = nullptr;
  decltype(&archive_write_header) write_header = nullptr;
  decltype(&archive_write_data) write_data = nullptr;
  decltype(&archive_write_close) write_close = nullptr;
  decltype(&archive_error_string) error_string = nullptr;
  decltype(&archive_entry_new) entry_new = nullptr;
  decltype(&archive_entry_free) entry_free = nullptr;
  decltype(&archive_entry_set_pathname) entry_set_pathname = nullptr;
  decltype(&archive_entry_set_size) entry_set_size = nullptr;
  decltype(&archive_entry_set_filetype) entry_set_filetype = nullptr;
  decltype(&archive_entry_set_perm) entry_set_perm = nullptr;
  decltype(&archive_entry_set_mtime) entry_set_mtime = nullptr;
};

LibArchive load_libarchive() {
  void* handle = nullptr;
  std::string why;
  for (const char* name : kLibArchiveNames) {
    handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);  // kept loaded for the process's life
    if (handle) break;
    if (why.empty()) why = ::dlerror();
  }
  const std::string hint =
      "install libarchive (Debian: apt-get install libarchive13), or download --format files or p12, which need it not";
  if (!handle) throw Error(ErrorKind::internal, fmt::format("cannot load libarchive for the .tar.gz: {}", why), hint);
  LibArchive lib;
  auto bind = [&](auto& function, const char* symbol) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(::dlsym(handle, symbol));
    if (!function)
      throw Error(ErrorKind::internal, fmt::format("the libarchive loaded has no {}: it is not libarchive 3", symbol), hint);
  };
  bind(lib.write_new, "archive_write_new");
  bind(lib.write_free, "archive_write_free");
  bind(lib.write_add_filter_gzip, "archive_write_add_filter_gzip");
  bind(lib.write_set_format_ustar, "archive_write_set_format_ustar");
  bind(lib.write_open, "archive_write_open");
  bind(lib.write_header, "archive_write_header");
  bind(lib.write_data, "archive_write_data");
  bind(lib.write_close, "archive_write_close");
  bind(lib.error_string, "archive_error_string");
  bind(lib.entry_new, "archive_entry_new");
  bind(lib.entry_free, "archive_entry_free");
  bind(lib.entry_set_pathname, "archive_entry_set_pathname");
  bind(lib.entry_set_size, "archive_entry_set_size");
  bind(lib.entry_set_filetype, "archive_entry_set_filetype");
  bind(lib.entry_set_perm, "archive_entry_set_perm");
  bind(lib.entry_set_mtime, "archive_entry_set_mtime");
  return lib;
}

// Loaded once; a failed load throws and is tried again by the next call.
const LibArchive& libarchive() {
  static const LibArchive lib = load_libarchive();
  return lib;
}

struct WriterFree {
  void operator()(archive* a) const { libarchive().write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { libarchive().entry_free(e); }
};
using WriterPtr = std::unique_ptr<archive, WriterFree>;
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

la_ssize_t append(archive*, void* out, const void* buffer, size_t length) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

[[noreturn]] void fail(archive* a, const std::string& what) {
  const char* why = a ? libarchive().error_string(a) : nullptr;
  throw Error(ErrorKind::internal, fmt::format("cannot write the tar archive: {}{}", what, why ? fmt::format(" ({})", why) : ""));
}

}  // namespace

std::string make_tar_gz(const std::vector<TarMember>& members, TimePoint modified) {
  const LibArchive& lib = libarchive();
  std::string out;
  WriterPtr writer(lib.write_new());
  if (!writer) fail(nullptr, "out of memory");
  if (lib.write_add_filter_gzip(writer.get()) != ARCHIVE_OK) fail(writer.get(), "gzip");
  if (lib.write_set_format_ustar(writer.get()) != ARCHIVE_OK) fail(writer.get(), "ustar");
  if (lib.write_open(writer.get(), &out, nullptr, append, nullptr) != ARCHIVE_OK) fail(writer.get(), "open");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(modified.time_since_epoch()).count();
  for (const auto& member : members) {
    EntryPtr entry(lib.entry_new());
    if (!entry) fail(nullptr, "out of memory");
    lib.entry_set_pathname(entry.get(), member.name.c_str());
    lib.entry_set_size(entry.get(), static_cast<la_int64_t>(member.content.size()));
    lib.entry_set_filetype(entry.get(), AE_IFREG);
    lib.entry_set_perm(entry.get(), member.mode);
    lib.entry_set_mtime(entry.get(), static_cast<time_t>(seconds), 0);
    if (lib.write_header(writer.get(), entry.get()) != ARCHIVE_OK) fail(writer.get(), member.name);
    if (!member.content.empty() &&
        lib.write_data(writer.get(), member.content.data(), member.content.size()) !=
            static_cast<la_ssize_t>(member.content.size()))
      fail(writer.get(), member.name);
  }
  if (lib.write_close(writer.get()) != ARCHIVE_OK) fail(writer.get(), "close");
  return out;
}

}  // namespace certcli
