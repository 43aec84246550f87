// The top-level `attestation:` section (docs/attestation.md), read and checked whole at load time:
//
//   attestation:
//     action: enforce | audit | off          (default enforce)
//     keys: [/abs/key.pub, ...]              (none: the gate is off, nothing could be trusted)
//     threshold: N                           (1..len(keys); distinct trusted keys that must sign)
//     maxAge: 168h                           (scan finish -> now; ms|s|m|h|d, 1m..8760h)
//     maxSeverity: { fixable: MEDIUM, unfixable: HIGH, unknownAs: HIGH }   (case-insensitive)
//     exceptions: [ { id, until: YYYY-MM-DD, images: [globs], reason } ]    (id and reason required)
//     vex: [/abs/file-or-dir, ...]
//     store: /abs/dir
//     requireFor: { images: [globs], sandboxes: false }
//     digestAnnotation: runguard.dev/image-digest
//
// Files (keys, VEX) are not read here: the policy core reads no files but seccomp profiles, and
// the gate loads them (attest::GateSetup::load) where they are used.
#include "attestation_loader.h"

#include <algorithm>

#include "runguard/common/event_time.h"
#include "runguard/common/strings.h"

namespace runguard::policy::internal {
namespace {

constexpr size_t kMaxKeys = 64;
constexpr size_t kMaxExceptions = 4096;
constexpr size_t kMaxGlobs = 256;
constexpr int64_t kMinMaxAgeMs = 60LL * 1000;                 // 1m
constexpr int64_t kMaxMaxAgeMs = 8760LL * 3600 * 1000;        // 365 days

const std::vector<std::string>& severity_names() {
  static const std::vector<std::string> k = {"NONE", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
  return k;
}

Result<VulnSeverity> severity(const YamlReader& r, const YAML::Node& n, const std::string& key) {
  RG_ASSIGN_OR_RETURN(std::string v, r.scalar(n, key));
  std::string up = to_upper(v);
  const auto& names = severity_names();
  auto it = std::find(names.begin(), names.end(), up);
  if (it == names.end()) {
    return r.error(n, key, "\"" + v + "\" is not a severity (one of " + join(names, ", ") + ")" + did_you_mean(up, names));
  }
  return static_cast<VulnSeverity>(it - names.begin());  // the enum's first six, in this order
}

// "168h", "30m", and "7d" (days: how a fleet writes a scan's shelf life).
Result<int64_t> max_age(const YamlReader& r, const YAML::Node& n, const std::string& key) {
  RG_ASSIGN_OR_RETURN(std::string v, r.scalar(n, key));
  int64_t ms = 0;
  if (v.size() > 1 && v.back() == 'd' && v.size() <= 6 && std::all_of(v.begin(), v.end() - 1, ::isdigit)) {
    ms = std::stoll(v.substr(0, v.size() - 1)) * 86400LL * 1000;
  } else {
    auto d = parse_duration_ms(v);
    if (!d.is_ok()) return r.error(n, key, d.status().message() + " (or d for days)");
    ms = *d;
  }
  if (ms < kMinMaxAgeMs || ms > kMaxMaxAgeMs) return r.error(n, key, "\"" + v + "\" must be between 1m and 8760h (365d)");
  return ms;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// YYYY-MM-DD -> the last second of that day, UTC.
Result<int64_t> end_of_day(const YamlReader& r, const YAML::Node& n, const std::string& key, const std::string& v) {
  auto bad = [&] { return r.error(n, key, "\"" + v + "\" is not a date (YYYY-MM-DD, e.g. 2027-01-31)"); };
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return bad();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return bad();
  }
  int64_t y = std::stoll(v.substr(0, 4));
  unsigned m = static_cast<unsigned>(std::stoul(v.substr(5, 2)));
  unsigned d = static_cast<unsigned>(std::stoul(v.substr(8, 2)));
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || d < 1) return bad();
  unsigned last = kDays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
  if (d > last) return bad();
  return days_from_civil(y, m, d) * 86400 + 86399;
}

Result<std::vector<std::string>> globs(const YamlReader& r, const YAML::Node& n, const std::string& key, bool allow_empty) {
  if (!n.IsSequence()) return r.error(n, key, "expected a list of image globs (\"registry.example/app/*\")");
  if (!allow_empty && n.size() == 0) return r.error(n, key, "expected a non-empty list of image globs (leave it out for every image)");
  if (n.size() > kMaxGlobs) return r.error(n, key, "more than " + std::to_string(kMaxGlobs) + " globs");
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string k = key + "[" + std::to_string(i) + "]";
    RG_ASSIGN_OR_RETURN(std::string g, r.scalar(n[i], k));
    if (g.empty()) return r.error(n[i], k, "an empty glob matches only an unknown image; use \"*\" for every image");
    out.push_back(g);
  }
  return out;
}

Result<std::vector<std::string>> paths(const YamlReader& r, const YAML::Node& n, const std::string& key, const std::string& what) {
  if (!n.IsSequence()) return r.error(n, key, "expected a list of " + what);
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string k = key + "[" + std::to_string(i) + "]";
    RG_ASSIGN_OR_RETURN(std::string p, r.absolute_path(n[i], k));
    if (std::find(out.begin(), out.end(), p) != out.end()) return r.error(n[i], k, "\"" + p + "\" is listed twice");
    out.push_back(p);
  }
  return out;
}

