// Internal: a line scanner for the two keys pass-through commands need (runtime.path, stateDir).
#pragma once

#include <optional>
#include <string_view>

#include "runguard/policy/loader.h"

namespace runguard::policy::internal {

// Reads top-level `stateDir: V` and `runtime: { path: V }` / `runtime:\n  path: V` from plain
// block YAML (comments, blank lines, quoted or plain scalars). Returns nullopt when the document
// uses anything else that could change the answer (anchors, aliases, tags, merge keys, several
// documents, multi-line flow or block scalars, tabs): the caller then asks yaml-cpp.
std::optional<RuntimeSettings> scan_runtime_settings(std::string_view yaml);

// The same two keys read by yaml-cpp: the fallback, and the reference the scanner is tested
// against. A broken document gives the defaults.
RuntimeSettings yaml_runtime_settings(std::string_view yaml);

}  // namespace runguard::policy::internal
