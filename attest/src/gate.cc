// The gate for one attestation document (gate.h): verify -> bind -> age -> findings -> verdict.
//
// GateResult::verified means "signed by enough trusted keys *for this image*": a document that is
// correctly signed for another image is not verified here (check_store never lets it decide).
#include <algorithm>
#include <climits>
#include <set>

#include "gate_internal.h"
#include "report_internal.h"
#include "runguard/attest/gate.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/report.h"
#include "runguard/common/strings.h"

namespace runguard::attest {

using policy::AttestationSettings;

namespace {

constexpr int64_t kClockSkewS = 300;          // a scan up to 5 minutes "in the future" is clock skew
constexpr size_t kListedFindings = 20;        // per list in the detail JSON
constexpr size_t kSummarisedFindings = 5;     // in the one-line reason
constexpr int64_t kMaxResultLifetimeS = 86400;  // a result nothing times out (a bad signature) is still recomputed daily

VulnSeverity effective(VulnSeverity s, const AttestationSettings& st) { return s == VulnSeverity::kUnknown ? st.unknown_as : s; }

bool exception_covers(const policy::AttestationException& e, const VulnFinding& f, const ImageRef& image) {
  bool id = e.id == f.id || std::find(f.aliases.begin(), f.aliases.end(), e.id) != f.aliases.end();
  if (!id) return false;
  if (e.images.empty()) return true;
  return std::any_of(e.images.begin(), e.images.end(), [&](const std::string& g) { return glob_match(g, image.name); });
}

struct Judged {
  const VulnFinding* f;
  VulnSeverity rank;
  std::string note;  // "rule" for blocking, "by" for suppressed
};

void sort_judged(std::vector<Judged>& v) {
  std::sort(v.begin(), v.end(), [](const Judged& a, const Judged& b) {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.f->id < b.f->id;
  });
}

Json judged_list(const std::vector<Judged>& v, const char* key) {
  Json out = Json::array();
  for (size_t i = 0; i < v.size() && i < kListedFindings; ++i) {
    Json j = finding_to_json(*v[i].f);
    j[key] = v[i].note;
    out.push_back(std::move(j));
  }
  return out;
}

std::string describe_blocking(const Judged& b) {
  const VulnFinding& f = *b.f;
  std::string sev = detail::severity_name(f.severity);
  if (f.severity == VulnSeverity::kUnknown) sev += std::string(" as ") + detail::severity_name(b.rank);
  std::string pkg = f.package.empty() ? std::string("?") : f.package;
  if (!f.installed_version.empty()) pkg += " " + f.installed_version;
  if (f.fixable()) return f.id + " (" + sev + ", fixable: " + pkg + (f.fixed_version.empty() ? "" : " -> " + f.fixed_version) + ")";
  return f.id + " (" + sev + ", " + fix_state_name(f.fix_state) + ": " + pkg + ")";
}

void fail(Json& detail, const std::string& reason) { detail["reasons"].push_back(reason); }

// Findings: suppressions, ceilings, expired exceptions. Returns the number blocking.
size_t judge_findings(const GateSetup& g, const ScanReport& r, const ImageRef& image, int64_t now_s, Json& d, int64_t& valid_until) {
  const AttestationSettings& s = g.settings;
  std::vector<Judged> blocking, suppressed;
  std::set<size_t> expired;  // exception indexes reported
  for (const VulnFinding& f : r.findings) {
    VulnSeverity rank = effective(f.severity, s);
    if (f.suppressed_by_scanner) {
      suppressed.push_back({&f, rank, "scanner: " + f.status});
      continue;
    }
    const policy::AttestationException* applied = nullptr;
    for (size_t i = 0; i < s.exceptions.size(); ++i) {
      const auto& e = s.exceptions[i];
      if (!exception_covers(e, f, image)) continue;
      if (e.until_s && now_s > *e.until_s) {
        expired.insert(i);
        continue;
      }
      if (!applied) applied = &e;
      if (e.until_s) valid_until = std::min(valid_until, *e.until_s + 1);
    }
    if (applied) {
      suppressed.push_back({&f, rank, "exception " + applied->id + (applied->until.empty() ? "" : " (until " + applied->until + ")")});
      continue;
    }
    if (g.vex) {
      if (auto v = g.vex->suppression(f, image)) {
        suppressed.push_back({&f, rank, "vex " + v->document + ": " + v->status + (v->justification.empty() ? "" : " (" + v->justification + ")")});
        continue;
      }
    }
    VulnSeverity ceiling = f.fixable() ? s.max_fixable : s.max_unfixable;
    if (rank > ceiling) {
      std::string rule = std::string(f.fixable() ? "maxSeverity.fixable: " : "maxSeverity.unfixable: ") + detail::severity_name(ceiling);
      if (f.severity == VulnSeverity::kUnknown) rule += std::string(" (UNKNOWN ranked as ") + detail::severity_name(rank) + ")";
      blocking.push_back({&f, rank, std::move(rule)});
    }
  }
  sort_judged(blocking);
  sort_judged(suppressed);
  d["findings"] = {{"total", r.findings.size()},
                   {"blocking", judged_list(blocking, "rule")},
                   {"suppressed", judged_list(suppressed, "by")},
                   {"blockingCount", blocking.size()},
                   {"suppressedCount", suppressed.size()}};
  if (!blocking.empty()) {
    std::string msg = std::to_string(blocking.size()) + " finding(s) above the severity ceiling: ";
    for (size_t i = 0; i < blocking.size() && i < kSummarisedFindings; ++i) msg += (i ? ", " : "") + describe_blocking(blocking[i]);
    if (blocking.size() > kSummarisedFindings) msg += ", … (" + std::to_string(blocking.size() - kSummarisedFindings) + " more)";
    fail(d, msg);
  }
  for (size_t i : expired) {
    const auto& e = s.exceptions[i];
    d["expiredExceptions"].push_back({{"id", e.id}, {"until", e.until}, {"reason", e.reason}});
  }
  return blocking.size();
}

// Age and freshness; false when the scan time fails the gate.
bool judge_age(const GateSetup& g, const ScanReport& r, int64_t now_s, Json& d, int64_t& valid_until) {
  int64_t max_age_s = g.settings.max_age_ms / 1000;
  if (!r.finished_s) {
    fail(d, "the attestation has no scan time");
    return false;
  }
  int64_t finished = *r.finished_s;
  d["scanFinishedOn"] = r.finished;
  int64_t age = now_s - finished;
  if (age < -kClockSkewS) {
    fail(d, "scan finished in the future (" + r.finished + ")");
    valid_until = std::min(valid_until, finished - kClockSkewS);
    return false;
  }
  age = std::max<int64_t>(age, 0);
  d["age"] = format_duration_s(age);
  d["ageSeconds"] = age;
  if (age > max_age_s) {
    fail(d, "scan finished " + format_duration_s(age) + " ago, older than maxAge " + format_duration_s(max_age_s));
    return false;
  }
  valid_until = std::min(valid_until, finished + max_age_s + 1);
  return true;
}

std::string subjects_of(const std::optional<Statement>& stmt, const ScanReport& r) {
  std::vector<std::string> names;
  if (stmt) {
    for (const auto& s : stmt->subjects) {
      for (const auto& [alg, hex] : s.digest) names.push_back(alg + ":" + hex);
    }
  } else {
    names = r.image_digests;
  }
  return names.empty() ? "none" : join(names, ", ");
}

bool binds(const std::optional<Statement>& stmt, const ScanReport& r, const ImageRef& image) {
  if (image.digest.empty()) return false;
  if (stmt) return statement_covers(*stmt, image.digest);
  std::string want = to_lower(image.digest);
  return std::find(r.image_digests.begin(), r.image_digests.end(), want) != r.image_digests.end();
}

// Drops a leading "<source>: " so a reason can be rebuilt around the verifier's message.
std::string without_source(const std::string& msg, const std::string& source) {
  std::string prefix = source + ": ";
  return msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size()) : msg;
}

// Whether the verified payload is an in-toto statement of a vulnerability predicate about `image`
// (read again only on this error path).
bool signed_scan_for(const VerifiedPayload& vp, const ImageRef& image) {
  if (!is_in_toto_payload_type(vp.payload_type)) return false;
  auto j = parse_json(vp.payload, "payload");
  if (!j.is_ok()) return false;
  auto st = parse_statement(*j, "payload");
  if (!st.is_ok() || !statement_covers(*st, image.digest)) return false;
  return st->predicate_type == kCosignVulnPredicate || st->predicate_type == kInTotoVulnsV01 || st->predicate_type == kInTotoVulnsV02;
}

GateResult finish(Json d, bool verified, bool passed, int64_t valid_until, int64_t now_s) {
  if (valid_until == INT64_MAX) valid_until = now_s + kMaxResultLifetimeS;
  GateResult r;
  r.verified = verified;
  r.passed = passed;
  d["verified"] = verified;
  d["passed"] = passed;
  r.summary = d["reasons"].empty() ? std::string() : d["reasons"][0].get<std::string>();
  // A refusal says when an exception that would have covered a finding has lapsed: that is what
  // the team whose deploy just stopped needs to read first.
  if (!passed) {
    if (auto it = d.find("expiredExceptions"); it != d.end() && it->is_array()) {
      for (const auto& e : *it) {
        r.summary += "; exception " + e.value("id", std::string()) + " expired on " + e.value("until", std::string());
      }
    }
  }
  d["considered"] = Json::array({{{"file", d["attestation"]}, {"verified", verified}, {"reason", r.summary}}});
  r.detail = std::move(d);
  r.valid_until_s = valid_until;
  return r;
}

}  // namespace

