#include "runguard/policy/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <set>

#include "runguard/common/strings.h"
#include "runguard/policy/catalog.h"
#include "runguard/policy/names.h"
#include "runguard/policy/seccomp_profile.h"
#include "settings_scan.h"
#include "secrets_loader.h"
#include "attestation_loader.h"
#include "yaml_reader.h"

namespace runguard::policy {
namespace {

constexpr size_t kMaxOverrides = 256;

// Walks a YAML document, turning every problem into a Status that names file:line:col and the
// dotted key. yaml-cpp exceptions stop here.
class Loader : private internal::YamlReader {
 public:
  Loader(std::string source, const FileReader& read_file) : YamlReader(std::move(source)), read_file_(read_file) {}

  Status load(const YAML::Node& root, Policy& p) {
    if (!root || root.IsNull()) return Status::ok();  // an empty file is the defaults
    if (!root.IsMap()) return error(root, "", "the policy must be a mapping of keys (runtime, controls, ...)");
    RG_RETURN_IF_ERROR(check_keys(root, "", {"runtime", "stateDir", "libDir", "mode", "failurePolicy", "controls",
                                             "trustedAnnotations", "overrides", "events", "agent", "secrets", "attestation"}));
    if (auto ag = root["agent"]) RG_RETURN_IF_ERROR(agent(ag, p.agent));
    if (auto sec = root["secrets"]) RG_RETURN_IF_ERROR(internal::load_secrets(*this, sec, p.secrets));
    if (auto att = root["attestation"]) RG_RETURN_IF_ERROR(internal::load_attestation(*this, att, p.attestation));
    if (auto ev = root["events"]) {
      RG_RETURN_IF_ERROR(check_keys(ev, "events", {"path"}));
      if (auto path = ev["path"]) { RG_ASSIGN_OR_RETURN(p.events_path, absolute_path(path, "events.path")); }
    }
    if (auto rt = root["runtime"]) {
      RG_RETURN_IF_ERROR(check_keys(rt, "runtime", {"path"}));
      if (auto path = rt["path"]) {
        RG_ASSIGN_OR_RETURN(p.runtime_path, absolute_path(path, "runtime.path"));
      }
    }
    if (auto n = root["stateDir"]) { RG_ASSIGN_OR_RETURN(p.state_dir, absolute_path(n, "stateDir")); }
    if (auto n = root["libDir"]) { RG_ASSIGN_OR_RETURN(p.lib_dir, absolute_path(n, "libDir")); }
    if (auto n = root["mode"]) {
      RG_ASSIGN_OR_RETURN(std::string m, one_of(n, "mode", {"enforce", "audit"}));
      p.mode = m == "audit" ? Mode::kAudit : Mode::kEnforce;
    }
    if (auto n = root["failurePolicy"]) {
      RG_ASSIGN_OR_RETURN(std::string m, one_of(n, "failurePolicy", {"closed", "open"}));
      p.failure_policy = m == "open" ? FailurePolicy::kOpen : FailurePolicy::kClosed;
    }
    if (auto n = root["controls"]) RG_RETURN_IF_ERROR(controls(n, "controls", p.controls));
    if (auto n = root["trustedAnnotations"]) {
      if (!n.IsSequence()) return error(n, "trustedAnnotations", "expected a list of annotation keys");
      for (size_t i = 0; i < n.size(); ++i) {
        RG_ASSIGN_OR_RETURN(std::string k, scalar(n[i], "trustedAnnotations[" + std::to_string(i) + "]"));
        p.trusted_annotations.push_back(k);
      }
    }
    if (auto n = root["overrides"]) RG_RETURN_IF_ERROR(overrides(n, p));
    return Status::ok();
  }

