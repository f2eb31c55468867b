// TOML form of the state records. Private to store/: the on-disk format is the store's business.
#pragma once

#include <certcli/store.hpp>

#include <toml++/toml.h>

namespace certcli::store {

toml::table domain_to_toml(const DomainRecord& record);
// `source` names the file in error messages.
DomainRecord domain_from_toml(const toml::table& table, const std::string& source);

toml::table account_to_toml(const AccountRecord& record);
AccountRecord account_from_toml(const toml::table& table, const std::string& source);

toml::table ca_timing_to_toml(const CaTimingRecord& record);
CaTimingRecord ca_timing_from_toml(const toml::table& table, const std::string& source);

std::string serialize(const toml::table& table);
// Throws Error{state} naming the file, line and column of a syntax error.
toml::table parse_toml(const std::string& text, const std::string& source);

}  // namespace certcli::store
