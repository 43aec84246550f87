// The userNamespace control (RG-USERNS-*) and the plan the runtime allocates by.
#include <algorithm>

#include "eval.h"
#include "runguard/common/strings.h"
#include "runguard/policy/engine.h"
#include "runguard/policy/userns.h"

namespace runguard::policy {
namespace {

std::optional<size_t> user_entry(const Json& spec) {
  const Json* list = internal::at(spec, "/linux/namespaces");
  if (list == nullptr || !list->is_array()) return std::nullopt;
  for (size_t i = 0; i < list->size(); ++i) {
    if (internal::str_member((*list)[i], "type") == "user") return i;
  }
  return std::nullopt;
}

bool is_host_path(const std::string& path, const ContainerContext& ctx) {
  std::string norm = normalize_path(path);
  return ctx.host_namespace_paths.count(path) > 0 || path_within(norm, "/proc/1/ns") || path_within(norm, "/proc/self/ns") ||
         path_within(norm, "/proc/thread-self/ns");
}

// The first namespace other than user that the spec joins by path ("network /proc/7/ns/net"),
// host paths included unless hostNamespaces (evaluated first) removes them.
std::optional<std::pair<std::string, std::string>> joined_namespace(const Json& spec, const ContainerContext& ctx,
                                                                    bool host_paths_removed) {
  const Json* list = internal::at(spec, "/linux/namespaces");
  if (list == nullptr || !list->is_array()) return std::nullopt;
  for (const auto& n : *list) {
    std::string type = internal::str_member(n, "type");
    std::string path = internal::str_member(n, "path");
    if (type == "user" || path.empty() || (host_paths_removed && is_host_path(path, ctx))) continue;
    return std::make_pair(type, path);
  }
  return std::nullopt;
}

std::string range_text(uint64_t start, uint64_t size) {
  return std::to_string(start) + "-" + std::to_string(start + size - 1);
}

}  // namespace

std::vector<IdMapping> spec_mappings(const Json& spec, bool gid) {
  std::vector<IdMapping> out;
  const Json* list = internal::at(spec, gid ? "/linux/gidMappings" : "/linux/uidMappings");
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& m : *list) {
    if (!m.is_object()) continue;
    out.push_back({static_cast<uint32_t>(internal::uint_member(m, "containerID")),
                   static_cast<uint32_t>(internal::uint_member(m, "hostID")),
                   static_cast<uint32_t>(internal::uint_member(m, "size"))});
  }
  return out;
}

std::optional<uint32_t> host_id_of(const Json& spec, uint32_t id, bool gid) {
  auto maps = spec_mappings(spec, gid);
  if (maps.empty()) return id;
  return map_to_host(maps, id);
}

UsernsShape userns_shape(const Json& spec, const ContainerContext& ctx) {
  auto i = user_entry(spec);
  if (!i) return UsernsShape::kNone;
  std::string path = internal::str_member(internal::at(spec, "/linux/namespaces")->at(*i), "path");
  if (!path.empty() && is_host_path(path, ctx)) return UsernsShape::kHostPath;
  bool mapped = !spec_mappings(spec, false).empty() && !spec_mappings(spec, true).empty();
  if (mapped) return UsernsShape::kOwnMappings;
  return path.empty() ? UsernsShape::kEntryNoMappings : UsernsShape::kJoinsPath;
}

UsernsPlan plan_user_namespace(const Policy& p, const Json& spec, const ContainerContext& ctx) {
  UsernsPlan plan;
  const UserNamespaceControl& c = select_controls(p, ctx, nullptr).user_namespace;
  if (p.mode == Mode::kAudit || c.action == Action::kOff || c.action == Action::kAudit) return plan;
  const Controls& all = select_controls(p, ctx, nullptr);
  switch (userns_shape(spec, ctx)) {
    case UsernsShape::kNone:
    case UsernsShape::kHostPath:
    case UsernsShape::kEntryNoMappings:
      if (c.action == Action::kEnforce && !joined_namespace(spec, ctx, all.host_namespaces.action == Action::kEnforce)) {
        plan.kind = UsernsPlan::kAllocate;
      }
      break;
    case UsernsShape::kOwnMappings:
      plan.kind = UsernsPlan::kReserve;
      plan.uid_maps = spec_mappings(spec, false);
      plan.gid_maps = spec_mappings(spec, true);
      break;
    case UsernsShape::kJoinsPath:
      break;
  }
  return plan;
}

