// Internal: the OS facts the pure policy core cannot look up itself, added to a context.
#pragma once

#include "runguard/common/json.h"
#include "runguard/policy/context.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

// Which linux.namespaces[].path entries of `spec` are the host's namespaces (nsutil compares
// them with pid 1's), where absolute bind-mount sources really point (realpath) when that
// differs from the path as written, and likewise where `p`'s own state paths resolve.
void add_host_facts(const Json& spec, const policy::Policy& p, policy::ContainerContext& ctx);

}  // namespace runguard::pipeline::internal
