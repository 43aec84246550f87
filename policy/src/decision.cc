#include "runguard/policy/decision.h"

namespace runguard::policy {

const char* action_name(Action a) {
  switch (a) {
    case Action::kEnforce: return "enforce";
    case Action::kDeny: return "deny";
    case Action::kAudit: return "audit";
    case Action::kOff: return "off";
  }
  return "?";
}

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "?";
}

bool Decision::changed() const {
  for (const auto& m : mutations) {
    if (m.applied) return true;
  }
  return false;
}

std::string Decision::denial_summary() const {
  std::string out;
  for (const auto& f : findings) {
    if (f.action != Action::kDeny) continue;
    if (!out.empty()) out += "; ";
    out += f.message + " [" + f.id + "]";
  }
  return out;
}

Json decision_to_json(const Decision& d) {
  Json j;
  j["allowed"] = d.allowed;
  j["mode"] = d.mode == Mode::kAudit ? "audit" : "enforce";
  j["override"] = d.override_name.empty() ? Json() : Json(d.override_name);
  j["findings"] = Json::array();
  for (const auto& f : d.findings) {
    j["findings"].push_back({{"id", f.id},
                             {"control", f.control},
                             {"severity", severity_name(f.severity)},
                             {"action", action_name(f.action)},
                             {"message", f.message},
                             {"pointer", f.pointer}});
  }
  j["mutations"] = Json::array();
  for (const auto& m : d.mutations) {
    Json mj = {{"id", m.id}, {"control", m.control}, {"op", m.op}, {"pointer", m.pointer}};
    if (m.op != "remove") mj["value"] = m.value;
    mj["applied"] = m.applied;
    j["mutations"].push_back(std::move(mj));
  }
  if (!d.secrets.empty()) j["secrets"] = secrets_plan_to_json(d.secrets);
  if (!d.attestation.is_null()) j["attestation"] = d.attestation;
  return j;
}

}  // namespace runguard::policy
