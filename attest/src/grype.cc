// Grype JSON reports (reference/attestations.md §6) -> findings. ignoredMatches are the scanner's
// own suppressions and are not findings.
#include <string>

#include "json_read.h"
#include "report_internal.h"
#include "runguard/attest/report.h"
#include "runguard/common/strings.h"

namespace runguard::attest::detail {

namespace {

FixState grype_fix_state(const std::string& state, bool has_versions) {
  if (state == "fixed") return FixState::kFixed;
  if (state == "not-fixed") return FixState::kNotFixed;
  if (state == "wont-fix") return FixState::kWontFix;
  // "unknown", or "" as older grype writes it: a listed fixed version still means a fix exists.
  return has_versions ? FixState::kFixed : FixState::kUnknown;
}

Status parse_match(const Json& m, const std::string& p, VulnFinding& f) {
  RG_RETURN_IF_ERROR(expect_object(m, p));
  RG_ASSIGN_OR_RETURN(const Json* vuln, opt_object(m, "vulnerability", p));
  if (!vuln) return Status(Code::kInvalidArgument, join_path(p, "vulnerability") + ": required");
  std::string vp = join_path(p, "vulnerability");
  RG_ASSIGN_OR_RETURN(f.id, req_string(*vuln, "id", vp));
  RG_ASSIGN_OR_RETURN(std::string severity, opt_string(*vuln, "severity", vp));
  f.severity = severity_from_scanner(severity);  // absent (a real grype 0.96 report has one) -> UNKNOWN
  RG_ASSIGN_OR_RETURN(const Json* fix, opt_object(*vuln, "fix", vp));
  std::vector<std::string> versions;
  if (fix) {
    std::string fp = join_path(vp, "fix");
    RG_ASSIGN_OR_RETURN(f.status, opt_string(*fix, "state", fp));
    RG_ASSIGN_OR_RETURN(versions, opt_string_array(*fix, "versions", fp));
  }
  f.fixed_version = join(versions, ", ");
  f.fix_state = grype_fix_state(f.status, !versions.empty());

  RG_ASSIGN_OR_RETURN(const Json* related, opt_array(m, "relatedVulnerabilities", p));
  if (related) {
    std::string rp = join_path(p, "relatedVulnerabilities");
    for (size_t i = 0; i < related->size(); ++i) {
      const Json& r = (*related)[i];
      RG_RETURN_IF_ERROR(expect_object(r, index_path(rp, i)));
      RG_ASSIGN_OR_RETURN(std::string id, opt_string(r, "id", index_path(rp, i)));
      if (!id.empty() && id != f.id) f.aliases.push_back(std::move(id));
    }
  }

  RG_ASSIGN_OR_RETURN(const Json* artifact, opt_object(m, "artifact", p));
  if (artifact) {
    std::string ap = join_path(p, "artifact");
    RG_ASSIGN_OR_RETURN(f.package, opt_string(*artifact, "name", ap));
    RG_ASSIGN_OR_RETURN(f.installed_version, opt_string(*artifact, "version", ap));
    RG_ASSIGN_OR_RETURN(f.purl, opt_string(*artifact, "purl", ap));
    RG_ASSIGN_OR_RETURN(const Json* locations, opt_array(*artifact, "locations", ap));
    if (locations && !locations->empty()) {
      const Json& l0 = (*locations)[0];
      std::string lp = index_path(join_path(ap, "locations"), 0);
      RG_RETURN_IF_ERROR(expect_object(l0, lp));
      RG_ASSIGN_OR_RETURN(f.target, opt_string(l0, "path", lp));
    }
  }
  return Status::ok();
}

Status parse_source(const Json& j, const std::string& path, ScanReport& out) {
  RG_ASSIGN_OR_RETURN(const Json* source, opt_object(j, "source", path));
  if (!source) return Status::ok();
  std::string sp = join_path(path, "source");
  const Json* target = member(*source, "target");
  if (!target || !target->is_object()) return Status::ok();  // a directory or file scan names a path
  std::string tp = join_path(sp, "target");
  RG_ASSIGN_OR_RETURN(std::string manifest, opt_string(*target, "manifestDigest", tp));
  if (std::string d = normalise_digest(manifest); !d.empty()) out.image_digests.push_back(d);
  RG_ASSIGN_OR_RETURN(std::vector<std::string> repo_digests, opt_string_array(*target, "repoDigests", tp));
  for (const auto& rd : repo_digests) {
    size_t at = rd.rfind('@');
    if (at == std::string::npos) continue;
    if (std::string d = normalise_digest(std::string_view(rd).substr(at + 1)); !d.empty()) out.image_digests.push_back(d);
  }
  RG_ASSIGN_OR_RETURN(std::string image_id, opt_string(*target, "imageID", tp));
  if (std::string d = normalise_digest(image_id); !d.empty()) out.image_digests.push_back(d);
  return Status::ok();
}

}  // namespace

bool looks_like_grype(const Json& j) {
  return j.is_object() && j.contains("matches") && (j.contains("descriptor") || j.contains("source"));
}

Status parse_grype(const Json& j, const std::string& path, ScanReport& out) {
  RG_RETURN_IF_ERROR(expect_object(j, path));
  out.format = "grype";
  out.scanner = "grype";
  RG_ASSIGN_OR_RETURN(const Json* descriptor, opt_object(j, "descriptor", path));
  if (descriptor) {
    std::string dp = join_path(path, "descriptor");
    RG_ASSIGN_OR_RETURN(std::string name, opt_string(*descriptor, "name", dp));
    if (!name.empty()) out.scanner = name;
    RG_ASSIGN_OR_RETURN(out.scanner_version, opt_string(*descriptor, "version", dp));
    RG_ASSIGN_OR_RETURN(std::string ts, opt_string(*descriptor, "timestamp", dp));
    if (!ts.empty()) {
      out.finished = ts;
      out.finished_s = parse_rfc3339(ts);
      if (!out.finished_s) return Status(Code::kInvalidArgument, join_path(dp, "timestamp") + ": \"" + ts + "\" is not an RFC 3339 time");
    }
  }
  RG_RETURN_IF_ERROR(parse_source(j, path, out));
  RG_ASSIGN_OR_RETURN(const Json* matches, opt_array(j, "matches", path));
  if (!matches) return Status::ok();
  RG_RETURN_IF_ERROR(check_finding_count(matches->size(), path));
  std::string mp = join_path(path, "matches");
  out.findings.reserve(matches->size());
  for (size_t i = 0; i < matches->size(); ++i) {
    VulnFinding f;
    RG_RETURN_IF_ERROR(parse_match((*matches)[i], index_path(mp, i), f));
    out.findings.push_back(std::move(f));
  }
  return Status::ok();
}

}  // namespace runguard::attest::detail
