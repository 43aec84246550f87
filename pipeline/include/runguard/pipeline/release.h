// Releasing what `create` took for a container, shared by `runguard delete`, runguard-hook's
// poststop hook and create itself (a state directory left by a container runc no longer has).
#pragma once

#include <optional>
#include <string>

#include "runguard/common/status.h"

namespace runguard::pipeline {

// What create took, recorded in <stateDir>/<id>/resources.json before each side effect's result
// is relied on: the user-namespace allocation (by its allocator directory) and the idmapped rootfs
// mounts. Releasing unmounts the rootfs mounts (only while they are still ours), returns the
// range (the pod's range only with its last container), and removes <stateDir>/<id>. Idempotent:
// a missing directory or record is success. Every step is attempted even when one fails; the
// first error is returned.
//
// Ids are unique per runtime root only: `caller` says which container is meant — a delete under
// --root R (runtime_root) or runc's poststop hook for bundle B (bundle). A directory whose record
// names another root or bundle belongs to another container with the same id and is left alone.
struct ReleaseCaller {
  std::optional<std::string> runtime_root;
  std::optional<std::string> bundle;
};
Status release_container(const std::string& state_dir, const std::string& id, const ReleaseCaller& caller = {});

}  // namespace runguard::pipeline