namespace detail {

Json base_detail(const GateSetup& g, const ImageRef& image, const std::string& source) {
  return {{"image", image.name},
          {"imageDigest", image.digest},
          {"required", true},
          {"verified", false},
          {"passed", false},
          {"attestation", source},
          {"format", nullptr},
          {"documentDigest", nullptr},
          {"signers", Json::array()},
          {"scanner", nullptr},
          {"scannerVersion", nullptr},
          {"scanFinishedOn", nullptr},
          {"age", nullptr},
          {"ageSeconds", nullptr},
          {"maxAge", format_duration_s(g.settings.max_age_ms / 1000)},
          {"findings", {{"total", 0}, {"blocking", Json::array()}, {"suppressed", Json::array()}, {"blockingCount", 0}, {"suppressedCount", 0}}},
          {"expiredExceptions", Json::array()},
          {"reasons", Json::array()},
          {"considered", Json::array()}};
}

GateResult evaluate_document(const GateSetup& g, std::string_view bytes, const std::string& document_digest, const ImageRef& image,
                             int64_t now_s, const std::string& source, bool* input_error) {
  Json d = base_detail(g, image, source);
  int64_t valid_until = INT64_MAX;  // lowered by every deadline the result depends on
  if (!document_digest.empty()) d["documentDigest"] = document_digest;
  if (bytes.size() > kMaxAttestationBytes) {
    *input_error = true;
    fail(d, source + ": " + std::to_string(bytes.size()) + " bytes, above the limit of " + std::to_string(kMaxAttestationBytes) + " bytes");
    return finish(std::move(d), false, false, valid_until, now_s);
  }
  if (!g.verifier) {
    fail(d, source + ": no verifier configured (the gate was not loaded)");
    return finish(std::move(d), false, false, valid_until, now_s);
  }
  auto verified = g.verifier->verify(bytes, source, document_digest);
  if (!verified.is_ok()) {
    const Status& st = verified.status();
    std::string msg = st.message();
    if (st.code() == Code::kInvalidArgument) {
      *input_error = true;
      if (msg.find("not a DSSE envelope or sigstore bundle") == std::string::npos && msg.find("above the limit") == std::string::npos &&
          msg.find("keyless") == std::string::npos) {
        msg = source + ": not a DSSE envelope or sigstore bundle: " + without_source(msg, source);
      }
    }
    fail(d, msg);
    return finish(std::move(d), false, false, valid_until, now_s);
  }
  const VerifiedPayload& vp = *verified;
  d["format"] = vp.format;
  d["documentDigest"] = vp.document_digest;
  for (const auto& s : vp.signers) d["signers"].push_back({{"id", s.id}, {"source", s.source}, {"type", s.type}});

  std::optional<Statement> stmt;
  auto report = report_from_payload(vp.payload_type, vp.payload, source, &stmt);
  if (!report.is_ok()) {
    *input_error = report.status().code() == Code::kInvalidArgument;
    fail(d, report.status().message());  // names the file; "unsupported predicateType \"…\"" among them
    // A scan signed for this image that cannot be read (a new schema, too many findings, a bad
    // time) decides as a failure: skipping it would let an older passing scan decide instead.
    // Other predicate types (an SBOM, provenance) in the directory stay ignored.
    bool decisive = signed_scan_for(vp, image);
    if (decisive) d["unreadableScan"] = true;  // check_store: decides whatever else is there
    return finish(std::move(d), decisive, false, valid_until, now_s);
  }
  const ScanReport& r = *report;
  d["scanner"] = r.scanner;
  d["scannerVersion"] = r.scanner_version;
  if (!binds(stmt, r, image)) {
    fail(d, source + ": signed for another image (subjects: " + subjects_of(stmt, r) + ")");
    return finish(std::move(d), false, false, valid_until, now_s);
  }
  if (!r.has_result) {
    fail(d, source + ": the attestation records no scan result (scanner.result is absent or null): nothing says the scan ran");
    return finish(std::move(d), true, false, valid_until, now_s);
  }
  bool fresh = judge_age(g, r, now_s, d, valid_until);
  size_t blocking = judge_findings(g, r, image, now_s, d, valid_until);
  bool passed = fresh && blocking == 0;
  if (passed) {
    std::string summary = "passed: signed by " + std::to_string(vp.signers.size()) + " trusted key(s), scan " + d["age"].get<std::string>() +
                          " old, 0 blocking, " + std::to_string(d["findings"]["suppressedCount"].get<size_t>()) + " suppressed";
    d["reasons"].insert(d["reasons"].begin(), summary);
  }
  for (const auto& e : d["expiredExceptions"]) {
    d["reasons"].push_back("exception " + e["id"].get<std::string>() + " expired on " + e["until"].get<std::string>());
  }
  return finish(std::move(d), true, passed, valid_until, now_s);
}

}  // namespace detail

