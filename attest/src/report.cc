// Scan reports: the predicate envelopes (cosign vuln/v1, in-toto vulns v0.1/v0.2), bare-report
// dispatch, RFC 3339 times and severity names. Trivy and Grype bodies are in trivy.cc / grype.cc.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "fast_json.h"
#include "json_read.h"
#include "report_internal.h"
#include "runguard/common/event_time.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/report.h"
#include "runguard/common/strings.h"

namespace runguard::attest {

using detail::join_path;

const char* fix_state_name(FixState s) {
  switch (s) {
    case FixState::kFixed: return "fixed";
    case FixState::kNotFixed: return "not-fixed";
    case FixState::kWontFix: return "wont-fix";
    case FixState::kUnknown: return "unknown";
  }
  return "unknown";
}

namespace detail {

const char* severity_name(VulnSeverity s) { return policy::vuln_severity_name(s); }

Status check_finding_count(size_t n, const std::string& path) {
  if (n > kMaxFindings) {
    return Status(Code::kInvalidArgument, (path.empty() ? std::string("report") : path) + ": more than " +
                                              std::to_string(kMaxFindings) +
                                              " findings, the limit (refused rather than truncated: a truncated report could pass)");
  }
  return Status::ok();
}

std::string normalise_digest(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return "";
  std::string alg = to_lower(text.substr(0, colon));
  std::string hex = to_lower(text.substr(colon + 1));
  for (char c : alg) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return "";
  }
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
  }
  return alg + ":" + hex;
}

std::string format_rfc3339(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  // civil_from_days (Howard Hinnant).
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

}  // namespace detail

namespace {

bool parse_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// CVSS score -> band, as in-toto vulns v0.2 and NVD use it.
VulnSeverity severity_from_score(double score) {
  if (score <= 0.0) return VulnSeverity::kNegligible;
  if (score < 4.0) return VulnSeverity::kLow;
  if (score < 7.0) return VulnSeverity::kMedium;
  if (score < 9.0) return VulnSeverity::kHigh;
  return VulnSeverity::kCritical;
}

// Higher of two severities for fail-closed merging (kUnknown only when nothing better is known).
VulnSeverity higher(VulnSeverity a, VulnSeverity b) {
  if (a == VulnSeverity::kUnknown) return b;
  if (b == VulnSeverity::kUnknown) return a;
  return std::max(a, b);
}

Result<std::optional<int64_t>> time_field(const Json& obj, std::string_view key, const std::string& path, bool required,
                                          std::string* written) {
  RG_ASSIGN_OR_RETURN(std::string text, detail::opt_string(obj, key, path));
  if (text.empty()) {
    if (required) return Status(Code::kInvalidArgument, join_path(path, key) + ": required (RFC 3339 time)");
    return std::optional<int64_t>();
  }
  auto t = parse_rfc3339(text);
  if (!t) return Status(Code::kInvalidArgument, join_path(path, key) + ": \"" + text + "\" is not an RFC 3339 time");
  if (written) *written = text;
  return t;
}

// The body of an in-toto vulns result entry's severity: [{method, score}] (score a CVSS number, a
// numeric string, or a band name).
Result<VulnSeverity> intoto_severity(const Json& entry, const std::string& path) {
  VulnSeverity sev = VulnSeverity::kUnknown;
  RG_ASSIGN_OR_RETURN(const Json* list, detail::opt_array(entry, "severity", path));
  if (!list) return sev;
  std::string lp = join_path(path, "severity");
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& s = (*list)[i];
    std::string sp = detail::index_path(lp, i);
    RG_RETURN_IF_ERROR(detail::expect_object(s, sp));
    const Json* score = detail::member(s, "score");
    if (!score) continue;
    if (score->is_number()) {
      sev = higher(sev, severity_from_score(score->get<double>()));
    } else if (score->is_string()) {
      std::string text = score->get<std::string>();
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (!text.empty() && end && *end == '\0') {
        sev = higher(sev, severity_from_score(v));
      } else {
        sev = higher(sev, severity_from_scanner(text));
      }
    } else {
      return detail::type_error(join_path(sp, "score"), "a number or a string", *score);
    }
  }
  return sev;
}

