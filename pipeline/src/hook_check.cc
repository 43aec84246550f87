// runguard-hook check: state -> config.json -> policy -> deny-only verdict (hook_check.h).
#include "runguard/pipeline/hook_check.h"

#include <set>

#include "attestation_gate.h"
#include "host_facts.h"
#include "image_digest.h"
#include "support.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/engine.h"

namespace runguard::pipeline {
namespace {

using policy::Action;
using policy::Controls;
using policy::Finding;

// podman's size syntax for --memory: the largest exact unit (536870912 -> "512m").
std::string podman_size(int64_t bytes) {
  if (bytes > 0 && bytes % (1LL << 30) == 0) return std::to_string(bytes >> 30) + "g";
  if (bytes > 0 && bytes % (1LL << 20) == 0) return std::to_string(bytes >> 20) + "m";
  if (bytes > 0 && bytes % (1LL << 10) == 0) return std::to_string(bytes >> 10) + "k";
  return std::to_string(bytes);
}

// " (runguard's default is D, maximum M)"-style bounds for a limit the user must now set.
std::string bounds(const std::optional<int64_t>& def, const std::optional<int64_t>& max, bool bytes) {
  auto fmt = [&](int64_t v) { return bytes ? format_byte_size(v) : std::to_string(v); };
  std::vector<std::string> parts;
  if (def) parts.push_back("runguard's default is " + fmt(*def));
  if (max) parts.push_back("at most " + fmt(*max));
  return parts.empty() ? "" : " (" + join(parts, ", ") + ")";
}

// The value to suggest: the policy's default, else its maximum.
int64_t suggested(const std::optional<int64_t>& def, const std::optional<int64_t>& max, int64_t fallback) {
  return def ? *def : max ? *max : fallback;
}

std::string capabilities_remedy(const Controls& c) {
  std::vector<std::string> short_names;
  for (const auto& cap : c.capabilities.allow) short_names.push_back(cap.substr(4));  // "CAP_X" -> "X"
  std::string podman = "podman run --cap-drop all";
  for (const auto& n : short_names) podman += " --cap-add " + n;
  std::string k8s = "Kubernetes securityContext.capabilities {drop: [ALL]" +
                    (short_names.empty() ? std::string() : ", add: [" + join(short_names, ", ") + "]") + "}";
  return "keep every set in /process/capabilities within [" + join(c.capabilities.allow, ", ") + "]: " + podman + ", " + k8s;
}

std::string rlimit_remedy(const Finding& f, const Controls& c) {
  // The finding's message starts with the rlimit's name ("RLIMIT_NOFILE is not set; ...").
  std::string type = f.message.substr(0, f.message.find(' '));
  auto it = c.resources.rlimits.find(type);
  std::optional<uint64_t> def, max;
  if (it != c.resources.rlimits.end()) def = it->second.default_value, max = it->second.max;
  std::string value = def ? std::to_string(*def) : max ? std::to_string(*max) : "N";
  std::string name = type.rfind("RLIMIT_", 0) == 0 ? to_lower(type.substr(7)) : to_lower(type);
  std::vector<std::string> b;
  if (def) b.push_back("runguard's default is " + std::to_string(*def));
  if (max) b.push_back("at most " + std::to_string(*max));
  return "set " + type + " in /process/rlimits" + (b.empty() ? "" : " (" + join(b, ", ") + ")") + ": podman run --ulimit " +
         name + "=" + value + ":" + value + "; Kubernetes has no field for rlimits: set the engine's default " +
         "(containers.conf default_ulimits, CRI-O default_ulimits)";
}

}  // namespace

std::string remedy(const Finding& f, const Controls& c) {
  const std::string uid = std::to_string(c.user.uid), gid = std::to_string(c.user.gid);
  const std::string& id = f.id;
  if (id == "RG-USERNS-001") {
    return "run the container in a user namespace of its own (/linux/namespaces type user, with /linux/uidMappings "
           "and gidMappings to a host range at or above " + std::to_string(c.user_namespace.min_host_id) +
           "): podman run --userns=auto or --uidmap 0:HOSTID:65536 --gidmap 0:HOSTID:65536, Kubernetes hostUsers: false";
  }
  if (id == "RG-USERNS-002") {
    return "map the user namespace to host ids at or above " + std::to_string(c.user_namespace.min_host_id) +
           ": podman run --userns=auto with /etc/subuid ranges there";
  }
  if (id == "RG-USER-001") {
    return "set /process/user/uid to a non-root uid such as " + uid + ": podman run --user " + uid + ":" + gid +
           ", Kubernetes securityContext.runAsUser: " + uid;
  }
  if (id == "RG-USER-002") {
    return "set /process/user/gid to a non-root gid such as " + gid + ": podman run --user " + uid + ":" + gid +
           ", Kubernetes securityContext.runAsGroup: " + gid;
  }
  if (id == "RG-USER-003") {
    return "remove gid 0 from /process/user/additionalGids: podman run without --group-add 0, Kubernetes "
           "securityContext.supplementalGroups without 0";
  }
  if (id == "RG-CAPS-001") return capabilities_remedy(c);
  if (id == "RG-NNP-001") {
    return "set /process/noNewPrivileges to true: podman run --security-opt no-new-privileges, Kubernetes "
           "securityContext.allowPrivilegeEscalation: false";
  }
  if (id == "RG-SECCOMP-001") {
    return "give the container a restrictive /linux/seccomp profile: podman's default (no --security-opt "
           "seccomp=unconfined) or --security-opt seccomp=FILE, Kubernetes securityContext.seccompProfile.type: "
           "RuntimeDefault";
  }
  if (id == "RG-RES-001") {
    const auto& m = c.resources.memory;
    return "set /linux/resources/memory/limit" + bounds(m.default_value, m.max, true) + ": podman run --memory " +
           podman_size(suggested(m.default_value, m.max, 512LL << 20)) + ", Kubernetes resources.limits.memory: " +
           format_byte_size(suggested(m.default_value, m.max, 512LL << 20));
  }
  if (id == "RG-RES-002") {
    std::string shares = std::to_string(c.resources.cpu_default_shares.value_or(1024));
    return "set /linux/resources/cpu/shares (runguard's default is " + shares + ") or a cpu quota: podman run "
           "--cpu-shares " + shares + " or --cpus, Kubernetes resources.requests.cpu";
  }
  if (id == "RG-RES-003") {
    const auto& p = c.resources.pids;
    return "set /linux/resources/pids/limit" + bounds(p.default_value, p.max, false) + ": podman run --pids-limit " +
           std::to_string(suggested(p.default_value, p.max, 1024)) + ", Kubernetes: the kubelet's podPidsLimit";
  }
  if (id == "RG-RES-004") return rlimit_remedy(f, c);
  if (id == "RG-HOSTNS-001") {
    return "give the container its own namespaces in /linux/namespaces: podman run without --pid/--network/--ipc/"
           "--uts host, Kubernetes hostPID/hostNetwork/hostIPC: false";
  }
  if (id == "RG-PRIV-001") {
    return "do not run it privileged: podman run without --privileged, Kubernetes securityContext.privileged: false";
  }
  if (id == "RG-MOUNT-001") {
    return "remove the bind mount from /mounts: podman run without that -v/--mount, Kubernetes without that hostPath "
           "volume";
  }
  if (id == "RG-ROFS-001") {
    return "set /root/readonly to true: podman run --read-only, Kubernetes securityContext.readOnlyRootFilesystem: "
           "true";
  }
  if (id == "RG-MON-001" || id == "RG-MON-002") {
    return "run the container with runguard as its runtime (podman run --runtime runguard, a containerd runtime "
           "handler): only the runtime can start runguard-monitor";
  }
  if (id == "RG-SECRETS-001" || id == "RG-SECRETS-003") {
    return "run the container with runguard as its runtime (podman run --runtime runguard, a containerd runtime "
           "handler): only the runtime can mount its secrets tmpfs before the process starts";
  }
  if (id == "RG-SECRETS-002") {
    return "remove the secrets.runguard.dev/ annotation, or have the node's policy grant the path in secrets.allow";
  }
  if (id == "RG-ATTEST-001") {
    return "have CI scan the image and sign the result (cosign attest --type vuln, or any DSSE signer with a key listed in "
           "attestation.keys), put the attestation in the node's attestation store, and rebuild the image when the scan "
           "finds fixable vulnerabilities above the policy's ceilings";
  }
  if (id == "RG-ENV-001") {
    return "remove the variable from /process/env and deliver the credential as a file: podman run --secret, "
           "Kubernetes a Secret volume";
  }
  return "change " + (f.pointer.empty() ? std::string("the spec") : f.pointer) + " so the finding goes away";
}

DenyOnlyVerdict deny_only_verdict(const policy::Decision& d, const Controls& c) {
  DenyOnlyVerdict v;
  std::set<std::string> advised;  // one remedy per finding id (the capability sets share one)
  for (const auto& f : d.findings) {
    if (f.action == Action::kDeny) {
      v.reasons.push_back(f.message + " [" + f.id + "]");
    } else if (f.action == Action::kEnforce) {
      std::string reason = f.message + " [" + f.id + "]";
      if (advised.insert(f.id).second) reason += " (deny-only hook: " + remedy(f, c) + ")";
      v.reasons.push_back(std::move(reason));
    }
  }
  // Secret files are delivered by the runtime (a mutation with no finding behind it).
  if (!d.secrets.empty()) {
    Finding delivered;
    delivered.id = "RG-SECRETS-001";
    v.reasons.push_back(std::to_string(d.secrets.files.size()) + " secret file(s) for " + d.secrets.mount_path +
                        " [RG-SECRETS-001] (deny-only hook: " + remedy(delivered, c) + ")");
  }
  // Every other applied mutation belongs to an enforce finding; this only guards that invariant.
  if (v.reasons.empty() && d.changed()) {
    v.reasons.push_back("the policy would change the spec, which a hook cannot do");
  }
  v.allowed = d.allowed && v.reasons.empty();
  return v;
}

Result<HookInvocation> parse_hook_args(const std::vector<std::string>& args) {
  HookInvocation inv;
  if (args.empty() || (args[0] != "check" && args[0] != "poststop")) {
    return invalid(args.empty() ? "runguard-hook: no command" : "runguard-hook: unknown command \"" + args[0] + "\"");
  }
  if (args[0] == "check") {
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--policy" && i + 1 < args.size()) inv.policy = ConfigSource{args[++i], true, "--policy"};
      else if (a.rfind("--policy=", 0) == 0) inv.policy = ConfigSource{a.substr(9), true, "--policy"};
      else return invalid("runguard-hook check: unexpected argument \"" + a + "\"");
    }
    return inv;
  }
  inv.verb = HookInvocation::Verb::kPoststop;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--state-dir" && i + 1 < args.size()) inv.state_dir = args[++i];
  }
  if (inv.state_dir.empty() || inv.state_dir[0] != '/') return invalid("runguard-hook poststop: --state-dir ABSOLUTE_DIR is required");
  return inv;
}

