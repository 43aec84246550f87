// Internal: the `secrets:` section of the policy (docs/secrets.md).
#pragma once

#include "runguard/policy/policy.h"
#include "yaml_reader.h"

namespace runguard::policy::internal {

Status load_secrets(const YamlReader& r, const YAML::Node& n, SecretsSettings& s);

}  // namespace runguard::policy::internal
