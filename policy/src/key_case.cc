// runc decodes config.json with Go's encoding/json, which matches object keys to struct fields
// case-insensitively (with Unicode simple folding: "ſ" is "s", the Kelvin sign is "k") and keeps
// the last of several matching keys. runguard reads keys exactly. Without this check
// {"Source": "/"} or "noNewPrivileges": true, "nonewprivileges": false would mean one thing to the
// policy and another to runc. So a key that folds to an OCI field name but is not spelled exactly
// like it, or two keys that fold alike, are input errors.
#include <set>
#include <string>
#include <string_view>

#include "key_case.h"

namespace runguard::policy::internal {
namespace {

// Every field name of the OCI runtime spec (config.json, process, LinuxResources, seccomp, hooks).
constexpr std::string_view kFields[] = {
    "ociVersion", "process", "terminal", "consoleSize", "height", "width", "user", "uid", "gid", "umask",
    "additionalGids", "username", "args", "commandLine", "env", "cwd", "capabilities", "bounding", "effective",
    "inheritable", "permitted", "ambient", "rlimits", "type", "hard", "soft", "noNewPrivileges",
    "apparmorProfile", "oomScoreAdj", "selinuxLabel", "ioPriority", "class", "priority", "scheduler", "policy",
    "nice", "flags", "runtime", "deadline", "period", "execCPUAffinity", "initial", "final", "root", "path",
    "readonly", "hostname", "domainname", "mounts", "destination", "source", "options", "uidMappings",
    "gidMappings", "containerID", "hostID", "size", "hooks", "prestart", "createRuntime", "createContainer",
    "startContainer", "poststart", "poststop", "timeout", "annotations", "linux", "namespaces", "devices",
    "major", "minor", "fileMode", "cgroupsPath", "resources", "allow", "access", "memory", "limit",
    "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy",
    "checkBeforeUpdate", "cpu", "shares", "quota", "burst", "realtimeRuntime", "realtimePeriod", "cpus", "mems",
    "idle", "pids", "blockIO", "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
    "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice", "rate", "hugepageLimits",
    "pageSize", "network", "classID", "priorities", "name", "rdma", "hcaHandles", "hcaObjects", "unified",
    "intelRdt", "closID", "l3CacheSchema", "memBwSchema", "enableCMT", "enableMBM", "sysctl", "seccomp",
    "defaultAction", "defaultErrnoRet", "architectures", "listenerPath", "listenerMetadata", "syscalls",
    "names", "action", "errnoRet", "index", "value", "valueTwo", "op", "rootfsPropagation", "maskedPaths",
    "readonlyPaths", "mountLabel", "personality", "domain", "timeOffsets", "secs", "nanosecs", "netDevices",
    "memoryPolicy", "mode", "nodes", "vm", "hypervisor", "image", "parameters"};

// Go's key folding: ASCII case, plus U+017F (ſ) -> s and U+212A (Kelvin) -> k.
std::string fold(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c == 0xC5 && i + 1 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0xBF) {
      out += 's';
      ++i;
    } else if (c == 0xE2 && i + 2 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0x84 &&
               static_cast<unsigned char>(key[i + 2]) == 0xAA) {
      out += 'k';
      i += 2;
    } else {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }
  return out;
}

const std::set<std::string>& folded_fields() {
  static const std::set<std::string> kFolded = [] {
    std::set<std::string> s;
    for (auto f : kFields) s.insert(fold(f));
    return s;
  }();
  return kFolded;
}

bool is_field(std::string_view key) {
  for (auto f : kFields) {
    if (f == key) return true;
  }
  return false;
}

Status walk(const Json& v, const std::string& ptr, const std::string& source, const std::set<std::string>& maps) {
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) RG_RETURN_IF_ERROR(walk(v[i], ptr + "/" + std::to_string(i), source, maps));
    return Status::ok();
  }
  if (!v.is_object()) return Status::ok();
  bool is_map = maps.count(ptr) > 0;  // free-form keys (annotations, sysctl, unified): not fields
  std::set<std::string> seen;
  for (const auto& [key, child] : v.items()) {
    std::string f = fold(key);
    std::string at = ptr + "/" + json_pointer_token(key);
    if (!is_map && !seen.insert(f).second) {
      return invalid(source + ": " + at + ": another key of this object differs from \"" + key +
                     "\" only in case; runc (Go) would use one of them: keep exactly one");
    }
    if (!is_map && !is_field(key) && folded_fields().count(f)) {
      return invalid(source + ": " + at + ": runc reads \"" + key +
                     "\" as an OCI field (JSON keys are case-insensitive in Go); spell the field exactly as the "
                     "runtime spec does");
    }
    // Only OCI fields are descended into: runc ignores unknown keys and everything below them.
    if (!is_map && is_field(key)) RG_RETURN_IF_ERROR(walk(child, at, source, maps));
  }
  return Status::ok();
}

}  // namespace

Status check_key_case(const Json& doc, const std::string& source, const std::set<std::string>& map_pointers) {
  return walk(doc, "", source, map_pointers);
}

}  // namespace runguard::policy::internal