 private:
  // agent: { socket, internalSocket, metrics, containerd, eventRing, digestCacheTtl, requestTimeout, helperTimeout }
  Status agent(const YAML::Node& n, AgentSettings& a) const {
    RG_RETURN_IF_ERROR(check_keys(n, "agent", {"socket", "internalSocket", "metrics", "containerd", "eventRing",
                                               "digestCacheTtl", "requestTimeout", "helperTimeout"}));
    // sun_path holds 107 characters and a NUL.
    auto socket_path = [&](const char* key, std::string& out) -> Status {
      if (auto v = n[key]) {
        RG_ASSIGN_OR_RETURN(out, absolute_path(v, std::string("agent.") + key));
        if (out.size() > 107) return error(v, std::string("agent.") + key, "longer than a unix socket path may be (107 bytes)");
      }
      return Status::ok();
    };
    RG_RETURN_IF_ERROR(socket_path("socket", a.socket));
    RG_RETURN_IF_ERROR(socket_path("internalSocket", a.internal_socket));
    RG_RETURN_IF_ERROR(socket_path("containerd", a.containerd));
    if (a.socket == a.internal_socket) return error(n, "agent.internalSocket", "must differ from agent.socket");
    if (auto v = n["metrics"]) {
      RG_ASSIGN_OR_RETURN(a.metrics, scalar(v, "agent.metrics"));
      RG_RETURN_IF_ERROR(metrics_address(v, a.metrics));
    }
    if (auto v = n["eventRing"]) { RG_ASSIGN_OR_RETURN(a.event_ring, integer(v, "agent.eventRing", 1, 1000000)); }
    if (auto v = n["digestCacheTtl"]) { RG_ASSIGN_OR_RETURN(a.digest_cache_ttl_ms, duration_ms(v, "agent.digestCacheTtl", 0, 86400000)); }
    if (auto v = n["requestTimeout"]) { RG_ASSIGN_OR_RETURN(a.request_timeout_ms, duration_ms(v, "agent.requestTimeout", 1, 60000)); }
    if (auto v = n["helperTimeout"]) { RG_ASSIGN_OR_RETURN(a.helper_timeout_ms, duration_ms(v, "agent.helperTimeout", 1, 60000)); }
    return Status::ok();
  }

  // "" (off), "unix:/abs/path", or "HOST:PORT" with HOST a loopback address (127.x.y.z, [::1],
  // localhost): metrics carry container names and rule names, which are not for the network.
  Status metrics_address(const YAML::Node& n, const std::string& v) const {
    if (v.empty()) return Status::ok();
    if (v.rfind("unix:", 0) == 0) {
      std::string path = v.substr(5);
      if (path.empty() || path.front() != '/' || path.size() > 107) {
        return error(n, "agent.metrics", "\"" + v + "\": unix:PATH needs an absolute path of at most 107 bytes");
      }
      return Status::ok();
    }
    size_t colon = v.rfind(':');
    std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
    auto port = colon == std::string::npos ? std::nullopt : parse_u32(v.substr(colon + 1));
    if (host.empty() || !port || *port == 0 || *port > 65535) {
      return error(n, "agent.metrics", "\"" + v + "\" is not HOST:PORT or unix:PATH (e.g. 127.0.0.1:9447)");
    }
    bool loopback = host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
    if (!loopback) {
      return error(n, "agent.metrics", "\"" + host + "\" is not a loopback address; serve metrics on 127.0.0.1 or a unix socket "
                                       "and let the node's scraper or a proxy reach it");
    }
    return Status::ok();
  }

  Result<Action> action(const YAML::Node& n, const std::string& key, bool allow_enforce) const {
    std::vector<std::string> names = {"enforce", "deny", "audit", "off"};
    RG_ASSIGN_OR_RETURN(std::string v, one_of(n, key, names));
    if (v == "enforce" && !allow_enforce) return error(n, key, "this control cannot be enforced (use deny, audit or off)");
    if (v == "enforce") return Action::kEnforce;
    if (v == "deny") return Action::kDeny;
    if (v == "audit") return Action::kAudit;
    return Action::kOff;
  }

