// Pieces of report parsing shared by report.cc, trivy.cc and grype.cc. Internal to rg_attest.
#pragma once

#include <string>

#include "runguard/attest/report.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest::detail {

// "NONE" … "CRITICAL", "UNKNOWN" (policy's vuln_severity_name belongs to another library's build).
const char* severity_name(VulnSeverity s);

// Shape tests used to pick a parser for a bare report or a cosign scanner.result.
bool looks_like_trivy(const Json& j);
bool looks_like_grype(const Json& j);

// Parse one report at JSON path `path` ("" for a bare report, "scanner.result" inside a predicate)
// into `out` (format, scanner, time, digests, findings). Errors name the path.
Status parse_trivy(const Json& j, const std::string& path, ScanReport& out);
Status parse_grype(const Json& j, const std::string& path, ScanReport& out);

// kInvalidArgument when a report would exceed kMaxFindings.
Status check_finding_count(size_t n, const std::string& path);

// Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ".
std::string format_rfc3339(int64_t unix_s);

// "sha256:<hex>" lowercased when `text` looks like "<alg>:<hex>" (hex only); "" otherwise.
std::string normalise_digest(std::string_view text);

}  // namespace runguard::attest::detail
