// Internal: the OS facts the pure policy core cannot look up itself, added to a context.
#pragma once

#include "runguard/common/json.h"
#include "runguard/policy/context.h"

namespace runguard::pipeline::internal {

// Which linux.namespaces[].path entries of `spec` are the host's namespaces (nsutil compares
// them with pid 1's), and where absolute bind-mount sources really point (realpath) when that
// differs from the path as written.
void add_host_facts(const Json& spec, policy::ContainerContext& ctx);

}  // namespace runguard::pipeline::internal
