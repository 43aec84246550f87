// The pure half of user-namespace remapping: reading a spec's user namespace and mappings, and
// deciding what the runtime must allocate before the userNamespace control is evaluated.
//
// The runtime calls plan_user_namespace() first; for kAllocate it allocates a range (nsutil) and
// puts it in ContainerContext::userns, for kReserve it reserves exactly the spec's host ranges
// (checking them against other containers'); then evaluate_spec() writes the mappings. The
// offline check leaves ContainerContext::userns unset and sees the pool's first range.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "runguard/common/idmap.h"
#include "runguard/common/json.h"
#include "runguard/policy/context.h"
#include "runguard/policy/policy.h"

namespace runguard::policy {

using IdMapping = runguard::IdMap;  // one LinuxIDMapping

// linux.uidMappings (gid = false) or linux.gidMappings; entries of the wrong shape are skipped
// (validate_spec reports them).
std::vector<IdMapping> spec_mappings(const Json& spec, bool gid);

// The host id that container uid (gid = false) or gid `id` is under the spec's mappings; `id`
// itself when the spec has no user namespace mappings (the host's ids); nullopt when the spec
// maps ids but not this one. Files the runtime creates for a container (secrets, sockets) are
// chowned to it, so the container's own user can read them.
std::optional<uint32_t> host_id_of(const Json& spec, uint32_t id, bool gid);

// How a spec's user namespace looks.
enum class UsernsShape {
  kNone,             // no user namespace entry: the host's
  kHostPath,         // joins the host's user namespace by path
  kEntryNoMappings,  // a new user namespace without mappings (runc refuses it)
  kOwnMappings,      // a new (or joined) user namespace with uid and gid mappings
  kJoinsPath,        // joins another user namespace by path, without mappings
};
UsernsShape userns_shape(const Json& spec, const ContainerContext& ctx);

struct UsernsPlan {
  enum Kind { kNone, kAllocate, kReserve } kind = kNone;
  std::vector<IdMapping> uid_maps;  // kReserve: the spec's mappings, to reserve
  std::vector<IdMapping> gid_maps;
};

// What the runtime must do before evaluating `spec` under `p`: nothing (control off, audit
// mode, deny/audit of a spec without one), allocate a range (enforce on a spec without a usable
// user namespace) or reserve the spec's own mappings.
UsernsPlan plan_user_namespace(const Policy& p, const Json& spec, const ContainerContext& ctx);

}  // namespace runguard::policy