  Status controls(const YAML::Node& n, const std::string& key, Controls& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, control_names()));
    for (const auto& kv : n) {
      std::string name = kv.first.Scalar();
      std::string k = key + "." + name;
      const YAML::Node& v = kv.second;
      if (!v.IsMap()) return error(v, k, "expected a mapping such as { action: enforce }");
      if (name == "user") RG_RETURN_IF_ERROR(user(v, k, c.user));
      else if (name == "userNamespace") RG_RETURN_IF_ERROR(user_namespace(v, k, c.user_namespace));
      else if (name == "capabilities") RG_RETURN_IF_ERROR(capabilities(v, k, c.capabilities));
      else if (name == "noNewPrivileges") RG_RETURN_IF_ERROR(simple(v, k, c.no_new_privileges, true));
      else if (name == "seccomp") RG_RETURN_IF_ERROR(seccomp(v, k, c.seccomp));
      else if (name == "resources") RG_RETURN_IF_ERROR(resources(v, k, c.resources));
      else if (name == "hostNamespaces") RG_RETURN_IF_ERROR(simple(v, k, c.host_namespaces, true));
      else if (name == "privileged") RG_RETURN_IF_ERROR(simple(v, k, c.privileged, true));
      else if (name == "sensitiveMounts") RG_RETURN_IF_ERROR(sensitive_mounts(v, k, c.sensitive_mounts));
      else if (name == "readonlyRootfs") RG_RETURN_IF_ERROR(simple(v, k, c.readonly_rootfs, true));
      else if (name == "secretsInEnv") RG_RETURN_IF_ERROR(simple(v, k, c.secrets_in_env, true));
      else if (name == "monitor") RG_RETURN_IF_ERROR(monitor(v, k, c.monitor));
    }
    // The uid the user control enforces must exist inside the namespace's range.
    const UserNamespaceControl& u = c.user_namespace;
    if (u.action != Action::kOff && c.user.action != Action::kOff && std::max(c.user.uid, c.user.gid) >= u.range_size) {
      return error(n, key, "user.uid/gid " + std::to_string(std::max(c.user.uid, c.user.gid)) + " is outside userNamespace.rangeSize " +
                               std::to_string(u.range_size) + " (container ids 0-" + std::to_string(u.range_size - 1) +
                               "); raise rangeSize or lower the uid");
    }
    return Status::ok();
  }

