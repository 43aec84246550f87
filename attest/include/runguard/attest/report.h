// Vulnerability scan results, normalised to one finding model whatever produced them
// (reference/attestations.md §3, §6):
//   - cosign vuln/v1 predicate (https://cosign.sigstore.dev/attestation/vuln/v1) with a Trivy
//     report or a Grype report (or null: no findings recorded) in scanner.result;
//   - in-toto vulns predicate (https://in-toto.io/attestation/vulns/v0.1, and v0.2's result shape);
//   - a bare Trivy JSON (SchemaVersion 2) or Grype JSON report signed as the DSSE payload itself.
//
// Severity: Trivy UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL, Grype Unknown|Negligible|Low|Medium|High|Critical
// (case-insensitive); absent or unrecognised -> kUnknown. in-toto v0.2 severities come as
// [{method, score}] (CVSS score -> band: 0 none/negligible, <4 low, <7 medium, <9 high, else critical).
// Fix state: Trivy FixedVersion non-empty -> kFixed (fixable), Status will_not_fix -> kWontFix,
// end_of_life / fix_deferred / affected / under_investigation / unknown without a fixed version ->
// kNotFixed or kUnknown; Trivy Status not_affected is a scanner-side suppression, kept as
// `suppressed_by_scanner` and never blocks. Grype fix.state fixed|not-fixed|wont-fix|unknown.
// Findings are the scanner's; Trivy's ExperimentalModifiedFindings and Grype's ignoredMatches
// (already suppressed by the scanner's own VEX/ignore rules) are not findings.
//
// Scan time: predicate metadata.scanFinishedOn; a bare Trivy report's CreatedAt; a bare Grype
// report's descriptor.timestamp. A report with no scan time parses (the gate then fails it on age:
// a freshness rule cannot be met by omission).
//
// Limits: kMaxFindings (limits.h). Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/attest/statement.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::attest {

inline constexpr std::string_view kCosignVulnPredicate = "https://cosign.sigstore.dev/attestation/vuln/v1";
inline constexpr std::string_view kInTotoVulnsV01 = "https://in-toto.io/attestation/vulns/v0.1";
inline constexpr std::string_view kInTotoVulnsV02 = "https://in-toto.io/attestation/vulns/v0.2";

using policy::VulnSeverity;

enum class FixState { kFixed, kNotFixed, kWontFix, kUnknown };
const char* fix_state_name(FixState s);  // "fixed" | "not-fixed" | "wont-fix" | "unknown"

struct VulnFinding {
  std::string id;                     // CVE-2023-1234, GHSA-…
  std::vector<std::string> aliases;   // related ids (Grype relatedVulnerabilities, Trivy VendorIDs)
  std::string package;                // package name
  std::string purl;                   // package URL when the scanner gave one
  std::string installed_version;
  std::string fixed_version;          // "" when none
  VulnSeverity severity = VulnSeverity::kUnknown;
  FixState fix_state = FixState::kUnknown;
  std::string status;                 // the scanner's own status/state string, as written
  std::string target;                 // Trivy Result.Target / Grype location, for messages
  bool suppressed_by_scanner = false; // Trivy Status not_affected: never blocks

  bool fixable() const { return fix_state == FixState::kFixed; }
};

struct ScanReport {
  std::string format;           // "trivy" | "grype" | "in-toto-vulns"
  std::string envelope;         // "cosign-vuln/v1" | "in-toto-vulns/v0.1" | "in-toto-vulns/v0.2" | "bare"
  std::string scanner;          // "trivy", "grype", or predicate scanner.uri
  std::string scanner_version;
  std::optional<int64_t> finished_s;  // scan finish, unix seconds (UTC)
  std::string finished;               // as written
  std::vector<std::string> image_digests;  // digests the report itself names (Trivy RepoDigests' "@sha256:…",
                                            // Metadata.ImageID; Grype manifestDigest, repoDigests), "sha256:<hex>"
  std::vector<VulnFinding> findings;
  // False for a cosign vuln/v1 predicate without a scanner.result (absent or null): nothing says
  // a scan ran, so the gate fails it rather than reading "no findings" as clean.
  bool has_result = true;
};

// RFC 3339 (with fraction and offset, "Z" or ±hh:mm) -> unix seconds; nullopt when malformed.
std::optional<int64_t> parse_rfc3339(std::string_view text);

// A bare Trivy or Grype report (detected by its shape: Trivy has SchemaVersion and Results or
// ArtifactName; Grype has matches and descriptor/source). kInvalidArgument otherwise.
Result<ScanReport> report_from_json(const Json& j, const std::string& source);

// The statement's predicate, by predicateType (one of the three constants above; any other is
// kInvalidArgument "unsupported predicateType …, expected one of …").
Result<ScanReport> report_from_statement(const Statement& s, const std::string& source);

// The verified payload as a report: an in-toto statement (payloadType in-toto) or a bare report
// (any other supported type). `statement` receives the statement when there is one.
Result<ScanReport> report_from_payload(std::string_view payload_type, std::string_view payload,
                                       const std::string& source, std::optional<Statement>* statement = nullptr);

// Parses a severity name as scanners write it; kUnknown when unrecognised.
VulnSeverity severity_from_scanner(std::string_view s);

Json finding_to_json(const VulnFinding& f);  // {id,aliases,package,purl,installed,fixed,severity,fixState,status,target}

}  // namespace runguard::attest