namespace internal {
namespace {

// A spec's own mappings may not reach host ids the host's own accounts use.
void check_own_mappings(const UserNamespaceControl& c, Eval& e) {
  Action act = c.action == Action::kEnforce ? Action::kDeny : c.action;  // not ours to rewrite
  for (bool gid : {false, true}) {
    const char* field = gid ? "gidMappings" : "uidMappings";
    auto maps = spec_mappings(e.doc(), gid);
    for (size_t i = 0; i < maps.size(); ++i) {
      const IdMapping& m = maps[i];
      std::string ptr = std::string("/linux/") + field + "/" + std::to_string(i);
      if (m.size == 0 || uint64_t{m.host_id} + m.size > 4294967295ull) {
        (void)e.violation("userNamespace", "RG-USERNS-002", Severity::kHigh, act,
                          std::string(field) + " entry " + std::to_string(i) + " is empty or runs past the largest id", ptr);
      } else if (m.size > c.range_size) {
        (void)e.violation("userNamespace", "RG-USERNS-002", Severity::kHigh, act,
                          std::string(field) + " entry " + std::to_string(i) + " maps " + std::to_string(m.size) +
                              " ids; a container may hold at most userNamespace.rangeSize (" + std::to_string(c.range_size) +
                              ") host ids",
                          ptr);
      } else if (m.host_id < c.min_host_id) {
        (void)e.violation("userNamespace", "RG-USERNS-002", Severity::kCritical, act,
                          std::string(field) + " maps container ids to host ids " + range_text(m.host_id, m.size) +
                              ", which reach below " + std::to_string(c.min_host_id) +
                              " (the host's own accounts); map to a range at or above userNamespace.minHostId",
                          ptr);
      }
    }
  }
}

}  // namespace

void check_user_namespace(const UserNamespaceControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  UsernsShape shape = userns_shape(e.doc(), e.ctx());
  if (shape == UsernsShape::kOwnMappings) return check_own_mappings(c, e);
  if (shape == UsernsShape::kJoinsPath) return;  // another container's namespace: its creator was checked
  // Host paths count here as in plan_user_namespace: hostNamespaces, evaluated first, has already
  // removed the ones it enforces on, so what is left is joined as given.
  if (auto joined = joined_namespace(e.doc(), e.ctx(), false)) {
    // runc 1.1 joins the user namespace first when it execs into a container, and then may not
    // enter a network/ipc/uts namespace another user namespace owns (the kernel wants
    // CAP_SYS_ADMIN over its owner): a namespace of its own here would break every exec.
    Action act = c.action == Action::kEnforce ? Action::kAudit : c.action;
    (void)e.violation("userNamespace", "RG-USERNS-003", Severity::kMedium, act,
                      "the container shares the host's user namespace: it joins the " + joined->first + " namespace " +
                          joined->second + ", which another user namespace owns, and runc could not exec into it "
                          "from a user namespace of its own (Kubernetes pods on containerd 1.x; use hostUsers: false "
                          "with a runtime that supports it)",
                      "/linux/namespaces");
    return;
  }
  ContainerContext::UsernsRange r = e.ctx().userns && !e.ctx().userns->fixed
                                        ? *e.ctx().userns
                                        : ContainerContext::UsernsRange{c.first_host_id, c.range_size, false};
  std::string why = shape == UsernsShape::kEntryNoMappings ? "the user namespace has no id mappings"
                    : shape == UsernsShape::kHostPath      ? "the container joins the host's user namespace"
                                                           : "the container shares the host's user namespace";
  std::string fix = "; mapping container ids 0-" + std::to_string(r.size - 1) + " to host ids " + range_text(r.host_id, r.size);
  if (!e.violation("userNamespace", "RG-USERNS-001", Severity::kHigh, c.action, why + fix, "/linux/namespaces")) return;
  const Json* list = at(e.doc(), "/linux/namespaces");
  auto i = user_entry(e.doc());
  if (!i) {
    size_t n = list != nullptr && list->is_array() ? list->size() : 0;
    e.set("/linux/namespaces/" + std::to_string(n), Json{{"type", "user"}});
  } else if (shape == UsernsShape::kHostPath) {
    e.remove("/linux/namespaces/" + std::to_string(*i) + "/path");
  }
  Json map = Json::array({Json{{"containerID", 0}, {"hostID", r.host_id}, {"size", r.size}}});
  e.set("/linux/uidMappings", map);
  e.set("/linux/gidMappings", map);
}

bool runs_in_user_namespace(Eval& e, const std::string& proc, uint32_t min_host_id) {
  if (proc.empty()) {  // an exec process document: the container's namespace, recorded at create
    const auto& u = e.ctx().userns;
    return u && u->host_id >= min_host_id && u->host_id != 0;
  }
  if (userns_shape(e.doc(), e.ctx()) != UsernsShape::kOwnMappings) return false;
  auto root = map_to_host(spec_mappings(e.doc(), false), 0);
  auto root_group = map_to_host(spec_mappings(e.doc(), true), 0);
  // Root inside must be an id outside the host's own accounts, not merely non-zero.
  return root.value_or(0) >= std::max(min_host_id, 1u) && root_group.value_or(0) >= std::max(min_host_id, 1u);
}

}  // namespace internal
}  // namespace runguard::policy