  Status simple(const YAML::Node& n, const std::string& key, SimpleControl& c, bool allow_enforce) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", allow_enforce)); }
    return Status::ok();
  }

  Status user(const YAML::Node& n, const std::string& key, UserControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "uid", "gid", "allowRootInUserNamespace"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    if (auto r = n["allowRootInUserNamespace"]) { RG_ASSIGN_OR_RETURN(c.allow_root_in_user_namespace, boolean(r, key + ".allowRootInUserNamespace")); }
    if (auto u = n["uid"]) {
      RG_ASSIGN_OR_RETURN(int64_t uid, integer(u, key + ".uid", 1, UINT32_MAX - 1));
      c.uid = static_cast<uint32_t>(uid);
    }
    if (auto g = n["gid"]) {
      RG_ASSIGN_OR_RETURN(int64_t gid, integer(g, key + ".gid", 1, UINT32_MAX - 1));
      c.gid = static_cast<uint32_t>(gid);
    }
    return Status::ok();
  }

  Status user_namespace(const YAML::Node& n, const std::string& key, UserNamespaceControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "rangeSize", "firstHostId", "count", "minHostId", "fallback"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    struct Field { const char* name; uint32_t* out; int64_t min; };
    for (const Field& f : {Field{"rangeSize", &c.range_size, 1}, Field{"firstHostId", &c.first_host_id, 1},
                           Field{"count", &c.count, 1}, Field{"minHostId", &c.min_host_id, 1}}) {
      if (auto v = n[f.name]) {
        RG_ASSIGN_OR_RETURN(int64_t x, integer(v, key + "." + f.name, f.min, UINT32_MAX - 1));
        *f.out = static_cast<uint32_t>(x);
      }
    }
    if (auto f = n["fallback"]) {
      RG_ASSIGN_OR_RETURN(std::string v, one_of(f, key + ".fallback", {"none", "chown"}));
      c.fallback = v == "chown" ? UserNamespaceControl::Fallback::kChown : UserNamespaceControl::Fallback::kNone;
    }
    uint64_t end = uint64_t{c.first_host_id} + uint64_t{c.count} * c.range_size;
    if (end > UINT32_MAX) {
      return error(n, key, "the pool (" + std::to_string(c.count) + " ranges of " + std::to_string(c.range_size) + " ids from " +
                               std::to_string(c.first_host_id) + ") runs past the largest host id 4294967294; lower count or firstHostId");
    }
    if (c.first_host_id < c.min_host_id) {
      return error(n, key, "firstHostId " + std::to_string(c.first_host_id) + " is below minHostId " + std::to_string(c.min_host_id) +
                               ": the pool would hand out the host's own ids");
    }
    return Status::ok();
  }

  // Syscalls runc itself needs after it installs the filter (it sends the listener fd with
  // sendmsg and syncs over pipes) or that no one could answer in time: notifying them would
  // deadlock the container's start or every process in it.
  static const std::vector<std::string>& never_notified() {
    // runc init is a Go program: its runtime's calls between loading the filter and handing the fd
    // to the monitor would wait for an answer nobody can give yet.
    static const std::vector<std::string> k = {
        "write", "writev", "pwrite64", "read", "readv", "sendmsg", "sendto", "recvmsg", "futex", "close", "exit",
        "exit_group", "rt_sigreturn", "mmap", "munmap", "mprotect", "madvise", "brk", "clone", "clone3", "nanosleep",
        "clock_nanosleep", "sched_yield", "tgkill", "getpid", "gettid", "rt_sigprocmask", "rt_sigaction",
        "sigaltstack", "epoll_pwait", "epoll_wait", "epoll_ctl", "fcntl", "pidfd_getfd", "pidfd_open", "connect",
        "socket", "getsockopt", "setsockopt", "poll", "ppoll", "pselect6", "select", "dup", "dup2", "dup3",
        "openat", "newfstatat", "fstat", "lseek", "getrandom", "prctl", "seccomp"};
    return k;
  }

  Status monitor(const YAML::Node& n, const std::string& key, MonitorControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "syscalls", "rules", "block"}));
    if (auto a = n["action"]) {
      RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true));
      if (c.action == Action::kDeny) return error(a, key + ".action", "the monitor can enforce, audit or be off (deny refuses nothing here)");
    }
    if (auto b = n["block"]) { RG_ASSIGN_OR_RETURN(c.block, boolean(b, key + ".block")); }
    if (auto list = n["syscalls"]) {
      if (!list.IsSequence() || list.size() == 0) return error(list, key + ".syscalls", "expected a non-empty list of syscall names");
      c.syscalls.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        std::string k = key + ".syscalls[" + std::to_string(i) + "]";
        RG_ASSIGN_OR_RETURN(std::string name, scalar(list[i], k));
        if (Status s = check_syscall_name(name); !s.is_ok()) return error(list[i], k, s.message());
        if (std::find(never_notified().begin(), never_notified().end(), name) != never_notified().end()) {
          return error(list[i], k, "\"" + name + "\" cannot be monitored: runc and every process need it answered at once (it would deadlock)");
        }
        if (std::find(c.syscalls.begin(), c.syscalls.end(), name) == c.syscalls.end()) c.syscalls.push_back(name);
      }
    }
    if (auto list = n["rules"]) {
      if (!list.IsSequence()) return error(list, key + ".rules", "expected a list of rule files");
      c.rules.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        RG_ASSIGN_OR_RETURN(std::string path, absolute_path(list[i], key + ".rules[" + std::to_string(i) + "]"));
        c.rules.push_back(path);
      }
    }
    return Status::ok();
  }

  Status capabilities(const YAML::Node& n, const std::string& key, CapabilitiesControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "allow"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    if (auto list = n["allow"]) {
      if (!list.IsSequence()) return error(list, key + ".allow", "expected a list of capability names");
      c.allow.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        std::string k = key + ".allow[" + std::to_string(i) + "]";
        RG_ASSIGN_OR_RETURN(std::string name, scalar(list[i], k));
        auto cap = canonical_capability(name);
        if (!cap.is_ok()) return error(list[i], k, cap.status().message());
        if (std::find(c.allow.begin(), c.allow.end(), *cap) == c.allow.end()) c.allow.push_back(*cap);
      }
    }
    return Status::ok();
  }

  Status seccomp(const YAML::Node& n, const std::string& key, SeccompControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "profile"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    if (auto prof = n["profile"]) {
      RG_ASSIGN_OR_RETURN(std::string v, scalar(prof, key + ".profile"));
      if (v == "default") {
        c.profile = v;
        auto j = parse_json(embedded_seccomp_profile(), "<embedded default seccomp profile>");
        if (!j.is_ok()) return Status(Code::kInternal, j.status().message());
        c.profile_json = std::move(j).value();
      } else if (v.empty() || v.front() != '/') {
        return error(prof, key + ".profile", "\"" + v + "\" must be \"default\" or an absolute path to an OCI linux.seccomp JSON file");
      } else {
        auto text = read_file_(v);
        if (!text.is_ok()) return error(prof, key + ".profile", "cannot read seccomp profile: " + text.status().to_string());
        auto j = parse_json(*text, v);
        if (!j.is_ok()) return error(prof, key + ".profile", j.status().message());
        Status s = validate_seccomp_profile(*j, v, /*check_names=*/true);
        if (!s.is_ok()) return error(prof, key + ".profile", s.message());
        c.profile = v;
        c.profile_json = std::move(j).value();
      }
    }
    return Status::ok();
  }

  Status limit(const YAML::Node& n, const std::string& key, LimitSetting& l, bool bytes) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"default", "max"}));
    for (const char* field : {"default", "max"}) {
      auto v = n[field];
      if (!v) continue;
      std::string k = key + "." + field;
      int64_t x = 0;
      if (bytes) {
        RG_ASSIGN_OR_RETURN(x, byte_size(v, k));
      } else {
        RG_ASSIGN_OR_RETURN(x, integer(v, k, 1, INT64_MAX / 2));
      }
      (std::string(field) == "default" ? l.default_value : l.max) = x;
    }
    if (l.default_value && l.max && *l.default_value > *l.max) {
      return error(n, key, "default (" + std::to_string(*l.default_value) + ") is larger than max (" + std::to_string(*l.max) + ")");
    }
    return Status::ok();
  }

  Status resources(const YAML::Node& n, const std::string& key, ResourcesControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "memory", "pids", "cpu", "rlimits"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    if (auto m = n["memory"]) RG_RETURN_IF_ERROR(limit(m, key + ".memory", c.memory, true));
    if (auto p = n["pids"]) RG_RETURN_IF_ERROR(limit(p, key + ".pids", c.pids, false));
    if (auto cpu = n["cpu"]) {
      RG_RETURN_IF_ERROR(check_keys(cpu, key + ".cpu", {"defaultShares"}));
      if (auto s = cpu["defaultShares"]) {
        RG_ASSIGN_OR_RETURN(int64_t shares, integer(s, key + ".cpu.defaultShares", 2, 262144));
        c.cpu_default_shares = static_cast<uint64_t>(shares);
      }
    }
    if (auto r = n["rlimits"]) {
      if (!r.IsMap()) return error(r, key + ".rlimits", "expected a mapping such as { RLIMIT_NOFILE: { default: 16384 } }");
      for (const auto& kv : r) {
        std::string name = kv.first.Scalar();
        std::string k = key + ".rlimits." + name;
        if (!is_rlimit_name(name)) return error(kv.first, k, "unknown rlimit" + did_you_mean(name, rlimit_names()));
        RG_RETURN_IF_ERROR(check_keys(kv.second, k, {"default", "max"}));
        RlimitSetting& s = c.rlimits[name];
        if (auto d = kv.second["default"]) { RG_ASSIGN_OR_RETURN(int64_t x, integer(d, k + ".default", 0, INT64_MAX)); s.default_value = x; }
        if (auto m = kv.second["max"]) { RG_ASSIGN_OR_RETURN(int64_t x, integer(m, k + ".max", 0, INT64_MAX)); s.max = x; }
        if (s.default_value && s.max && *s.default_value > *s.max) return error(kv.second, k, "default is larger than max");
      }
    }
    return Status::ok();
  }

  Status sensitive_mounts(const YAML::Node& n, const std::string& key, SensitiveMountsControl& c) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"action", "allow"}));
    if (auto a = n["action"]) { RG_ASSIGN_OR_RETURN(c.action, action(a, key + ".action", true)); }
    if (auto list = n["allow"]) {
      if (!list.IsSequence()) return error(list, key + ".allow", "expected a list of host paths");
      c.allow.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        RG_ASSIGN_OR_RETURN(std::string path, absolute_path(list[i], key + ".allow[" + std::to_string(i) + "]"));
        c.allow.push_back(normalize_path(path));
      }
    }
    return Status::ok();
  }

  Status match(const YAML::Node& n, const std::string& key, Match& m) const {
    RG_RETURN_IF_ERROR(check_keys(n, key, {"containerType", "namespace", "image", "annotations"}));
    if (auto t = n["containerType"]) { RG_ASSIGN_OR_RETURN(m.container_type, one_of(t, key + ".containerType", {"sandbox", "container"})); }
    if (auto ns = n["namespace"]) { RG_ASSIGN_OR_RETURN(m.namespace_, scalar(ns, key + ".namespace")); }
    if (auto img = n["image"]) { RG_ASSIGN_OR_RETURN(m.image, scalar(img, key + ".image")); }
    if (auto a = n["annotations"]) {
      if (!a.IsMap()) return error(a, key + ".annotations", "expected a mapping of annotation name to value (glob)");
      for (const auto& kv : a) {
        RG_ASSIGN_OR_RETURN(std::string v, scalar(kv.second, key + ".annotations." + kv.first.Scalar()));
        m.annotations[kv.first.Scalar()] = v;
      }
    }
    return Status::ok();
  }

  Status overrides(const YAML::Node& n, Policy& p) const {
    if (!n.IsSequence()) return error(n, "overrides", "expected a list of { match: ..., controls: ... }");
    if (n.size() > kMaxOverrides) return error(n, "overrides", "more than " + std::to_string(kMaxOverrides) + " overrides");
    for (size_t i = 0; i < n.size(); ++i) {
      std::string key = "overrides[" + std::to_string(i) + "]";
      const YAML::Node& o = n[i];
      RG_RETURN_IF_ERROR(check_keys(o, key, {"name", "match", "controls"}));
      Override ov;
      ov.name = key;
      if (auto name = o["name"]) { RG_ASSIGN_OR_RETURN(ov.name, scalar(name, key + ".name")); }
      if (!o["match"]) return error(o, key, "missing match (use match: {} to match every container)");
      RG_RETURN_IF_ERROR(match(o["match"], key + ".match", ov.match));
      ov.controls = p.controls;
      if (auto c = o["controls"]) RG_RETURN_IF_ERROR(controls(c, key + ".controls", ov.controls));
      p.overrides.push_back(std::move(ov));
    }
    for (size_t i = 0; i < p.overrides.size(); ++i) RG_RETURN_IF_ERROR(annotation_trust(n[i], i, p));
    return Status::ok();
  }

  // Annotations come from whoever writes the pod spec: an override they select may loosen the
  // node's controls only through annotation keys the policy lists under trustedAnnotations.
  // It must not be weaker than the top-level controls, nor than any later override it would
  // shadow (a pod adding the annotation would otherwise escape that override).
  Status annotation_trust(const YAML::Node& o, size_t index, const Policy& p) const {
    const Override& ov = p.overrides[index];
    std::string key = "overrides[" + std::to_string(index) + "]";
    std::vector<std::string> untrusted;
    for (const auto& [k, v] : ov.match.annotations) {
      if (std::find(p.trusted_annotations.begin(), p.trusted_annotations.end(), k) == p.trusted_annotations.end()) {
        untrusted.push_back("\"" + k + "\"");
      }
    }
    if (untrusted.empty()) return Status::ok();
    std::vector<std::string> weaker = loosenings(p.controls, ov.controls);
    for (size_t j = index + 1; j < p.overrides.size(); ++j) {
      for (auto& w : loosenings(p.overrides[j].controls, ov.controls)) weaker.push_back(w + " (than " + p.overrides[j].name + ")");
    }
    if (weaker.empty()) return Status::ok();
    return error(o["match"]["annotations"], key + ".match.annotations",
                 "matches on annotation " + join(untrusted, ", ") + ", which whoever writes the pod spec can set, and loosens " +
                     join(weaker, "; ") + "; list the annotation under trustedAnnotations to let it loosen controls");
  }

  const FileReader& read_file_;
};