Result<HookState> parse_hook_state(std::string_view state_json, HookInvocation::Verb verb) {
  RG_ASSIGN_OR_RETURN(Json state, parse_json(state_json, "hook state on stdin"));
  if (!state.is_object()) return invalid("hook state on stdin: expected an object, got " + std::string(json_type_name(state)));
  auto str = [&](const char* key) -> Result<std::string> {
    auto it = state.find(key);
    if (it == state.end() || !it->is_string()) return invalid(std::string("hook state on stdin: no string \"") + key + "\"");
    return it->get<std::string>();
  };
  HookState t;
  RG_ASSIGN_OR_RETURN(t.id, str("id"));
  RG_RETURN_IF_ERROR(check_container_id(t.id));
  if (verb == HookInvocation::Verb::kPoststop) {
    // runc's poststop for this bundle, not another root's same id: the bundle when it is there.
    if (auto b = str("bundle"); b.is_ok()) t.bundle = std::move(b).value();
    return t;
  }
  RG_ASSIGN_OR_RETURN(t.bundle, str("bundle"));
  if (t.bundle.empty() || t.bundle[0] != '/') return invalid("hook state on stdin: bundle \"" + t.bundle + "\" is not absolute");
  // Only the create-time stages can still stop the container (runtime-spec runtime.md); later
  // ones run after the process started, so a check there would protect nothing.
  // runc reports "creating" to these stages, crun "created"; both are before the process runs.
  auto st = state.find("status");
  if (st == state.end() || !st->is_string() || (*st != "creating" && *st != "created")) {
    return invalid("runguard-hook check must be registered for the createRuntime or prestart stage (state status is " +
                   (st == state.end() ? std::string("missing") : dump_json(*st)) + ", not \"creating\" or \"created\")");
  }
  t.status = st->get<std::string>();
  return t;
}

