// Releasing what `create` took for a container, shared by `runguard delete`, runguard-hook's
// poststop hook and create itself (a state directory left by a container runc no longer has).
#pragma once

#include <string>

#include "runguard/common/status.h"

namespace runguard::pipeline {

// What create took, recorded in <stateDir>/<id>/resources.json before each side effect's result
// is relied on: the user-namespace allocation (by its allocator directory) and the idmapped rootfs
// mounts. Releasing unmounts the rootfs mounts (only while they are still ours), returns the
// range (the pod's range only with its last container), and removes <stateDir>/<id>. Idempotent:
// a missing directory or record is success. Every step is attempted even when one fails; the
// first error is returned.
Status release_container(const std::string& state_dir, const std::string& id);

}  // namespace runguard::pipeline
