// Kernel names the policy may mention, validated with libseccomp and libcap-ng (the libraries
// runc itself uses), so a typo is a load-time error with a suggestion, not a silent no-op.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::policy {

// Accepts "NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", any case; returns "CAP_NET_BIND_SERVICE".
Result<std::string> canonical_capability(const std::string& name);
// Every capability libcap-ng knows, as "CAP_X".
const std::vector<std::string>& all_capabilities();

// A syscall name libseccomp resolves on the native architecture, or an error with a suggestion.
Status check_syscall_name(const std::string& name);

// "RLIMIT_NOFILE" etc.; the names runc accepts in process.rlimits.
bool is_rlimit_name(const std::string& name);
const std::vector<std::string>& rlimit_names();

}  // namespace runguard::policy
