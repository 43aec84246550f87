// Which changes make a set of controls weaker: the check that keeps annotation-matched overrides
// (annotations come from whoever writes the pod spec) from loosening a node's policy.
#include <algorithm>

#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::policy {
namespace {

int strength(Action a) {
  switch (a) {
    case Action::kOff: return 0;
    case Action::kAudit: return 1;
    case Action::kEnforce:
    case Action::kDeny: return 2;
  }
  return 0;
}

void action(std::vector<std::string>& out, const char* name, Action base, Action changed) {
  if (strength(changed) < strength(base)) {
    out.push_back(std::string(name) + ": " + action_name(base) + " -> " + action_name(changed));
  }
}

// A limit is looser when it is absent where the base had one, or larger.
template <typename T>
bool wider(const std::optional<T>& base, const std::optional<T>& changed) {
  return base && (!changed || *changed > *base);
}

void added(std::vector<std::string>& out, const char* what, const std::vector<std::string>& base,
           const std::vector<std::string>& changed) {
  for (const auto& x : changed) {
    if (std::find(base.begin(), base.end(), x) == base.end()) out.push_back(std::string(what) + x);
  }
}

}  // namespace

std::vector<std::string> loosenings(const Controls& b, const Controls& c) {
  std::vector<std::string> out;
  action(out, "userNamespace", b.user_namespace.action, c.user_namespace.action);
  if (c.user_namespace.min_host_id < b.user_namespace.min_host_id) out.push_back("userNamespace: a lower minHostId");
  if (c.user_namespace.fallback != b.user_namespace.fallback) out.push_back("userNamespace: another fallback");
  action(out, "user", b.user.action, c.user.action);
  if (c.user.allow_root_in_user_namespace && !b.user.allow_root_in_user_namespace) out.push_back("user: allows root in a user namespace");
  action(out, "capabilities", b.capabilities.action, c.capabilities.action);
  added(out, "capabilities: allows ", b.capabilities.allow, c.capabilities.allow);
  action(out, "noNewPrivileges", b.no_new_privileges.action, c.no_new_privileges.action);
  action(out, "seccomp", b.seccomp.action, c.seccomp.action);
  if (c.seccomp.profile != b.seccomp.profile) out.push_back("seccomp: profile " + c.seccomp.profile + " instead of " + b.seccomp.profile);
  action(out, "resources", b.resources.action, c.resources.action);
  if (wider(b.resources.memory.default_value, c.resources.memory.default_value) || wider(b.resources.memory.max, c.resources.memory.max)) {
    out.push_back("resources: a larger memory limit");
  }
  if (wider(b.resources.pids.default_value, c.resources.pids.default_value) || wider(b.resources.pids.max, c.resources.pids.max)) {
    out.push_back("resources: a larger pids limit");
  }
  for (const auto& [name, limit] : b.resources.rlimits) {
    auto it = c.resources.rlimits.find(name);
    if (it == c.resources.rlimits.end() || wider(limit.default_value, it->second.default_value) || wider(limit.max, it->second.max)) {
      out.push_back("resources: a larger " + name);
    }
  }
  action(out, "hostNamespaces", b.host_namespaces.action, c.host_namespaces.action);
  action(out, "privileged", b.privileged.action, c.privileged.action);
  action(out, "sensitiveMounts", b.sensitive_mounts.action, c.sensitive_mounts.action);
  added(out, "sensitiveMounts: exempts ", b.sensitive_mounts.allow, c.sensitive_mounts.allow);
  action(out, "readonlyRootfs", b.readonly_rootfs.action, c.readonly_rootfs.action);
  action(out, "secretsInEnv", b.secrets_in_env.action, c.secrets_in_env.action);
  action(out, "monitor", b.monitor.action, c.monitor.action);
  if (b.monitor.block && !c.monitor.block) out.push_back("monitor: block off");
  for (const auto& s : b.monitor.syscalls) {
    if (std::find(c.monitor.syscalls.begin(), c.monitor.syscalls.end(), s) == c.monitor.syscalls.end()) {
      out.push_back("monitor: " + s + " not monitored");
    }
  }
  if (c.monitor.rules != b.monitor.rules) out.push_back("monitor: other rule files");
  return out;
}

}  // namespace runguard::policy