Status load_keys(const YamlReader& r, const YAML::Node& n, AttestationSettings& s) {
  RG_ASSIGN_OR_RETURN(s.keys, paths(r, n, "attestation.keys", "PEM public key files"));
  if (s.keys.size() > kMaxKeys) return r.error(n, "attestation.keys", "more than " + std::to_string(kMaxKeys) + " keys");
  return Status::ok();
}

Status load_max_severity(const YamlReader& r, const YAML::Node& n, AttestationSettings& s) {
  const std::string key = "attestation.maxSeverity";
  RG_RETURN_IF_ERROR(r.check_keys(n, key, {"fixable", "unfixable", "unknownAs"}));
  if (auto v = n["fixable"]) { RG_ASSIGN_OR_RETURN(s.max_fixable, severity(r, v, key + ".fixable")); }
  if (auto v = n["unfixable"]) { RG_ASSIGN_OR_RETURN(s.max_unfixable, severity(r, v, key + ".unfixable")); }
  if (auto v = n["unknownAs"]) { RG_ASSIGN_OR_RETURN(s.unknown_as, severity(r, v, key + ".unknownAs")); }
  return Status::ok();
}

Status load_exceptions(const YamlReader& r, const YAML::Node& n, AttestationSettings& s) {
  if (!n.IsSequence()) return r.error(n, "attestation.exceptions", "expected a list of { id, until, images, reason }");
  if (n.size() > kMaxExceptions) return r.error(n, "attestation.exceptions", "more than " + std::to_string(kMaxExceptions) + " exceptions");
  for (size_t i = 0; i < n.size(); ++i) {
    std::string key = "attestation.exceptions[" + std::to_string(i) + "]";
    const YAML::Node& e = n[i];
    RG_RETURN_IF_ERROR(r.check_keys(e, key, {"id", "until", "images", "reason"}));
    AttestationException x;
    if (!e["id"]) return r.error(e, key + ".id", "is required (the vulnerability id, e.g. CVE-2023-1234)");
    RG_ASSIGN_OR_RETURN(x.id, r.scalar(e["id"], key + ".id"));
    if (x.id.empty() || x.id.find_first_of(" \t\r\n*?[") != std::string::npos) {
      return r.error(e["id"], key + ".id", "\"" + x.id + "\" is not a vulnerability id (CVE-2023-1234, GHSA-xxxx-xxxx-xxxx)");
    }
    if (auto u = e["until"]) {
      RG_ASSIGN_OR_RETURN(x.until, r.scalar(u, key + ".until"));
      RG_ASSIGN_OR_RETURN(int64_t until_s, end_of_day(r, u, key + ".until", x.until));
      x.until_s = until_s;
    }
    if (auto g = e["images"]) { RG_ASSIGN_OR_RETURN(x.images, globs(r, g, key + ".images", false)); }
    if (!e["reason"]) return r.error(e, key + ".reason", "is required: say why the risk is accepted (auditors read it in every verdict)");
    RG_ASSIGN_OR_RETURN(x.reason, r.scalar(e["reason"], key + ".reason"));
    if (x.reason.find_first_not_of(" \t\r\n") == std::string::npos) {
      return r.error(e["reason"], key + ".reason", "is empty: say why the risk is accepted");
    }
    s.exceptions.push_back(std::move(x));
  }
  return Status::ok();
}

