#include "check.h"

#include <sys/stat.h>

#include <iostream>
#include <set>

#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/catalog.h"
#include "runguard/policy/engine.h"

namespace runguard::cli {
namespace {

using policy::Decision;

int usage(const std::string& why) {
  std::cerr << "runguardctl check: " << why << "\n"
            << "usage: runguardctl check [--policy FILE] [--format text|json|sarif] BUNDLE_DIR|CONFIG_JSON\n";
  return 2;
}

Json sarif(const Decision& d, const std::string& artifact, const std::string& policy_source) {
  Json rules = Json::array();
  std::set<std::string> seen;
  for (const auto& f : d.findings) {
    if (!seen.insert(f.id).second) continue;
    const policy::ControlInfo* info = policy::find_control(f.control);
    Json tags = Json::array();
    if (info != nullptr) {
      for (const char* c : info->cis) tags.push_back(std::string("CIS-Docker-1.6.0-") + c);
      for (const char* p : info->pss) tags.push_back(std::string("PSS ") + p);
    }
    rules.push_back({{"id", f.id},
                     {"name", f.control},
                     {"shortDescription", {{"text", info != nullptr ? info->title : f.control}}},
                     {"properties", {{"tags", tags}}}});
  }
  Json results = Json::array();
  for (const auto& f : d.findings) {
    const char* level = f.action == policy::Action::kDeny ? "error" : f.action == policy::Action::kEnforce ? "warning" : "note";
    results.push_back({{"ruleId", f.id},
                       {"level", level},
                       {"message", {{"text", f.message}}},
                       {"locations", Json::array({{{"physicalLocation", {{"artifactLocation", {{"uri", artifact}}}}},
                                                   {"logicalLocations", Json::array({{{"fullyQualifiedName", f.pointer}}})}}})},
                       {"properties", {{"action", policy::action_name(f.action)}, {"severity", policy::severity_name(f.severity)}}}});
  }
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", Json::array({{{"tool", {{"driver", {{"name", "runguard"}, {"version", RUNGUARD_VERSION}, {"rules", rules}}}}},
                                 {"results", results},
                                 {"properties", {{"allowed", d.allowed}, {"policy", policy_source}}}}})}};
}

// "attestation gate: off (no keys in attestation.keys: nothing can be trusted)", "attestation gate:
// enforce, not evaluated (...)", "attestation gate: audit, failed: <summary>", ...
std::string gate_line(const Json& a) {
  auto str = [&](const char* k) { return a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : std::string(); };
  std::string gate = str("gate");
  if (gate == "off") return "attestation gate: off (" + str("reason") + ")";
  if (a.contains("evaluated") && a["evaluated"] == false) return "attestation gate: " + gate + ", not evaluated (" + str("reason") + ")";
  if (a.contains("required") && a["required"] == false) return "attestation gate: " + gate + ", not required (" + str("reason") + ")";
  bool passed = a.contains("passed") && a["passed"] == true;
  return "attestation gate: " + gate + ", " + (passed ? "passed: " : "failed: ") + str("summary");
}

void print_text(const Decision& d, const std::string& artifact, const std::string& policy_source) {
  std::cout << artifact << ": " << (d.allowed ? "allowed" : "DENIED") << " by " << policy_source
            << (d.override_name.empty() ? "" : " (override " + d.override_name + ")") << "\n";
  if (d.attestation.is_object()) std::cout << "  " << gate_line(d.attestation) << "\n";
  for (const auto& f : d.findings) {
    std::cout << "  " << policy::action_name(f.action) << "\t" << policy::severity_name(f.severity) << "\t" << f.id << "\t"
              << f.message << "  [" << f.pointer << "]\n";
  }
  size_t applied = 0;
  for (const auto& m : d.mutations) applied += m.applied;
  std::cout << d.findings.size() << " findings; " << (d.allowed ? std::to_string(applied) : std::string("0"))
            << " changes runguard makes at create\n";
}

}  // namespace

int cmd_check(const std::vector<std::string>& args) {
  pipeline::ConfigSource source = pipeline::config_source();
  std::string format = "text", target;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (auto v = value("--policy")) source = {*v, true, "--policy"};
    else if (auto f = value("--format")) format = *f;
    else if (a == "-h" || a == "--help") return usage("help");
    else if (!a.empty() && a[0] == '-') return usage("unknown flag " + a);
    else if (target.empty()) target = a;
    else return usage("more than one bundle given");
  }
  if (target.empty()) return usage("no bundle directory or config.json given");
  if (format != "text" && format != "json" && format != "sarif") return usage("--format must be text, json or sarif");
  auto p = pipeline::load_policy(source);
  if (!p.is_ok()) {
    std::cerr << "runguardctl check: " << p.status().to_string() << "\n";
    return 2;
  }
  struct stat st{};
  std::string config = target;
  if (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) config = target + "/config.json";
  auto text = nsutil::read_file(config);
  if (!text.is_ok()) {
    std::cerr << "runguardctl check: " << text.status().to_string() << "\n";
    return 2;
  }
  auto spec = parse_json(*text, config);
  Status valid = spec.is_ok() ? policy::validate_spec(*spec, config) : spec.status();
  if (!valid.is_ok()) {
    std::cerr << "runguardctl check: " << valid.to_string() << "\n";
    return 2;
  }
  std::string bundle = config.rfind('/') == std::string::npos ? "." : config.substr(0, config.rfind('/'));
  // Offline: the spec is the user's own, so its CRI annotations describe it (as on a containerd node).
  policy::ContainerContext ctx = policy::context_from_spec(*spec, "check", bundle, "", policy::CriAnnotations::kTrusted);
  Decision d = policy::evaluate_spec(*p, std::move(spec).value(), ctx);
  if (format == "json") std::cout << dump_json(policy::decision_to_json(d), 2) << "\n";
  else if (format == "sarif") std::cout << dump_json(sarif(d, config, p->source), 2) << "\n";
  else print_text(d, config, p->source);
  return d.allowed ? 0 : 1;
}

int cmd_validate(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    std::cerr << "usage: runguardctl validate POLICY_FILE\n";
    return 2;
  }
  auto p = pipeline::load_policy({args[0], true, "the command line"});
  if (!p.is_ok()) {
    std::cerr << "runguardctl validate: " << p.status().to_string() << "\n";
    return 2;
  }
  std::cout << args[0] << ": valid (" << p->overrides.size() << " overrides, mode "
            << (p->mode == policy::Mode::kAudit ? "audit" : "enforce") << ")\n";
  return 0;
}

int cmd_controls(const std::vector<std::string>& args) {
  bool json = args.size() >= 1 && (args[0] == "--format=json" || (args[0] == "--format" && args.size() > 1 && args[1] == "json"));
  Json out = Json::array();
  for (const auto& c : policy::control_catalog()) {
    Json cis = Json::array(), pss = Json::array();
    for (const char* x : c.cis) cis.push_back(x);
    for (const char* x : c.pss) pss.push_back(x);
    out.push_back({{"name", c.name}, {"id", c.id}, {"title", c.title}, {"cis", cis}, {"pss", pss}});
    if (!json) {
      std::vector<std::string> refs;
      for (const char* x : c.cis) refs.push_back(std::string("CIS ") + x);
      for (const char* x : c.pss) refs.push_back(std::string("PSS ") + x);
      std::cout << c.id << "\t" << c.name << "\t" << c.title << "\t" << join(refs, ", ") << "\n";
    }
  }
  if (json) std::cout << dump_json(out, 2) << "\n";
  return 0;
}

}  // namespace runguard::cli
