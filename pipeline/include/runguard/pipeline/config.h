// Where the policy comes from and how the real runtime is found; shared by every command.
#pragma once

#include <string>

#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline {

inline constexpr const char* kDefaultConfigPath = "/etc/runguard/policy.yaml";

// $RUNGUARD_CONFIG, else /etc/runguard/policy.yaml. `explicit_path` is true for the former.
std::string config_path(bool* explicit_path = nullptr);

// Loads and fully validates the policy. A missing default file means the embedded defaults; a
// missing file named by RUNGUARD_CONFIG (or --policy) is an error.
Result<policy::Policy> load_policy(const std::string& path, bool explicit_path);

// The real runtime: `configured` if set, else the first "runc" on PATH that is not runguard.
Result<std::string> resolve_runtime(const std::string& configured);

}  // namespace runguard::pipeline