Status load_require_for(const YamlReader& r, const YAML::Node& n, AttestationSettings& s) {
  const std::string key = "attestation.requireFor";
  RG_RETURN_IF_ERROR(r.check_keys(n, key, {"images", "sandboxes"}));
  if (auto g = n["images"]) { RG_ASSIGN_OR_RETURN(s.require_images, globs(r, g, key + ".images", true)); }
  if (auto b = n["sandboxes"]) { RG_ASSIGN_OR_RETURN(s.require_sandboxes, r.boolean(b, key + ".sandboxes")); }
  return Status::ok();
}

}  // namespace

Status load_attestation(const YamlReader& r, const YAML::Node& n, AttestationSettings& s) {
  s.present = true;
  if (n.IsNull()) return Status::ok();
  RG_RETURN_IF_ERROR(r.check_keys(n, "attestation", {"action", "keys", "threshold", "maxAge", "maxSeverity", "exceptions",
                                                     "vex", "store", "requireFor", "digestAnnotation"}));
  if (auto v = n["action"]) {
    RG_ASSIGN_OR_RETURN(std::string a, r.one_of(v, "attestation.action", {"enforce", "audit", "off"}));
    s.action = a == "off" ? AttestationSettings::GateAction::kOff
               : a == "audit" ? AttestationSettings::GateAction::kAudit
                              : AttestationSettings::GateAction::kEnforce;
  }
  if (auto v = n["keys"]) RG_RETURN_IF_ERROR(load_keys(r, v, s));
  if (auto v = n["threshold"]) {
    RG_ASSIGN_OR_RETURN(s.threshold, r.integer(v, "attestation.threshold", 1, static_cast<int64_t>(kMaxKeys)));
    if (!s.keys.empty() && s.threshold > static_cast<int64_t>(s.keys.size())) {
      return r.error(v, "attestation.threshold", std::to_string(s.threshold) + " is more than the " + std::to_string(s.keys.size()) +
                                                     " key(s) in attestation.keys: no attestation could ever pass");
    }
  }
  if (auto v = n["maxAge"]) { RG_ASSIGN_OR_RETURN(s.max_age_ms, max_age(r, v, "attestation.maxAge")); }
  if (auto v = n["maxSeverity"]) RG_RETURN_IF_ERROR(load_max_severity(r, v, s));
  if (auto v = n["exceptions"]) RG_RETURN_IF_ERROR(load_exceptions(r, v, s));
  if (auto v = n["vex"]) { RG_ASSIGN_OR_RETURN(s.vex, paths(r, v, "attestation.vex", "OpenVEX files or directories")); }
  if (auto v = n["store"]) {
    RG_ASSIGN_OR_RETURN(s.store, r.absolute_path(v, "attestation.store"));
    while (s.store.size() > 1 && s.store.back() == '/') s.store.pop_back();
  }
  if (auto v = n["requireFor"]) RG_RETURN_IF_ERROR(load_require_for(r, v, s));
  if (auto v = n["digestAnnotation"]) {
    RG_ASSIGN_OR_RETURN(s.digest_annotation, r.scalar(v, "attestation.digestAnnotation"));
    if (s.digest_annotation.empty() || s.digest_annotation.size() > 253 ||
        s.digest_annotation.find_first_of(" \t\r\n=") != std::string::npos) {
      return r.error(v, "attestation.digestAnnotation", "\"" + s.digest_annotation + "\" is not an annotation key (e.g. runguard.dev/image-digest)");
    }
  }
  return Status::ok();
}

}  // namespace runguard::policy::internal

namespace runguard::policy {

const char* vuln_severity_name(VulnSeverity s) {
  switch (s) {
    case VulnSeverity::kNone: return "NONE";
    case VulnSeverity::kNegligible: return "NEGLIGIBLE";
    case VulnSeverity::kLow: return "LOW";
    case VulnSeverity::kMedium: return "MEDIUM";
    case VulnSeverity::kHigh: return "HIGH";
    case VulnSeverity::kCritical: return "CRITICAL";
    case VulnSeverity::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

}  // namespace runguard::policy
