// Controls over the container as a whole: seccomp, resources, namespaces, the privileged pattern,
// mounts and the root filesystem.
#include <algorithm>
#include <array>

#include "eval.h"
#include "runguard/common/strings.h"
#include "runguard/policy/names.h"
#include "runguard/policy/seccomp_profile.h"

namespace runguard::policy::internal {
namespace {

int64_t int_or(const Json* j, int64_t fallback) { return j != nullptr && j->is_number_integer() ? j->get<int64_t>() : fallback; }

// One limit (memory or pids): absent or unlimited -> default; above max -> max. Returns true when
// it changed the limit.
bool check_limit(const ResourcesControl& c, Eval& e, const char* id, const char* what, const std::string& ptr,
                 const LimitSetting& l, bool bytes, bool update) {
  auto fmt = [&](int64_t v) { return bytes ? format_byte_size(v) : std::to_string(v); };
  const Json* cur = at(e.doc(), ptr);
  int64_t v = int_or(cur, 0);
  // In a spec, absent / 0 / -1 all mean "no limit". In an update, absent and 0 mean "leave as
  // is" (runc skips them) and only a negative value asks for unlimited.
  if (update && (cur == nullptr || v == 0)) return false;
  bool unlimited = cur == nullptr || v <= 0;
  std::optional<int64_t> target;
  std::string message;
  if (unlimited) {
    target = update ? l.max : (l.default_value ? l.default_value : l.max);
    if (target) message = std::string(what) + " is unlimited; limiting it to " + fmt(*target);
  } else if (l.max && v > *l.max) {
    target = l.max;
    message = std::string(what) + " " + fmt(v) + " exceeds the maximum " + fmt(*l.max);
  }
  if (!target || !e.violation("resources", id, Severity::kMedium, c.action, message, ptr)) return false;
  e.set(ptr, *target);
  return true;
}

// Keeps memory.swap (memory+swap on cgroup v1, and what CRI sets equal to the limit for "no
// swap") and reservation consistent with a memory limit runguard just set: swap becomes the new
// limit, i.e. no swap. Keeping the old value would leave a 20Gi memory+swap beside an 8Gi limit
// (12Gi of swap nobody granted); runc refuses swap < limit. Recorded under the memory finding.
void fix_memory_companions(Eval& e, const std::string& base) {
  const Json* limit = at(e.doc(), base + "/memory/limit");
  if (limit == nullptr || !limit->is_number_integer()) return;
  int64_t l = limit->get<int64_t>();
  if (const Json* swap = at(e.doc(), base + "/memory/swap"); swap != nullptr && swap->is_number_integer()) {
    if (swap->get<int64_t>() != 0 && swap->get<int64_t>() != l) e.set(base + "/memory/swap", l);
  }
  if (const Json* res = at(e.doc(), base + "/memory/reservation"); res != nullptr && res->is_number_integer()) {
    if (res->get<int64_t>() > l) e.set(base + "/memory/reservation", l);
  }
}

// memory.swap is memory+swap: unlimited (-1) or above the memory maximum it lets a container use
// swap no limit bounds. Clamped to the memory maximum (runc also needs swap >= limit, which a
// limit within the maximum satisfies). Checked whether or not runguard set the limit, so an
// `update --memory-swap -1` cannot lift it either.
void check_swap(const ResourcesControl& c, Eval& e, const std::string& base) {
  const Json* swap = at(e.doc(), base + "/memory/swap");
  if (swap == nullptr || !swap->is_number_integer() || !c.memory.max) return;
  int64_t s = swap->get<int64_t>();
  if (s == 0 || (s > 0 && s <= *c.memory.max)) return;
  std::string what = s < 0 ? "unlimited" : format_byte_size(s);
  if (e.violation("resources", "RG-RES-001", Severity::kMedium, c.action,
                  "memory+swap limit " + what + " exceeds the memory maximum " + format_byte_size(*c.memory.max),
                  base + "/memory/swap")) {
    e.set(base + "/memory/swap", *c.memory.max);
  }
}

// On cgroup v2 runc writes linux.resources.unified after the typed limits, in create and update:
// these keys would undo the limits this control sets.
void check_unified(const ResourcesControl& c, Eval& e, const std::string& base) {
  static constexpr const char* kGoverned[] = {"memory.max", "memory.swap.max", "memory.high", "pids.max"};
  for (const char* key : kGoverned) {
    std::string ptr = base + "/unified/" + key;
    if (at(e.doc(), ptr) == nullptr) continue;
    if (e.violation("resources", "RG-RES-005", Severity::kMedium, c.action,
                    std::string("linux.resources.unified sets ") + key +
                        ", which would override the memory and pids limits; set the typed limits instead",
                    ptr)) {
      e.remove(ptr);
    }
  }
}

}  // namespace

void check_seccomp(const SeccompControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  const Json* prof = at(e.doc(), "/linux/seccomp");
  if (prof != nullptr && !prof->is_null() && !seccomp_allows_all(*prof)) return;
  std::string why = prof == nullptr || prof->is_null() ? "no seccomp profile" : "the seccomp profile allows every syscall";
  if (e.violation("seccomp", "RG-SECCOMP-001", Severity::kHigh, c.action,
                  why + "; installing the " + (c.profile == "default" ? std::string("runguard default") : c.profile) + " profile",
                  "/linux/seccomp")) {
    e.set("/linux/seccomp", c.profile_json, Json("profile:" + c.profile));
  }
}

void check_resources(const ResourcesControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  if (check_limit(c, e, "RG-RES-001", "memory limit", "/linux/resources/memory/limit", c.memory, true, false)) {
    fix_memory_companions(e, "/linux/resources");
  }
  check_swap(c, e, "/linux/resources");
  (void)check_limit(c, e, "RG-RES-003", "pids limit", "/linux/resources/pids/limit", c.pids, false, false);
  check_unified(c, e, "/linux/resources");
  if (c.cpu_default_shares) {
    const Json* shares = at(e.doc(), "/linux/resources/cpu/shares");
    const Json* quota = at(e.doc(), "/linux/resources/cpu/quota");
    if ((shares == nullptr || int_or(shares, 0) == 0) && (quota == nullptr || int_or(quota, 0) <= 0)) {
      if (e.violation("resources", "RG-RES-002", Severity::kLow, c.action,
                      "cpu shares are not set; defaulting to " + std::to_string(*c.cpu_default_shares),
                      "/linux/resources/cpu/shares")) {
        e.set("/linux/resources/cpu/shares", *c.cpu_default_shares);
      }
    }
  }
  check_rlimits(c, e, "/process");
}

void check_update_resources(const ResourcesControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  if (check_limit(c, e, "RG-RES-001", "memory limit", "/memory/limit", c.memory, true, true)) fix_memory_companions(e, "");
  check_swap(c, e, "");
  (void)check_limit(c, e, "RG-RES-003", "pids limit", "/pids/limit", c.pids, false, true);
  check_unified(c, e, "");
}

void check_host_namespaces(const SimpleControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  // Namespaces a container must have its own of; user, cgroup and time are only checked when
  // they join a host namespace by path (their absence is the runtime default).
  static constexpr std::array<std::pair<const char*, const char*>, 8> kTypes = {{
      {"pid", "pid"}, {"network", "net"}, {"ipc", "ipc"}, {"uts", "uts"}, {"mount", "mnt"},
      {"user", "user"}, {"cgroup", "cgroup"}, {"time", "time"}}};
  const Json* list = at(e.doc(), "/linux/namespaces");
  for (size_t k = 0; k < kTypes.size(); ++k) {
    auto [type, file] = kTypes[k];
    std::optional<size_t> index;
    if (list != nullptr && list->is_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (str_member((*list)[i], "type") == type) index = i;
      }
    }
    if (!index) {
      if (k >= 5) continue;
      if (e.violation("hostNamespaces", "RG-HOSTNS-001", Severity::kCritical, c.action,
                      std::string("the container shares the host's ") + type + " namespace", "/linux/namespaces")) {
        size_t n = list != nullptr && list->is_array() ? list->size() : 0;
        e.set("/linux/namespaces/" + std::to_string(n), Json{{"type", type}});
        list = at(e.doc(), "/linux/namespaces");
      }
      continue;
    }
    std::string path = str_member((*list)[*index], "path");
    if (path.empty()) continue;
    std::string norm = normalize_path(path);
    bool host = e.ctx().host_namespace_paths.count(path) > 0 || path_within(norm, "/proc/1/ns") ||
                path_within(norm, "/proc/self/ns") || path_within(norm, "/proc/thread-self/ns");
    if (!host) continue;
    std::string ptr = "/linux/namespaces/" + std::to_string(*index) + "/path";
    if (e.violation("hostNamespaces", "RG-HOSTNS-001", Severity::kCritical, c.action,
                    std::string("the container joins the host's ") + type + " namespace (" + path + ")", ptr)) {
      e.remove(ptr);
      list = at(e.doc(), "/linux/namespaces");
    }
  }
}

