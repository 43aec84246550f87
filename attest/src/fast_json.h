// Internal: JSON parsing for the two large documents of an attestation (the envelope or bundle,
// and the signed payload), through RapidJSON's iterative SAX reader building a runguard::Json.
//
// Why not common/json.h: nlohmann's lexer handles ~50 MB/s, and a 2 MB scan report inside a
// 2.7 MB envelope must be verified and judged in under 30 ms (docs/benchmarks.md). RapidJSON lexes
// an order of magnitude faster; the DOM the rest of attest/ reads stays nlohmann's.
//
// Same contract as parse_json: the whole input must be one JSON value (trailing non-space is an
// error), strings must be valid UTF-8, nesting is capped at kMaxJsonDepth (the reader is
// iterative: a deep document cannot exhaust the stack), errors name the source and byte offset.
// Objects with a repeated key keep the last value, as nlohmann does.
//
// `prune`: member names whose values are never read by any attest/ reader (descriptions,
// references, CVSS tables…). Their values are skipped, not built: most of a scanner report's
// bytes. The report tests check that judging a report gives the same findings with and without
// pruning, so a name may only be added here when no reader reads it at any depth.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest::internal {

using PruneSet = std::unordered_set<std::string_view>;

// The names scanner reports carry that no reader uses (Trivy, Grype).
const PruneSet& report_prune_set();

Result<Json> parse_json_fast(std::string_view text, const std::string& source, const PruneSet* prune = nullptr);

}  // namespace runguard::attest::internal
