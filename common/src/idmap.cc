#include "runguard/common/idmap.h"

namespace runguard {

std::optional<uint32_t> map_to_host(const std::vector<IdMap>& maps, uint32_t container_id) {
  for (const IdMap& m : maps) {
    if (container_id >= m.container_id && uint64_t{container_id} < uint64_t{m.container_id} + m.size) {
      uint64_t host = uint64_t{m.host_id} + (container_id - m.container_id);
      if (host > UINT32_MAX) return std::nullopt;
      return static_cast<uint32_t>(host);
    }
  }
  return std::nullopt;
}

}  // namespace runguard
