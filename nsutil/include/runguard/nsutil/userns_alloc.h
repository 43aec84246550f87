// The user-namespace range allocator: hands every container (every Kubernetes pod) its own
// disjoint range of host uids/gids, persistently, under <libDir>/userns/. Part of nsutil.
//
// Storage: <dir>/ranges.json holds every allocation; <dir>/lock is flock()ed around each
// read-modify-write, so concurrent `runguard create`s in separate processes are serialised.
// ranges.json is only ever replaced by rename(2) of a fsynced temp file, so after a crash at any
// point it holds either the state before or after the operation: a range is allocated or free,
// never half-written. A ranges.json that does not parse is an error (fail closed): the message
// names the file and says how to recover.
//
// An allocation is keyed by a group: the Kubernetes sandbox id for the containers of one pod (they
// share one range), else the container id. Each allocation lists its member containers; releasing
// the last member frees the range. Ranges come from a pool [first, first + count*size) in slots of
// `size`, skipping slots that overlap `excluded` host ids or any existing allocation; a spec that
// brings its own mappings reserves exactly those host ranges instead ("fixed"), after checking
// they overlap no other group's ranges.
//
// Garbage collection: before every acquire, members for which `alive` returns false are dropped
// (and allocations left without members freed), so containers that vanished without a delete
// (a crash, a reboot: /run is gone but /var/lib is not) do not leak ranges.
//
// Thread-safety: every call takes the file lock; an Allocator value may be used from one thread
// at a time. Lock waits are bounded (lock_timeout); a timeout is an error, never a hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::nsutil {

// Host ids [start, start + size).
struct IdRange {
  uint32_t start = 0;
  uint32_t size = 0;
  bool operator==(const IdRange&) const = default;
};
bool overlaps(const IdRange& a, const IdRange& b);

struct UsernsPool {
  uint32_t first = 0;       // first host id of slot 0
  uint32_t size = 65536;    // ids per slot (per container / pod)
  uint32_t count = 0;       // number of slots
  std::vector<IdRange> excluded;  // host ids never handed out (e.g. /etc/subuid ranges)
};

// One container taking part in an allocation, with what the liveness check needs. The allocator
// stores created and boot_id as the claim gives them and never interprets them: the Alive callback
// does (e.g. a grace period for members created moments ago in this boot).
struct UsernsMember {
  std::string id;             // container id
  std::string runtime_root;   // runc --root the container was created under
  std::string state_dir;      // runguard's <stateDir>/<id>
  // Seconds of CLOCK_BOOTTIME when it joined (compare only within the same boot_id).
  int64_t created = 0;
  // /proc/sys/kernel/random/boot_id of the boot it joined in; "" in files written before it was
  // recorded. Persisted as "bootId".
  std::string boot_id;
};

struct UsernsAllocation {
  std::string group;                  // sandbox id, or the container id
  std::vector<IdRange> ranges;        // pool: exactly one range of pool.size; fixed: as given
  bool fixed = false;                 // ranges came from the spec, not the pool
  std::vector<UsernsMember> members;
};

struct UsernsClaim {
  UsernsMember member;                // stored as given (created and boot_id included)
  std::string group;                  // "" = the container id (no sharing)
  std::vector<IdRange> fixed;         // non-empty: reserve these instead of allocating
  // Largest fixed range (after merging overlapping ones) accepted; 0 = no limit.
  uint32_t max_fixed_size = 0;
};

class UsernsAllocator {
 public:
  // Called with the file lock held: it must not call back into an allocator on the same dir.
  using Alive = std::function<bool(const UsernsMember&)>;

  // Does no I/O: `dir` is created (0700) by the first acquire if missing; release, collect_garbage
  // and list on a missing `dir` succeed without creating it.
  UsernsAllocator(std::string dir, std::chrono::milliseconds lock_timeout = std::chrono::seconds(10));

  // Joins the claim's group if it already has an allocation, else allocates: the lowest free pool
  // slot, or the fixed ranges. A claim joins only a group of its own kind: a fixed claim a fixed
  // group (and must lie within its ranges), a pool claim a pool group. Re-acquiring for a member
  // already present returns the existing allocation (idempotent) after refreshing the member's
  // runtime_root, state_dir, created and boot_id from the claim (so a member re-created after a
  // reboot is judged by its new timestamp). Errors: pool exhausted ("all N ranges of SIZE ids from
  // FIRST are allocated; raise userNamespace.count or delete containers"), fixed ranges overlapping
  // another group's (naming it), a fixed range over claim.max_fixed_size, a claim of the other kind
  // than its group's allocation (kInvalidArgument, naming the group), I/O.
  Result<UsernsAllocation> acquire(const UsernsClaim& claim, const UsernsPool& pool, const Alive& alive);

  // Removes `container_id` from whatever allocation lists it; frees the allocation when it was the
  // last member. A container with no allocation is success (release is idempotent).
  Status release(const std::string& container_id);

  // Drops members for which `alive` is false; returns how many members were dropped.
  Result<size_t> collect_garbage(const Alive& alive);

  // Every allocation, for inspection and tests.
  Result<std::vector<UsernsAllocation>> list() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::chrono::milliseconds lock_timeout_;
};

}  // namespace runguard::nsutil