Status load_default_profile(Controls& c) {
  auto j = parse_json(embedded_seccomp_profile(), "<embedded default seccomp profile>");
  if (!j.is_ok()) return Status(Code::kInternal, j.status().message());
  c.seccomp.profile_json = std::move(j).value();
  return Status::ok();
}

}  // namespace

Result<Policy> parse_policy(std::string_view yaml, const std::string& source, const FileReader& read_file) {
  Policy p;
  p.source = source;
  RG_RETURN_IF_ERROR(load_default_profile(p.controls));
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return invalid(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                   ": invalid YAML: " + e.msg);
  }
  try {
    RG_RETURN_IF_ERROR(Loader(source, read_file).load(root, p));
  } catch (const YAML::Exception& e) {
    return invalid(source + ":" + std::to_string(e.mark.line + 1) + ": invalid policy: " + e.msg);
  }
  return p;
}

Result<Policy> default_policy() {
  Policy p;
  p.source = "<embedded defaults>";
  RG_RETURN_IF_ERROR(load_default_profile(p.controls));
  return p;
}

RuntimeSettings peek_runtime_settings(std::string_view yaml) {
  // The common shapes are read by a line scanner (yaml-cpp costs ~0.5 ms here, a third of
  // runguard's whole pass-through overhead); anything it is unsure of goes to yaml-cpp.
  if (auto quick = internal::scan_runtime_settings(yaml)) return *quick;
  return internal::yaml_runtime_settings(yaml);
}

namespace internal {

RuntimeSettings yaml_runtime_settings(std::string_view yaml) {
  RuntimeSettings s;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return s;
    if (auto rt = root["runtime"]; rt && rt.IsMap()) {
      if (auto p = rt["path"]; p && p.IsScalar()) s.runtime_path = p.Scalar();
    }
    if (auto d = root["stateDir"]; d && d.IsScalar() && !d.Scalar().empty() && d.Scalar()[0] == '/') s.state_dir = d.Scalar();
  } catch (const YAML::Exception&) {
    // A broken file keeps the defaults here; create/run report the error in full.
  }
  return s;
}

}  // namespace internal

}  // namespace runguard::policy
