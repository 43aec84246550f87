// runguardctl attest verify | inspect (attest_cmd.h).
#include "attest_cmd.h"

#include <time.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>

#include "runguard/attest/bundle.h"
#include "runguard/attest/dsse.h"
#include "runguard/attest/gate.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/report.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"

namespace runguard::cli {
namespace {

constexpr const char* kVerifyUsage =
    "usage: runguardctl attest verify --policy P --image-digest sha256:HEX (--attestation FILE | --store DIR)\n"
    "                                 [--image NAME] [--now RFC3339] [--format text|json]\n";
constexpr const char* kInspectUsage = "usage: runguardctl attest inspect FILE [--format text|json]\n";
constexpr size_t kTextFindings = 10;  // blocking findings a text verdict lists

int usage_error(const std::string& verb, const std::string& why, const char* usage) {
  std::cerr << "runguardctl attest " << verb << ": " << why << "\n" << usage;
  return 2;
}

int input_error(const std::string& verb, const std::string& why) {
  std::cerr << "runguardctl attest " << verb << ": " << why << "\n";
  return 2;
}

// --name VALUE or --name=VALUE at args[i] (advancing i past a separate value).
std::optional<std::string> flag_value(const std::vector<std::string>& args, size_t& i, const std::string& name, bool* missing) {
  const std::string& a = args[i];
  if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
  if (a != name) return std::nullopt;
  if (i + 1 >= args.size()) {
    *missing = true;
    return std::nullopt;
  }
  return args[++i];
}

bool is_sha256_digest(const std::string& d) {
  if (d.size() != 71 || d.rfind("sha256:", 0) != 0) return false;
  return std::all_of(d.begin() + 7, d.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string str(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// The members the issue promises in --format json, present whatever the verdict.
Json complete_detail(Json d, const attest::GateResult& r) {
  if (!d.is_object()) d = Json::object();
  if (!d.contains("verified")) d["verified"] = r.verified;
  if (!d.contains("passed")) d["passed"] = r.passed;
  if (!d.contains("signers") || !d["signers"].is_array()) d["signers"] = Json::array();
  if (!d.contains("age")) d["age"] = nullptr;
  if (!d.contains("findings") || !d["findings"].is_object()) d["findings"] = Json::object();
  for (const char* k : {"blocking", "suppressed"}) {
    if (!d["findings"].contains(k) || !d["findings"][k].is_array()) d["findings"][k] = Json::array();
  }
  if (!d.contains("reasons") || !d["reasons"].is_array()) d["reasons"] = Json::array({r.summary});
  return d;
}

// "CVE-2023-1 CRITICAL fixable openssl 1.0.0 -> 1.0.1"
std::string finding_line(const Json& f) {
  std::string fix = str(f, "fixState");
  std::string line = str(f, "id") + "  " + str(f, "severity") + "  " + (fix.empty() ? "unknown" : fix) + "  " + str(f, "package") + " " +
                     str(f, "installed");
  if (!str(f, "fixed").empty()) line += " -> " + str(f, "fixed");
  return line;
}

void print_verdict_text(const Json& d, const attest::GateResult& r) {
  std::cout << (r.passed ? "PASS: " : "FAIL: ") << r.summary << "\n";
  std::cout << "image: " << str(d, "imageDigest") << (str(d, "image").empty() ? "" : " (" + str(d, "image") + ")") << "\n";
  if (!str(d, "attestation").empty()) {
    std::cout << "attestation: " << str(d, "attestation");
    if (!str(d, "format").empty()) std::cout << " (" << str(d, "format") << ", " << str(d, "documentDigest") << ")";
    std::cout << "\n";
  }
  std::vector<std::string> signers;
  for (const auto& s : d["signers"]) signers.push_back(str(s, "id") + " (" + str(s, "source") + ", " + str(s, "type") + ")");
  std::cout << "signers: " << (signers.empty() ? "none verified" : join(signers, ", ")) << "\n";
  if (!str(d, "scanner").empty() || !str(d, "age").empty()) {
    std::cout << "scan: " << str(d, "scanner") << (str(d, "scannerVersion").empty() ? "" : " " + str(d, "scannerVersion"))
              << ", finished " << (str(d, "scanFinishedOn").empty() ? "(unknown)" : str(d, "scanFinishedOn")) << ", age "
              << (str(d, "age").empty() ? "(unknown)" : str(d, "age")) << " (maxAge " << str(d, "maxAge") << ")\n";
  }
  std::cout << "reasons:\n";
  for (const auto& reason : d["reasons"]) std::cout << "  - " << (reason.is_string() ? reason.get<std::string>() : reason.dump()) << "\n";
  const Json& findings = d["findings"];
  const Json& blocking = findings["blocking"];
  std::string blocking_count = findings.contains("blockingCount") ? findings["blockingCount"].dump() : std::to_string(blocking.size());
  std::string suppressed_count =
      findings.contains("suppressedCount") ? findings["suppressedCount"].dump() : std::to_string(findings["suppressed"].size());
  std::cout << "blocking findings: " << blocking_count << "\n";
  for (size_t i = 0; i < blocking.size() && i < kTextFindings; ++i) {
    std::cout << "  " << finding_line(blocking[i]) << (str(blocking[i], "rule").empty() ? "" : "  [" + str(blocking[i], "rule") + "]") << "\n";
  }
  std::cout << "suppressed findings: " << suppressed_count << "\n";
  if (d.contains("expiredExceptions") && d["expiredExceptions"].is_array()) {
    for (const auto& e : d["expiredExceptions"]) std::cout << "expired exception: " << str(e, "id") << " (until " << str(e, "until") << ")\n";
  }
}

int64_t wall_clock_s() {
  struct timespec now = {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec);
}

int verify(const std::vector<std::string>& args) {
  pipeline::ConfigSource source = pipeline::config_source();
  std::string digest, attestation, store, image, now_text, format = "text";
  for (size_t i = 0; i < args.size(); ++i) {
    bool missing = false;
    const std::string& a = args[i];
    if (auto v = flag_value(args, i, "--policy", &missing)) source = {*v, true, "--policy"};
    else if (auto v = flag_value(args, i, "--image-digest", &missing)) digest = *v;
    else if (auto v = flag_value(args, i, "--attestation", &missing)) attestation = *v;
    else if (auto v = flag_value(args, i, "--store", &missing)) store = *v;
    else if (auto v = flag_value(args, i, "--image", &missing)) image = *v;
    else if (auto v = flag_value(args, i, "--now", &missing)) now_text = *v;
    else if (auto v = flag_value(args, i, "--format", &missing)) format = *v;
    else if (missing) return usage_error("verify", a + " needs a value", kVerifyUsage);
    else if (a == "-h" || a == "--help") return usage_error("verify", "help", kVerifyUsage);
    else if (!a.empty() && a[0] == '-') return usage_error("verify", "unknown flag " + a, kVerifyUsage);
    else return usage_error("verify", "unexpected argument \"" + a + "\"", kVerifyUsage);
  }
  if (digest.empty()) return usage_error("verify", "--image-digest is required", kVerifyUsage);
  if (!is_sha256_digest(digest)) return usage_error("verify", "--image-digest \"" + digest + "\" is not sha256:<64 lowercase hex>", kVerifyUsage);
  if (attestation.empty() == store.empty()) return usage_error("verify", "give exactly one of --attestation FILE and --store DIR", kVerifyUsage);
  if (format != "text" && format != "json") return usage_error("verify", "--format must be text or json", kVerifyUsage);
  int64_t now_s = wall_clock_s();
  if (!now_text.empty()) {
    auto parsed = attest::parse_rfc3339(now_text);
    if (!parsed) return usage_error("verify", "--now \"" + now_text + "\" is not an RFC 3339 time (2026-11-29T12:00:00Z)", kVerifyUsage);
    now_s = *parsed;
  }
  auto p = pipeline::load_policy(source);
  if (!p.is_ok()) return input_error("verify", p.status().to_string());
  if (!p->attestation.enabled()) {
    Json state = policy::attestation_gate_state(*p, policy::ContainerContext{});
    return input_error("verify", "the attestation gate of " + p->source + " is off (" + str(state, "reason") +
                                     "): there is nothing to verify against");
  }
  auto setup = attest::GateSetup::load(p->attestation);
  if (!setup.is_ok()) return input_error("verify", setup.status().to_string());

  attest::ImageRef ref{digest, image};
  attest::GateResult r;
  bool bad_input = false;
  if (!attestation.empty()) {
    auto bytes = nsutil::read_file(attestation, attest::kMaxAttestationBytes);
    if (!bytes.is_ok()) return input_error("verify", bytes.status().to_string());
    r = attest::check_document(*setup, *bytes, ref, now_s, attestation, nullptr, &bad_input);
  } else {
    r = attest::check_store(*setup, store, ref, now_s, nullptr);
  }
  Json detail = complete_detail(r.detail, r);
  if (format == "json") std::cout << dump_json(detail, 2) << "\n";
  else print_verdict_text(detail, r);
  if (bad_input) return 2;
  return r.passed ? 0 : 1;
}

// --- inspect ---

int severity_rank(const std::string& s) {
  static const std::map<std::string, int> kRank = {{"CRITICAL", 6}, {"HIGH", 5}, {"MEDIUM", 4}, {"LOW", 3}, {"NEGLIGIBLE", 2}, {"NONE", 1}};
  auto it = kRank.find(to_upper(s));
  return it == kRank.end() ? 0 : it->second;
}

struct Inspected {
  std::string format;  // "dsse" | "sigstore-bundle/<v>" | "report"
  std::string payload_type;
  size_t signatures = 0;
  std::optional<attest::Statement> statement;
  attest::ScanReport report;
};

Result<Inspected> inspect_file(const std::string& file) {
  RG_ASSIGN_OR_RETURN(std::string bytes, nsutil::read_file(file, attest::kMaxAttestationBytes));
  RG_ASSIGN_OR_RETURN(Json j, parse_json(bytes, file));
  Inspected out;
  std::optional<attest::DsseEnvelope> env;
  if (attest::is_sigstore_bundle(j)) {
    RG_ASSIGN_OR_RETURN(attest::SigstoreBundle b, attest::parse_bundle(j, file));
    out.format = "sigstore-bundle/" + b.version;
    env = std::move(b.envelope);
  } else if (j.is_object() && j.contains("payloadType") && j.contains("payload")) {
    RG_ASSIGN_OR_RETURN(attest::DsseEnvelope e, attest::parse_dsse(j, file));
    out.format = "dsse";
    env = std::move(e);
  } else {
    out.format = "report";
  }
  if (env) {
    out.payload_type = env->payload_type;
    out.signatures = env->signatures.size();
    RG_ASSIGN_OR_RETURN(out.report, attest::report_from_payload(env->payload_type, env->payload, file, &out.statement));
  } else {
    RG_ASSIGN_OR_RETURN(out.report, attest::report_from_json(j, file));
  }
  return out;
}

Json inspected_json(const std::string& file, const Inspected& in, const std::vector<Json>& findings) {
  Json statement = nullptr;
  if (in.statement) {
    Json subjects = Json::array();
    for (const auto& s : in.statement->subjects) subjects.push_back({{"name", s.name}, {"digest", s.digest}});
    statement = {{"type", in.statement->type}, {"predicateType", in.statement->predicate_type}, {"subjects", subjects}};
  }
  const attest::ScanReport& r = in.report;
  Json by_severity = Json::object();
  size_t fixable = 0;
  for (const auto& f : findings) {
    std::string sev = str(f, "severity");
    by_severity[sev] = by_severity.value(sev, 0) + 1;
    fixable += str(f, "fixState") == "fixed";
  }
  return {{"file", file},
          {"format", in.format},
          {"signatureVerified", false},
          {"note", "signature not verified: runguardctl attest verify checks it against the policy's keys"},
          {"payloadType", in.payload_type.empty() ? Json() : Json(in.payload_type)},
          {"signatures", in.signatures},
          {"statement", statement},
          {"report",
           {{"format", r.format},
            {"envelope", r.envelope},
            {"scanner", r.scanner},
            {"scannerVersion", r.scanner_version},
            {"scanFinishedOn", r.finished.empty() ? Json() : Json(r.finished)},
            {"imageDigests", r.image_digests}}},
          {"counts", {{"total", findings.size()}, {"fixable", fixable}, {"bySeverity", by_severity}}},
          {"findings", findings}};
}

void print_inspected_text(const std::string& file, const Inspected& in, const std::vector<Json>& findings) {
  const attest::ScanReport& r = in.report;
  std::cout << file << ": " << in.format;
  if (in.format != "report") std::cout << ", payloadType " << in.payload_type << ", " << in.signatures << " signature(s)";
  std::cout << " (signature not verified)\n";
  if (in.statement) {
    std::cout << "statement: " << in.statement->type << ", predicateType " << in.statement->predicate_type << "\n";
    for (const auto& s : in.statement->subjects) {
      std::vector<std::string> digests;
      for (const auto& [alg, hex] : s.digest) digests.push_back(alg + ":" + hex);
      std::cout << "subject: " << (s.name.empty() ? "(unnamed)" : s.name) << " " << join(digests, " ") << "\n";
    }
  }
  std::cout << "scanner: " << (r.scanner.empty() ? "(unknown)" : r.scanner) << (r.scanner_version.empty() ? "" : " " + r.scanner_version)
            << " (" << r.format << " report, " << r.envelope << "), finished " << (r.finished.empty() ? "(no scan time)" : r.finished) << "\n";
  if (!r.image_digests.empty()) std::cout << "image digests in the report: " << join(r.image_digests, ", ") << "\n";
  std::map<int, std::pair<std::string, size_t>> counts;
  size_t fixable = 0;
  for (const auto& f : findings) {
    auto& c = counts[-severity_rank(str(f, "severity"))];
    c.first = str(f, "severity");
    ++c.second;
    fixable += str(f, "fixState") == "fixed";
  }
  std::vector<std::string> parts;
  for (const auto& [rank, c] : counts) parts.push_back(c.first + " " + std::to_string(c.second));
  std::cout << "findings: " << findings.size() << (parts.empty() ? "" : " (" + join(parts, ", ") + "; " + std::to_string(fixable) + " fixable)")
            << "\n";
  if (findings.empty()) return;
  std::cout << "ID\tSEVERITY\tFIX STATE\tPACKAGE\tINSTALLED\tFIXED\n";
  for (const auto& f : findings) {
    std::cout << str(f, "id") << "\t" << str(f, "severity") << "\t" << str(f, "fixState") << "\t" << str(f, "package") << "\t"
              << str(f, "installed") << "\t" << (str(f, "fixed").empty() ? "-" : str(f, "fixed")) << "\n";
  }
}

int inspect(const std::vector<std::string>& args) {
  std::string file, format = "text";
  for (size_t i = 0; i < args.size(); ++i) {
    bool missing = false;
    const std::string& a = args[i];
    if (auto v = flag_value(args, i, "--format", &missing)) format = *v;
    else if (missing) return usage_error("inspect", a + " needs a value", kInspectUsage);
    else if (a == "-h" || a == "--help") return usage_error("inspect", "help", kInspectUsage);
    else if (!a.empty() && a[0] == '-') return usage_error("inspect", "unknown flag " + a, kInspectUsage);
    else if (file.empty()) file = a;
    else return usage_error("inspect", "more than one file given", kInspectUsage);
  }
  if (file.empty()) return usage_error("inspect", "no attestation or report file given", kInspectUsage);
  if (format != "text" && format != "json") return usage_error("inspect", "--format must be text or json", kInspectUsage);
  auto in = inspect_file(file);
  if (!in.is_ok()) return input_error("inspect", in.status().to_string());
  std::vector<Json> findings;
  findings.reserve(in->report.findings.size());
  for (const auto& f : in->report.findings) findings.push_back(attest::finding_to_json(f));
  std::stable_sort(findings.begin(), findings.end(), [](const Json& a, const Json& b) {
    int ra = severity_rank(str(a, "severity")), rb = severity_rank(str(b, "severity"));
    return ra != rb ? ra > rb : str(a, "id") < str(b, "id");
  });
  if (format == "json") std::cout << dump_json(inspected_json(file, *in, findings), 2) << "\n";
  else print_inspected_text(file, *in, findings);
  return 0;
}

}  // namespace

int cmd_attest(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << "runguardctl attest: verify or inspect?\n" << kVerifyUsage << kInspectUsage;
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "verify") return verify(rest);
  if (args[0] == "inspect") return inspect(rest);
  std::cerr << "runguardctl attest: unknown subcommand \"" << args[0] << "\" (verify or inspect)\n" << kVerifyUsage << kInspectUsage;
  return 2;
}

}  // namespace runguard::cli