namespace {

bool refuses_closed(const Status& s) {
  return s.code() == Code::kDenied || s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound;
}

}  // namespace

HookCheckResult hook_check(std::string_view state_json, const ConfigSource& source) {
  auto fail = [](const Status& s) { return HookCheckResult{1, "runguard: " + s.to_string()}; };
  auto p = load_policy(source);
  if (!p.is_ok()) return fail(p.status());
  auto target = parse_hook_state(state_json, HookInvocation::Verb::kCheck);
  if (!target.is_ok()) return fail(target.status());

  std::string config_path = target->bundle + "/config.json";
  std::vector<std::string> warnings;
  Status s = [&]() -> Status {
    RG_ASSIGN_OR_RETURN(std::string text, internal::read_bundle_config(config_path));
    RG_ASSIGN_OR_RETURN(Json spec, parse_json(text, config_path));
    RG_RETURN_IF_ERROR(policy::validate_spec(spec, config_path));
    policy::ContainerContext ctx = policy::context_from_spec(spec, target->id, target->bundle, "");
    internal::add_host_facts(spec, *p, ctx);
    // The image scan attestation gate, as in create: a container started outside runguard is
    // refused for a failing attestation too (its finding is a deny finding).
    std::string digest_failure;
    if (p->attestation.enabled()) internal::resolve_image_digest("", *p, RuncLog(), ctx, &digest_failure);
    RG_RETURN_IF_ERROR(internal::gate_container(*p, ctx, digest_failure, &warnings));
    // A hook cannot start the runtime monitor: it is not part of the deny-only verdict.
    policy::Policy hook_policy = *p;
    hook_policy.controls.monitor.action = policy::Action::kOff;
    for (auto& o : hook_policy.overrides) o.controls.monitor.action = policy::Action::kOff;
    const Controls& controls = policy::select_controls(hook_policy, ctx, nullptr);
    policy::Decision d = policy::evaluate_spec(hook_policy, std::move(spec), ctx);
    DenyOnlyVerdict v = deny_only_verdict(d, controls);
    if (v.allowed) return Status::ok();
    return Status(Code::kDenied, "container " + target->id + " denied by policy " + p->source + ": " + join(v.reasons, "; "));
  }();
  if (s.is_ok()) return {0, warnings.empty() ? std::string() : "runguard: warning: " + join(warnings, "; ")};
  if (!refuses_closed(s) && p->failure_policy == policy::FailurePolicy::kOpen) {
    return {0, "runguard: " + s.to_string() + " (failurePolicy: open, not refusing the container)"};
  }
  return fail(s);
}

}  // namespace runguard::pipeline