void check_privileged(const SimpleControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  const Json* bnd = at(e.doc(), "/process/capabilities/bounding");
  size_t ncaps = bnd != nullptr && bnd->is_array() ? bnd->size() : 0;
  bool sys_admin = false;
  if (bnd != nullptr && bnd->is_array()) {
    for (const auto& cap : *bnd) sys_admin |= cap == "CAP_SYS_ADMIN";
  }
  // Full capabilities: every capability this libcap-ng knows of, allowing for a few the spec's
  // writer did not know yet.
  bool all_caps = sys_admin && ncaps + 4 >= all_capabilities().size();
  if (!all_caps) return;
  std::vector<std::string> signs;
  const Json* prof = at(e.doc(), "/linux/seccomp");
  if (prof == nullptr || prof->is_null() || seccomp_allows_all(*prof)) signs.push_back("no seccomp");
  const Json* masked = at(e.doc(), "/linux/maskedPaths");
  if (masked == nullptr || masked->empty()) signs.push_back("no masked paths");
  const Json* ro = at(e.doc(), "/linux/readonlyPaths");
  if (ro == nullptr || ro->empty()) signs.push_back("no read-only paths");
  std::optional<size_t> allow_all_devices;
  if (const Json* dev = at(e.doc(), "/linux/resources/devices"); dev != nullptr && dev->is_array()) {
    for (size_t i = 0; i < dev->size(); ++i) {
      const Json& r = (*dev)[i];
      std::string type = str_member(r, "type");
      bool any_type = type.empty() || type == "a";
      if (bool_member(r, "allow") && any_type && !has_member(r, "major") && !has_member(r, "minor")) allow_all_devices = i;
    }
  }
  if (allow_all_devices) signs.push_back("all devices allowed");
  if (signs.size() < 2) return;
  if (!e.violation("privileged", "RG-PRIV-001", Severity::kCritical, c.action,
                   "the container is privileged (all capabilities, " + join(signs, ", ") + ")", "/process/capabilities")) {
    return;
  }
  // The capability and seccomp controls handle their parts; restore the kernel-interface masks and
  // the device allow list that --privileged removes.
  if (masked == nullptr || masked->empty()) {
    e.set("/linux/maskedPaths", Json::array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                             "/sys/firmware", "/sys/devices/virtual/powercap"}));
  }
  if (ro == nullptr || ro->empty()) {
    e.set("/linux/readonlyPaths", Json::array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  }
  if (allow_all_devices) {
    e.set("/linux/resources/devices/" + std::to_string(*allow_all_devices), Json{{"allow", false}, {"access", "rwm"}});
  }
}

}  // namespace runguard::policy::internal
