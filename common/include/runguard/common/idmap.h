// Id mappings (one uid_map/gid_map line, one LinuxIDMapping of a spec) and the lookup of the host
// id a container id maps to. Shared by the policy core (a spec's mappings), nsutil (idmapped
// mounts) and later the secrets and monitor code, which must create files owned by the
// container's ids as the host sees them. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace runguard {

// Container ids [container_id, +size) are host ids [host_id, +size).
struct IdMap {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
  bool operator==(const IdMap&) const = default;
};

// The host id `container_id` maps to, or nullopt when no entry covers it (or it would pass the
// largest id).
std::optional<uint32_t> map_to_host(const std::vector<IdMap>& maps, uint32_t container_id);

}  // namespace runguard
