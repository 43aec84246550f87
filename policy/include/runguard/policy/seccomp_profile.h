// Checks on OCI `linux.seccomp` objects (runtime-spec config-linux.md "Seccomp").
#pragma once

#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::policy {

// Structure, action and operator names, and (when `check_names`) every syscall name resolvable by
// libseccomp. NOTIFY may not be the default action nor apply to `write` (runc refuses both).
Status validate_seccomp_profile(const Json& profile, const std::string& source, bool check_names);

// True when the profile restricts nothing: default action ALLOW or LOG and no rule with another
// action. Such a profile is "unconfined" in all but name.
bool seccomp_allows_all(const Json& profile);

}  // namespace runguard::policy
