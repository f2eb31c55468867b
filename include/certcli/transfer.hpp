// certcli/transfer.hpp — certificates in and out of certcli: `upload` (an operator's own
// certificate, checked and installed as a self-managed domain), `download` (a certificate and
// its key in the formats servers and appliances take) and `covers` (which managed certificates
// cover a host). Returns structs; never prints. Writes only through the store, and download's
// export files where the caller says.
#pragma once

#include <certcli/clock.hpp>
#include <certcli/crypto.hpp>
#include <certcli/store.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certcli::lifecycle {

// --- covers ---

// The name of `certificate_names` that covers `host`, if any: the same name, or a wildcard
// covering exactly one label ("*.example.com" covers "a.example.com", never "example.com" nor
// "a.b.example.com"). Pure.
std::optional<std::string> covering_name(const std::vector<std::string>& certificate_names, std::string_view host);

struct CoverMatch {
  std::string domain;            // the managed entry
  std::string certificate_name;  // the SAN that covers the host
  std::string status;            // the domain's status
  std::string management;        // "managed" or "self-managed"
  std::string serial;
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
  bool valid_now = false;  // not_before <= now < not_after
};
struct CoversReport {
  std::string host;                 // normalized
  std::vector<CoverMatch> matches;  // domains whose live certificate covers the host, by name
  bool covered() const;             // by one valid now
};
// Throws Error{invalid_input} when `host` is not a name or an IP address.
CoversReport find_covering(const store::Store& store, const Clock& clock, std::string_view host);

// --- download ---

struct CertificateExport {
  std::string domain;
  std::string version;  // archive/<version>
  bool live = false;
  store::CertificateFiles files;  // the key in clear
  crypto::CertificateInfo certificate;
};
// The live certificate of a `ready` domain, or the archived `version` when one is named.
// Throws Error{not_found} saying what state the domain is in and why there is nothing to take,
// or which versions exist; Error{state} when the key cannot be opened (a passphrase is needed).
CertificateExport load_export(const store::Store& store, const std::string& name, const std::string& version);

enum class ExportFormat { files, tar, p12, der };
std::optional<ExportFormat> parse_export_format(std::string_view text);
std::string to_string(ExportFormat format);

struct ExportOptions {
  std::filesystem::path directory;  // created (0700) when missing
  ExportFormat format = ExportFormat::files;
  bool force = false;               // replace existing files
  std::string p12_password;         // for p12
  bool p12_legacy = false;
};
struct WrittenFile {
  std::string path;
  bool secret = false;  // holds the private key: written 0600
};
// Writes the export: files = certificate.crt, private.key, ca_bundle.crt, fullchain.pem;
// tar = those four in <name>.tar.gz; p12 = <name>.p12; der = <name>.der (the leaf). Every file
// is created with its mode set explicitly (secrets 0600, certificates 0644) whatever the umask.
// Refuses (Error{invalid_input}, nothing written) when any target exists and !force.
std::vector<WrittenFile> write_export(const CertificateExport& exported, const ExportOptions& options, TimePoint now);

// Logs certificate.downloaded (format, version, serial, the files; never key material).
void log_download(store::Store& store, const Clock& clock, const CertificateExport& exported, const std::string& format,
                  const std::vector<WrittenFile>& files);

// --- upload ---

struct UploadInput {
  std::string bytes;
  std::string source;  // the file name, for messages
};
struct UploadRequest {
  std::string name;
  UploadInput certificate;
  std::optional<UploadInput> key;    // absent: the live key must match
  std::optional<UploadInput> chain;
  std::string key_passphrase;
  bool yes = false;  // --yes: confirms a change of names, and adding a new domain
  // Asked when the names differ from the live certificate's and !yes; absent (no terminal):
  // the upload is refused.
  std::function<bool(const std::vector<std::string>& added, const std::vector<std::string>& removed)> confirm;
};
struct UploadResult {
  store::DomainRecord record;
  crypto::CertificateInfo certificate;
  std::string version;
  std::string previous_version;  // stays in the archive
  bool created = false;          // the domain was added by this upload
  bool reordered = false;        // the chain came out of order
  std::vector<std::string> notes;     // dropped roots and strays
  std::vector<std::string> warnings;  // not yet valid
  std::vector<std::string> added_names;
  std::vector<std::string> removed_names;
  std::string live_location;
};
// Checks everything before it writes anything (a refusal leaves the state directory as it
// was): the files parse, the key matches, the certificate has not expired, it covers every
// name of the domain, its chain links; then installs it (archive, live) and marks the domain
// self-managed: never renewed, still shown by status and alerted on.
UploadResult upload_certificate(store::Store& store, const Clock& clock, const UploadRequest& request);

// Whole-set difference of two name lists: {added to `after`, removed from `before`}.
std::pair<std::vector<std::string>, std::vector<std::string>> name_difference(const std::vector<std::string>& before,
                                                                             const std::vector<std::string>& after);
// Each name of `names` no SAN of `sans` covers, with why ("*.example.com does not cover its
// apex"). Pure.
std::vector<std::string> explain_uncovered(const std::vector<std::string>& names, const std::vector<std::string>& sans);

}  // namespace certcli::lifecycle