Result<GateSetup> GateSetup::load(const AttestationSettings& s) {
  GateSetup g;
  g.settings = s;
  if (s.threshold < 1) return invalid("attestation.threshold: " + std::to_string(s.threshold) + " must be at least 1");
  std::vector<PublicKey> keys;
  std::set<std::string> distinct;
  Json key_ids = Json::array();
  for (size_t i = 0; i < s.keys.size(); ++i) {
    auto k = PublicKey::from_file(s.keys[i]);
    if (!k.is_ok()) {
      Status st = k.status();
      std::string msg = st.message();
      if (msg.find(s.keys[i]) == std::string::npos) msg = s.keys[i] + ": " + msg;
      return Status(st.code(), "attestation.keys[" + std::to_string(i) + "]: " + msg, st.error_number());
    }
    distinct.insert(k->id());
    key_ids.push_back({{"id", k->id()}, {"source", k->source()}});
    keys.push_back(std::move(k).value());
  }
  if (static_cast<size_t>(s.threshold) > distinct.size()) {
    return invalid("attestation.threshold: " + std::to_string(s.threshold) + " is more than the " + std::to_string(distinct.size()) +
                   " distinct trusted key(s) in attestation.keys (the gate could never pass)");
  }
  auto vex = std::make_shared<VexIndex>();
  if (Status st = vex->load_paths(s.vex); !st.is_ok()) return std::move(st).with_context("attestation.vex");
  g.verifier = std::make_shared<KeyVerifier>(std::move(keys), static_cast<int>(s.threshold));
  g.vex = vex;

  // Everything a verdict depends on; not action, store or requireFor (they decide whether and how a
  // verdict is used, not what it is).
  Json exceptions = Json::array();
  for (const auto& e : s.exceptions) {
    exceptions.push_back({{"id", e.id}, {"until", e.until}, {"untilS", e.until_s ? Json(*e.until_s) : Json()}, {"images", e.images}, {"reason", e.reason}});
  }
  // kVerdictRules names the rules' revision: raise it whenever a change could turn a cached
  // verdict around, so no node serves a verdict of older rules after an upgrade.
  constexpr int kVerdictRules = 2;
  Json canon = {{"rules", kVerdictRules},
                {"version", RUNGUARD_VERSION},
                {"keys", key_ids},
                {"threshold", s.threshold},
                {"maxAgeMs", s.max_age_ms},
                {"maxSeverity",
                 {{"fixable", detail::severity_name(s.max_fixable)},
                  {"unfixable", detail::severity_name(s.max_unfixable)},
                  {"unknownAs", detail::severity_name(s.unknown_as)}}},
                {"exceptions", exceptions},
                {"vex", {{"digest", vex->digest()}, {"sources", vex->sources()}}}};
  g.digest = sha256_digest(dump_json(canon));
  return g;
}

