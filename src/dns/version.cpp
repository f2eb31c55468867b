// The ldns certcli runs with, as the shared library reports it (not the headers').
#include "dns/ldns_handles.hpp"

namespace certcli::dns {

std::string library_version() { return std::string("ldns ") + ldns_version(); }

}  // namespace certcli::dns
