// The monitor control (RG-MON-001): the syscalls the runtime monitor watches become
// SCMP_ACT_NOTIFY rules of the container's seccomp profile, and the profile names the monitor's
// socket as its listener. The monitor itself is started by the runtime (pipeline).
#include <algorithm>

#include "eval.h"
#include "runguard/common/strings.h"
#include "runguard/policy/monitor.h"

namespace runguard::policy {
namespace {

bool allows(const std::string& action) { return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"; }

// What the profile does with `name` today: "allow" (unconditionally), "conditional", "other"
// (denied, traced, notified...) or the default action's class when no rule names it.
std::string current_treatment(const Json& profile, const std::string& name) {
  if (const Json* rules = internal::at(profile, "/syscalls"); rules != nullptr && rules->is_array()) {
    for (const auto& r : *rules) {
      const Json* names = internal::at(r, "/names");
      if (names == nullptr || !names->is_array() || std::find(names->begin(), names->end(), name) == names->end()) continue;
      if (!allows(internal::str_member(r, "action"))) return "other";
      const Json* args = internal::at(r, "/args");
      return args != nullptr && args->is_array() && !args->empty() ? "conditional" : "allow";
    }
  }
  return allows(internal::str_member(profile, "defaultAction")) ? "allow" : "other";
}

}  // namespace

NotifyPlan plan_notify(const Json* profile, const std::vector<std::string>& syscalls) {
  NotifyPlan plan;
  plan.profile = profile != nullptr && profile->is_object() ? *profile : Json{{"defaultAction", "SCMP_ACT_ALLOW"}};
  for (const auto& s : syscalls) {
    std::string t = current_treatment(plan.profile, s);
    if (t == "allow") plan.notified.push_back(s);
    else plan.skipped.push_back(s + (t == "conditional" ? " (allowed only with arguments the profile checks)" : " (the profile already refuses it)"));
  }
  if (plan.notified.empty()) return plan;
  Json& rules = plan.profile["syscalls"];
  if (!rules.is_array()) rules = Json::array();
  Json kept = Json::array();
  for (auto& r : rules) {
    if (Json* names = r.is_object() && r.contains("names") && r["names"].is_array() ? &r["names"] : nullptr) {
      Json left = Json::array();
      for (const auto& n : *names) {
        if (!n.is_string() || std::find(plan.notified.begin(), plan.notified.end(), n.get<std::string>()) == plan.notified.end()) left.push_back(n);
      }
      if (left.empty()) continue;
      *names = std::move(left);
    }
    kept.push_back(std::move(r));
  }
  kept.push_back({{"names", plan.notified}, {"action", "SCMP_ACT_NOTIFY"}});
  rules = std::move(kept);
  return plan;
}

std::string monitor_socket(const std::string& state_dir, const std::string& id) { return state_dir + "/" + id + "/monitor.sock"; }

namespace internal {

bool has_notify(const Json& profile) {
  if (str_member(profile, "defaultAction") == "SCMP_ACT_NOTIFY") return true;
  if (const Json* rules = at(profile, "/syscalls"); rules != nullptr && rules->is_array()) {
    for (const auto& r : *rules) {
      if (str_member(r, "action") == "SCMP_ACT_NOTIFY") return true;
    }
  }
  return false;
}

void check_monitor(const MonitorControl& c, Eval& e, const std::string& state_dir) {
  if (c.action == Action::kOff) return;
  // Under enforce a container the monitor cannot watch is refused, never started unwatched.
  Action refuse = c.action == Action::kEnforce ? Action::kDeny : Action::kAudit;
  const Json* prof = at(e.doc(), "/linux/seccomp");
  if (prof != nullptr && !str_member(*prof, "listenerPath").empty() && has_notify(*prof)) {
    // runc hands the notify fd to one listener; someone else's agent already is it.
    (void)e.violation("monitor", "RG-MON-002", Severity::kHigh, refuse,
                      "the seccomp profile already sends syscalls to another listener (" + str_member(*prof, "listenerPath") +
                          "); runguard-monitor cannot watch this container",
                      "/linux/seccomp/listenerPath");
    return;
  }
  std::string socket = monitor_socket(state_dir, e.ctx().id);
  if (socket.size() >= 108) {  // sun_path
    (void)e.violation("monitor", "RG-MON-003", Severity::kHigh, refuse,
                      "the monitor socket path " + socket + " is longer than a unix socket address allows (107 bytes); "
                          "use a shorter stateDir",
                      "/linux/seccomp/listenerPath");
    return;
  }
  NotifyPlan plan = plan_notify(prof, c.syscalls);
  if (plan.notified.empty()) return;
  std::string what = "the container runs unmonitored; sending " + join(plan.notified, ", ") + " to runguard-monitor" +
                     (c.action == Action::kEnforce && c.block ? " (block rules answer EPERM)" : " (rules alert only)");
  if (!plan.skipped.empty()) what += "; not monitored: " + join(plan.skipped, ", ");
  // Both enforce and audit install the monitor: audit only keeps it from blocking.
  if (!e.violation("monitor", "RG-MON-001", Severity::kLow, Action::kEnforce, what, "/linux/seccomp")) return;
  plan.profile["listenerPath"] = socket;  // an inert listener the spec named (no notify rule) is replaced
  plan.profile["listenerMetadata"] = e.ctx().id;
  e.set("/linux/seccomp", std::move(plan.profile), Json("notify: " + join(plan.notified, ",")));
}

}  // namespace internal
}  // namespace runguard::policy
