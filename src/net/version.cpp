// The libcurl certcli runs with, as the shared library reports it (not the headers').
#include <certcli/net.hpp>

#include <curl/curl.h>

namespace certcli::net {

std::string library_version() { return std::string("libcurl ") + curl_version_info(CURLVERSION_NOW)->version; }

}  // namespace certcli::net
