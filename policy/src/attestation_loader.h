// Internal: the `attestation:` section of the policy (docs/attestation.md).
#pragma once

#include "runguard/policy/policy.h"
#include "yaml_reader.h"

namespace runguard::policy::internal {

// Reads the whole section into `s` (and sets s.present). A null section (`attestation:` with
// nothing under it) is an empty one: present, no keys, so the gate is off and says why.
Status load_attestation(const YamlReader& r, const YAML::Node& n, AttestationSettings& s);

}  // namespace runguard::policy::internal
