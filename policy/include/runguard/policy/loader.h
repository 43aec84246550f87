// Loading policy.yaml into a validated Policy.
//
// Grammar (YAML; every key optional, unknown keys are errors with a suggestion):
//   runtime: { path: STR }            stateDir: STR            libDir: STR
//   mode: enforce|audit               failurePolicy: closed|open
//   trustedAnnotations: [KEY...]      annotation keys an override may loosen controls through
//   controls: { <control>: { action: enforce|deny|audit|off, <control-specific keys> } }
//   overrides: [ { name?: STR, match: { containerType, namespace, image, annotations: {K: V} },
//                  controls: { <control>: { ...fields to change... } } } ]
// Errors carry the file, line and column and the dotted key: "policy.yaml:14:5: controls.
// capabilities.allow[2]: unknown capability ...". Limits: the file is read by the caller (at most
// 4 MiB); at most 256 overrides.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::policy {

// Reads a file named by the policy (a seccomp profile). Injected so the loader stays pure.
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// Parses and validates policy YAML. `source` names the file in errors.
Result<Policy> parse_policy(std::string_view yaml, const std::string& source, const FileReader& read_file);

// The built-in policy (every control at its default), as used when no policy file exists.
Result<Policy> default_policy();

// The embedded default seccomp profile (profiles/seccomp/default.json), as JSON text.
std::string_view embedded_seccomp_profile();

// Only what pass-through commands need, read without validating the rest of the file, so a
// policy mistake never stops `kill` or `delete` of running containers. Missing keys keep defaults.
struct RuntimeSettings {
  std::string runtime_path;
  std::string state_dir = "/run/runguard";
};
RuntimeSettings peek_runtime_settings(std::string_view yaml);

}  // namespace runguard::policy