bool attestation_required(const AttestationSettings& s, const std::string& image, const std::string& container_type) {
  if (container_type == "sandbox" && !s.require_sandboxes) return false;
  return std::any_of(s.require_images.begin(), s.require_images.end(),
                     [&](const std::string& g) { return image.empty() ? g == "*" : glob_match(g, image); });
}

GateResult check_document(const GateSetup& g, std::string_view bytes, const ImageRef& image, int64_t now_s, const std::string& source,
                          VerdictCache* cache, bool* input_error) {
  bool ie = false;
  std::string digest, key;
  if (cache && bytes.size() <= kMaxAttestationBytes) {
    digest = sha256_digest(bytes);
    key = verdict_cache_key(digest, g, image);
    if (auto hit = cache->get(key, now_s)) {
      if (input_error) *input_error = false;
      return *hit;
    }
  }
  GateResult r = detail::evaluate_document(g, bytes, digest, image, now_s, source, &ie);
  if (cache && !ie && !key.empty()) cache->put(key, r);
  if (input_error) *input_error = ie;
  return r;
}

std::string format_duration_s(int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string sign = seconds < 0 ? "-" : "";
  uint64_t s = seconds < 0 ? 0 - static_cast<uint64_t>(seconds) : static_cast<uint64_t>(seconds);
  uint64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
  if (h > 0) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(sec) + "s";
  if (m > 0) return sign + std::to_string(m) + "m" + std::to_string(sec) + "s";
  return sign + std::to_string(sec) + "s";
}

}  // namespace runguard::attest