Status parse_intoto_vulns(const Json& pred, ScanReport& out) {
  RG_RETURN_IF_ERROR(detail::expect_object(pred, "predicate"));
  RG_ASSIGN_OR_RETURN(const Json* scanner, detail::opt_object(pred, "scanner", ""));
  if (!scanner) return Status(Code::kInvalidArgument, "scanner: required");
  RG_ASSIGN_OR_RETURN(out.scanner, detail::req_string(*scanner, "uri", "scanner"));
  RG_ASSIGN_OR_RETURN(out.scanner_version, detail::opt_string(*scanner, "version", "scanner"));
  RG_ASSIGN_OR_RETURN(const Json* result, detail::opt_array(*scanner, "result", "scanner"));
  if (result) {
    RG_RETURN_IF_ERROR(detail::check_finding_count(result->size(), "scanner.result"));
    out.findings.reserve(result->size());
    for (size_t i = 0; i < result->size(); ++i) {
      const Json& e = (*result)[i];
      std::string p = detail::index_path("scanner.result", i);
      RG_RETURN_IF_ERROR(detail::expect_object(e, p));
      VulnFinding f;
      RG_ASSIGN_OR_RETURN(f.id, detail::req_string(e, "id", p));
      RG_ASSIGN_OR_RETURN(f.severity, intoto_severity(e, p));
      f.fix_state = FixState::kUnknown;  // the predicate does not say: judged against the unfixable ceiling
      out.findings.push_back(std::move(f));
    }
  }
  RG_ASSIGN_OR_RETURN(const Json* meta, detail::opt_object(pred, "metadata", ""));
  if (!meta) return Status(Code::kInvalidArgument, "metadata: required (metadata.scanFinishedOn)");
  RG_ASSIGN_OR_RETURN(out.finished_s, time_field(*meta, "scanFinishedOn", "metadata", true, &out.finished));
  return Status::ok();
}

