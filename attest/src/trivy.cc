// Trivy JSON reports (SchemaVersion 2, reference/attestations.md §6) -> findings.
#include <string>

#include "json_read.h"
#include "report_internal.h"
#include "runguard/attest/report.h"

namespace runguard::attest::detail {

namespace {

// Trivy Status -> fix state. A FixedVersion always means a fix exists; Status "fixed" without one
// (DefectDojo's all_statuses) still says a fix exists, so it is judged as fixable (the stricter ceiling).
FixState trivy_fix_state(const std::string& status, const std::string& fixed) {
  if (!fixed.empty() || status == "fixed") return FixState::kFixed;
  if (status == "will_not_fix") return FixState::kWontFix;
  if (status == "affected" || status == "fix_deferred" || status == "end_of_life") return FixState::kNotFixed;
  return FixState::kUnknown;  // unknown, under_investigation, not_affected, absent
}

Status parse_vuln(const Json& v, const std::string& p, const std::string& target, VulnFinding& f) {
  RG_RETURN_IF_ERROR(expect_object(v, p));
  RG_ASSIGN_OR_RETURN(f.id, req_string(v, "VulnerabilityID", p));
  RG_ASSIGN_OR_RETURN(f.aliases, opt_string_array(v, "VendorIDs", p));
  RG_ASSIGN_OR_RETURN(f.package, opt_string(v, "PkgName", p));
  RG_ASSIGN_OR_RETURN(const Json* ident, opt_object(v, "PkgIdentifier", p));
  if (ident) { RG_ASSIGN_OR_RETURN(f.purl, opt_string(*ident, "PURL", join_path(p, "PkgIdentifier"))); }
  RG_ASSIGN_OR_RETURN(f.installed_version, opt_string(v, "InstalledVersion", p));
  RG_ASSIGN_OR_RETURN(f.fixed_version, opt_string(v, "FixedVersion", p));
  RG_ASSIGN_OR_RETURN(std::string severity, opt_string(v, "Severity", p));
  f.severity = severity_from_scanner(severity);
  RG_ASSIGN_OR_RETURN(f.status, opt_string(v, "Status", p));
  f.fix_state = trivy_fix_state(f.status, f.fixed_version);
  f.suppressed_by_scanner = f.status == "not_affected";
  f.target = target;
  return Status::ok();
}

}  // namespace

bool looks_like_trivy(const Json& j) {
  return j.is_object() && j.contains("SchemaVersion") && (j.contains("Results") || j.contains("ArtifactName"));
}

Status parse_trivy(const Json& j, const std::string& path, ScanReport& out) {
  RG_RETURN_IF_ERROR(expect_object(j, path));
  out.format = "trivy";
  out.scanner = "trivy";
  const Json* schema = member(j, "SchemaVersion");
  if (!schema) return Status(Code::kInvalidArgument, join_path(path, "SchemaVersion") + ": required");
  if (!schema->is_number_integer()) return type_error(join_path(path, "SchemaVersion"), "an integer", *schema);
  if (schema->get<int64_t>() != 2) {
    return Status(Code::kInvalidArgument, join_path(path, "SchemaVersion") + ": " + std::to_string(schema->get<int64_t>()) +
                                              " is not supported (expected 2: trivy 0.20 or later)");
  }
  RG_ASSIGN_OR_RETURN(const Json* trivy, opt_object(j, "Trivy", path));
  if (trivy) { RG_ASSIGN_OR_RETURN(out.scanner_version, opt_string(*trivy, "Version", join_path(path, "Trivy"))); }

  // CreatedAt: RFC 3339 now, a unix integer in old reports.
  if (const Json* created = member(j, "CreatedAt")) {
    if (created->is_number_integer()) {
      // 1970 to 9999 (what RFC 3339 can write): anything else would overflow the age arithmetic.
      if (created->is_number_unsigned() ? created->get<uint64_t>() > 253402300799ull : created->get<int64_t>() < 0) {
        return Status(Code::kInvalidArgument, join_path(path, "CreatedAt") + ": " + created->dump() + " is not a time between 1970 and 9999");
      }
      out.finished_s = created->get<int64_t>();
      out.finished = format_rfc3339(*out.finished_s);
    } else if (created->is_string()) {
      out.finished = created->get<std::string>();
      out.finished_s = parse_rfc3339(out.finished);
      if (!out.finished_s) {
        return Status(Code::kInvalidArgument, join_path(path, "CreatedAt") + ": \"" + out.finished + "\" is not an RFC 3339 time");
      }
    } else {
      return type_error(join_path(path, "CreatedAt"), "a string (RFC 3339)", *created);
    }
  }

  RG_ASSIGN_OR_RETURN(const Json* meta, opt_object(j, "Metadata", path));
  if (meta) {
    std::string mp = join_path(path, "Metadata");
    RG_ASSIGN_OR_RETURN(std::vector<std::string> repo_digests, opt_string_array(*meta, "RepoDigests", mp));
    for (const auto& rd : repo_digests) {
      size_t at = rd.rfind('@');
      std::string d = normalise_digest(at == std::string::npos ? std::string_view(rd) : std::string_view(rd).substr(at + 1));
      if (!d.empty()) out.image_digests.push_back(d);
    }
    RG_ASSIGN_OR_RETURN(std::string image_id, opt_string(*meta, "ImageID", mp));
    std::string d = normalise_digest(image_id);
    if (!d.empty()) out.image_digests.push_back(d);
  }

  RG_ASSIGN_OR_RETURN(const Json* results, opt_array(j, "Results", path));
  if (!results) return Status::ok();
  std::string rp = join_path(path, "Results");
  size_t total = 0;
  for (size_t i = 0; i < results->size(); ++i) {
    const Json& r = (*results)[i];
    std::string p = index_path(rp, i);
    RG_RETURN_IF_ERROR(expect_object(r, p));
    RG_ASSIGN_OR_RETURN(const Json* vulns, opt_array(r, "Vulnerabilities", p));
    if (!vulns) continue;
    total += vulns->size();
    RG_RETURN_IF_ERROR(check_finding_count(total, path));
    RG_ASSIGN_OR_RETURN(std::string target, opt_string(r, "Target", p));
    std::string vp = join_path(p, "Vulnerabilities");
    out.findings.reserve(total);
    for (size_t k = 0; k < vulns->size(); ++k) {
      VulnFinding f;
      RG_RETURN_IF_ERROR(parse_vuln((*vulns)[k], index_path(vp, k), target, f));
      out.findings.push_back(std::move(f));
    }
  }
  return Status::ok();
}

}  // namespace runguard::attest::detail
