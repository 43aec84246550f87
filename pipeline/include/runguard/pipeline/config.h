// Where the policy comes from and how the real runtime is found; shared by every command.
#pragma once

#include <string>

#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline {

inline constexpr const char* kDefaultConfigPath = "/etc/runguard/policy.yaml";

// Where the policy file is, and whether someone named it (then it must exist).
struct ConfigSource {
  std::string path;
  bool named = false;  // from $RUNGUARD_CONFIG or --policy, not the built-in default path
  std::string named_by;  // "RUNGUARD_CONFIG", "--policy": said in errors
};

// $RUNGUARD_CONFIG, else /etc/runguard/policy.yaml.
ConfigSource config_source();

// Loads and fully validates the policy. A missing default file means the embedded defaults; a
// missing file that was named is an error.
Result<policy::Policy> load_policy(const ConfigSource& source);

// The real runtime: `configured` if set, else the first "runc" on PATH that is not runguard.
Result<std::string> resolve_runtime(const std::string& configured);

}  // namespace runguard::pipeline
