// `certcli download`: a certificate and its key out of the state directory, in the formats
// servers and appliances take. The key leaves in clear (the operator asked for it); every file
// that holds it is 0600 whatever the umask, and nothing is overwritten without --force.
#include "lifecycle/steps.hpp"

#include <certcli/bundle.hpp>
#include <certcli/error.hpp>
#include <certcli/files.hpp>
#include <certcli/names.hpp>
#include <certcli/tarball.hpp>
#include <certcli/transfer.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace certcli::lifecycle {
namespace {

namespace fs = std::filesystem;

constexpr fs::perms kSecret = fs::perms::owner_read | fs::perms::owner_write;
constexpr fs::perms kPublic = kSecret | fs::perms::group_read | fs::perms::others_read;

std::string versions_hint(const store::Store& store, const std::string& name) {
  std::vector<std::string> versions;
  for (const auto& archived : store.list_archive(name)) versions.push_back(archived.version);
  if (versions.empty()) return fmt::format("there is nothing archived yet; `certcli issue {}` obtains a certificate", name);
  return fmt::format("the archived versions are {}; name one with --version", fmt::join(versions, ", "));
}

// Why a domain that is not ready has nothing to hand out.
std::string why_not_ready(const store::DomainRecord& record) {
  switch (record.status) {
    case store::CertificateStatus::pending: return "no certificate has been issued for it yet";
    case store::CertificateStatus::issuing:
      return fmt::format("a certificate is being issued (phase {})", store::to_string(record.phase));
    case store::CertificateStatus::failed:
      return fmt::format("its last issuance failed: {}", record.error ? record.error->detail : "no detail was recorded");
    case store::CertificateStatus::ready: break;
  }
  return "its live certificate is missing";
}

struct Target {
  fs::path path;
  std::string content;
  bool secret = false;
};

// Into `path` via a temp file in the same directory, so a reader never sees half a key; without
// `force` link(2) places it, which fails on an existing file instead of replacing it.
void place(const Target& target, bool force) {
  if (force) {
    files::write_file_atomic(target.path, target.content, target.secret ? kSecret : kPublic);
    return;
  }
  fs::path temp = target.path.parent_path() / fmt::format(".{}.new-{}", target.path.filename().string(), ::getpid());
  files::write_file_atomic(temp, target.content, target.secret ? kSecret : kPublic);
  int rc = ::link(temp.c_str(), target.path.c_str());
  int err = errno;
  ::unlink(temp.c_str());
  if (rc != 0)
    throw Error(err == EEXIST ? ErrorKind::invalid_input : ErrorKind::state,
                fmt::format("cannot write {}: {}", target.path.string(), std::strerror(err)),
                err == EEXIST ? "pass --force to replace it, or choose another directory with --out"
                              : "check that the directory is writable by this user",
                target.path.string());
}

}  // namespace

std::optional<ExportFormat> parse_export_format(std::string_view text) {
  if (text == "files") return ExportFormat::files;
  if (text == "tar") return ExportFormat::tar;
  if (text == "p12") return ExportFormat::p12;
  if (text == "der") return ExportFormat::der;
  return std::nullopt;
}

std::string to_string(ExportFormat format) {
  switch (format) {
    case ExportFormat::files: return "files";
    case ExportFormat::tar: return "tar";
    case ExportFormat::p12: return "p12";
    case ExportFormat::der: return "der";
  }
  return "files";
}

CertificateExport load_export(const store::Store& store, const std::string& name, const std::string& version) {
  store::DomainRecord record = require_domain(store, name);
  CertificateExport out;
  out.domain = record.name;
  if (!version.empty()) {
    auto files = store.load_archived_certificate(record.name, version);
    if (!files)
      throw Error(ErrorKind::not_found, fmt::format("{} has no archived version '{}'", record.name, version),
                  versions_hint(store, record.name), record.name);
    out.version = version;
    out.live = version == record.live_version;
    out.files = std::move(*files);
  } else {
    if (record.status != store::CertificateStatus::ready)
      throw Error(ErrorKind::not_found,
                  fmt::format("{} is {}: {}; only a ready certificate can be downloaded", record.name,
                              store::to_string(record.status), why_not_ready(record)),
                  versions_hint(store, record.name), record.name);
    std::optional<store::CertificateFiles> files;
    if (!record.live_version.empty()) files = store.load_archived_certificate(record.name, record.live_version);
    if (!files)
      throw Error(ErrorKind::state, fmt::format("{} is ready but its live certificate is missing", record.name),
                  fmt::format("`certcli renew {} --force` obtains a new one", record.name), record.name);
    out.version = record.live_version;
    out.live = true;
    out.files = std::move(*files);
  }
  out.certificate = crypto::parse_certificate(out.files.certificate);
  return out;
}

std::vector<WrittenFile> write_export(const CertificateExport& exported, const ExportOptions& options, TimePoint now) {
  const fs::path& dir = options.directory.empty() ? fs::path(".") : options.directory;
  const std::string base = storage_name(exported.domain);
  const auto& f = exported.files;
  std::vector<Target> targets;
  switch (options.format) {
    case ExportFormat::files:
      targets = {{dir / "certificate.crt", f.certificate, false},
                 {dir / "private.key", f.private_key, true},
                 {dir / "ca_bundle.crt", f.chain, false},
                 {dir / "fullchain.pem", f.fullchain, false}};
      break;
    case ExportFormat::tar:
      targets = {{dir / (base + ".tar.gz"),
                  make_tar_gz({{"certificate.crt", f.certificate, 0644},
                               {"private.key", f.private_key, 0600},
                               {"ca_bundle.crt", f.chain, 0644},
                               {"fullchain.pem", f.fullchain, 0644}},
                              now),
                  true}};
      break;
    case ExportFormat::p12:
      targets = {{dir / (base + ".p12"),
                  crypto::make_pkcs12(f.certificate, f.chain, f.private_key,
                                      {options.p12_password, options.p12_legacy, exported.domain}),
                  true}};
      break;
    case ExportFormat::der: targets = {{dir / (base + ".der"), crypto::certificate_der(f.certificate), false}}; break;
  }
  // Every target checked before any is written, so a refusal writes nothing.
  std::error_code ec;
  if (!options.force)
    for (const auto& target : targets)
      if (fs::symlink_status(target.path, ec).type() != fs::file_type::not_found)
        throw Error(ErrorKind::invalid_input, fmt::format("{} exists already; nothing was written", target.path.string()),
                    "pass --force to replace it, or choose another directory with --out", target.path.string());
  if (!fs::exists(dir, ec)) files::ensure_private_directory(dir);
  std::vector<WrittenFile> written;
  for (const auto& target : targets) {
    place(target, options.force);
    written.push_back({target.path.string(), target.secret});
  }
  return written;
}

void log_download(store::Store& store, const Clock& clock, const CertificateExport& exported, const std::string& format,
                  const std::vector<WrittenFile>& files) {
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& file : files) paths.push_back(file.path);
  steps::log_event(store, clock, "certificate.downloaded", exported.domain,
                   {{"format", format},
                    {"version", exported.version},
                    {"serial", exported.certificate.serial_hex},
                    {"files", paths}});
}

}  // namespace certcli::lifecycle