Status parse_cosign_vuln(const Json& pred, ScanReport& out) {
  RG_RETURN_IF_ERROR(detail::expect_object(pred, "predicate"));
  RG_ASSIGN_OR_RETURN(const Json* scanner, detail::opt_object(pred, "scanner", ""));
  out.has_result = false;
  std::string uri, version;
  if (scanner) {
    RG_ASSIGN_OR_RETURN(uri, detail::opt_string(*scanner, "uri", "scanner"));
    RG_ASSIGN_OR_RETURN(version, detail::opt_string(*scanner, "version", "scanner"));
    const Json* result = detail::member(*scanner, "result");
    out.has_result = result != nullptr && !result->is_null();
    if (result && !result->is_null()) {
      if (!result->is_object()) return detail::type_error("scanner.result", "an object (a Trivy or Grype report) or null", *result);
      if (detail::looks_like_trivy(*result)) {
        RG_RETURN_IF_ERROR(detail::parse_trivy(*result, "scanner.result", out));
      } else if (detail::looks_like_grype(*result)) {
        RG_RETURN_IF_ERROR(detail::parse_grype(*result, "scanner.result", out));
      } else {
        return Status(Code::kInvalidArgument,
                      "scanner.result: neither a Trivy report (SchemaVersion, Results) nor a Grype report (matches, descriptor)");
      }
    }
  }
  if (out.format.empty()) {
    std::string lower = to_lower(uri);
    out.format = lower.find("grype") != std::string::npos ? "grype" : lower.find("trivy") != std::string::npos ? "trivy" : "";
  }
  if (!uri.empty()) out.scanner = uri;
  if (!version.empty()) out.scanner_version = version;
  // The predicate's scanFinishedOn (cosign's spec requires it) — unless the embedded report says
  // it was made earlier: wrapping an old report in a new predicate must not make it fresh.
  RG_ASSIGN_OR_RETURN(const Json* meta, detail::opt_object(pred, "metadata", ""));
  if (!meta) return Status(Code::kInvalidArgument, "metadata: required (metadata.scanFinishedOn)");
  std::optional<int64_t> report_s = out.finished_s;
  std::string report_text = out.finished;
  out.finished.clear();
  RG_ASSIGN_OR_RETURN(out.finished_s, time_field(*meta, "scanFinishedOn", "metadata", true, &out.finished));
  if (report_s && out.finished_s && *report_s < *out.finished_s) {
    out.finished_s = report_s;
    out.finished = report_text;
  }
  return Status::ok();
}

}  // namespace

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)
  int y, mo, d, h, mi, se;
  if (s.size() < 20) return std::nullopt;
  if (!parse_digits(s, 0, 4, y) || s[4] != '-' || !parse_digits(s, 5, 2, mo) || s[7] != '-' || !parse_digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  if (!parse_digits(s, 11, 2, h) || s[13] != ':' || !parse_digits(s, 14, 2, mi) || s[16] != ':' || !parse_digits(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59) return std::nullopt;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!parse_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !parse_digits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se - offset;
}

VulnSeverity severity_from_scanner(std::string_view s) {
  std::string u = to_upper(s);
  if (u == "CRITICAL") return VulnSeverity::kCritical;
  if (u == "HIGH") return VulnSeverity::kHigh;
  if (u == "MEDIUM" || u == "MODERATE") return VulnSeverity::kMedium;
  if (u == "LOW") return VulnSeverity::kLow;
  if (u == "NEGLIGIBLE") return VulnSeverity::kNegligible;
  return VulnSeverity::kUnknown;
}

Result<ScanReport> report_from_json(const Json& j, const std::string& source) {
  ScanReport r;
  r.envelope = "bare";
  Status st;
  if (!j.is_object()) {
    st = Status(Code::kInvalidArgument, std::string("expected a Trivy or Grype report (a JSON object), got ") + json_type_name(j));
  } else if (detail::looks_like_trivy(j)) {
    st = detail::parse_trivy(j, "", r);
  } else if (detail::looks_like_grype(j)) {
    st = detail::parse_grype(j, "", r);
  } else {
    st = Status(Code::kInvalidArgument,
                "not a Trivy report (SchemaVersion with Results or ArtifactName) or a Grype report (matches with descriptor or source)");
  }
  if (!st.is_ok()) return std::move(st).with_context(source);
  return r;
}

Result<ScanReport> report_from_statement(const Statement& s, const std::string& source) {
  ScanReport r;
  Status st;
  if (s.predicate_type == kCosignVulnPredicate) {
    r.envelope = "cosign-vuln/v1";
    st = parse_cosign_vuln(s.predicate, r);
  } else if (s.predicate_type == kInTotoVulnsV01 || s.predicate_type == kInTotoVulnsV02) {
    r.format = "in-toto-vulns";
    r.envelope = s.predicate_type == kInTotoVulnsV01 ? "in-toto-vulns/v0.1" : "in-toto-vulns/v0.2";
    st = parse_intoto_vulns(s.predicate, r);
  } else {
    return Status(Code::kInvalidArgument, source + ": unsupported predicateType \"" + s.predicate_type + "\", expected one of " +
                                              std::string(kCosignVulnPredicate) + ", " + std::string(kInTotoVulnsV01) + ", " +
                                              std::string(kInTotoVulnsV02));
  }
  if (!st.is_ok()) return std::move(st).with_context(source + ": predicate");
  return r;
}

Result<ScanReport> report_from_payload(std::string_view payload_type, std::string_view payload, const std::string& source,
                                       std::optional<Statement>* statement) {
  // Values no reader uses (descriptions, references, CVSS tables) are skipped, not built.
  RG_ASSIGN_OR_RETURN(Json j, internal::parse_json_fast(payload, source + ": payload", &internal::report_prune_set()));
  if (is_in_toto_payload_type(payload_type)) {
    // The predicate (the whole report, megabytes of DOM) is moved in, not copied by parse_statement.
    Json predicate;
    if (j.is_object()) {
      if (auto it = j.find("predicate"); it != j.end()) {
        predicate = std::move(*it);
        *it = Json::object();
      }
    }
    RG_ASSIGN_OR_RETURN(Statement s, parse_statement(j, source));
    s.predicate = std::move(predicate);
    RG_ASSIGN_OR_RETURN(ScanReport r, report_from_statement(s, source));
    if (statement) *statement = std::move(s);
    return r;
  }
  if (statement) statement->reset();
  return report_from_json(j, source);
}

Json finding_to_json(const VulnFinding& f) {
  return {{"id", f.id},
          {"aliases", f.aliases},
          {"package", f.package},
          {"purl", f.purl},
          {"installed", f.installed_version},
          {"fixed", f.fixed_version},
          {"severity", detail::severity_name(f.severity)},
          {"fixState", fix_state_name(f.fix_state)},
          {"status", f.status},
          {"target", f.target}};
}

}  // namespace runguard::attest
