// Internal: rejects keys runc (Go) would match to OCI fields case-insensitively. See key_case.cc.
#pragma once

#include <set>
#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::policy::internal {

// Walks `doc`; objects at `map_pointers` (JSON pointers of free-form maps such as "/annotations")
// are skipped with everything below them.
Status check_key_case(const Json& doc, const std::string& source, const std::set<std::string>& map_pointers);

}  // namespace runguard::policy::internal
