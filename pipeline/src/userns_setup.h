// Internal: the user-namespace side effects of create — the range (nsutil allocator) before the
// policy is evaluated, the idmapped rootfs after — recorded in resources.json so that delete,
// the poststop hook and a failed create undo them.
#pragma once

#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/context.h"
#include "runguard/nsutil/userns_alloc.h"
#include "runguard/policy/policy.h"
#include "runguard/policy/userns.h"
#include "resources.h"

namespace runguard::pipeline::internal {

// Recorded in config.json when runguard gives a container its mapping and idmapped rootfs: the
// root.path the engine wrote. forget_previous_userns() undoes both before a bundle is created
// again, so a second create starts from the engine's spec, not from runguard's previous output.
// Annotations come from whoever wrote the pod or ran podman, so the annotation is believed only
// beside a root.path runguard itself wrote (<stateDir>/<id>/mnt/rootfs); with any other
// root.path it is refused (kInvalidArgument): it would otherwise choose the container's root
// filesystem — "/" is the host's.
inline constexpr const char* kOriginalRootAnnotation = "dev.runguard.userns.original-root";
Status forget_previous_userns(Json& spec, const std::string& state_dir);

// What one create took so far; undo() gives it back in reverse.
class UsernsSetup {
 public:
  // `record`: the container's resources record (claim_state_dir wrote its runtime root and
  // bundle), shared with the other side effects of the create; it must outlive this object.
  UsernsSetup(const policy::Policy& p, const RuncArgs& args, std::string container_state_dir, ResourcesRecord& record);

  // Before evaluation: allocates (or joins the pod's, or reserves the spec's own) range as
  // plan_user_namespace() says and puts it in ctx.userns. The error for a conflict or an
  // exhausted pool is kInvalidArgument (the container is refused, never "opened").
  Status acquire(const Json& spec, policy::ContainerContext& ctx);

  // After an allowed enforce decision: when this create allocated the mapping, mounts the rootfs
  // idmapped at <stateDir>/<id>/rootfs and points the spec's root.path there.
  Status idmap_rootfs(Json& spec, const policy::ContainerContext& ctx);

  void undo();

 private:
  Result<std::string> mount_point(uint32_t uid, uint32_t gid);
  Status check_mappings(const Json& result) const;
  void keep_locked_bind_flags(Json& spec, const std::string& bundle);

  const policy::Policy& policy_;
  const RuncArgs& args_;
  std::string dir_;            // <stateDir>/<id>
  ResourcesRecord& record_;
  bool allocated_ = false;     // the range is ours to map the rootfs with
  bool acquired_ = false;
  nsutil::IdRange allocated_range_;
  std::vector<policy::IdMapping> original_uids_, original_gids_;
};

}  // namespace runguard::pipeline::internal
