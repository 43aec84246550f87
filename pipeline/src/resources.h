// Internal: the per-container resources record (<stateDir>/<id>/resources.json) that create
// writes and release_container() reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/idmap.h"
#include "runguard/pipeline/release.h"

namespace runguard::pipeline::internal {

struct ResourcesRecord {
  std::string runtime_root;                       // runc --root of the create ("" = runc's default)
  std::string bundle;                             // the bundle directory (resolved)
  std::string userns_dir;                         // allocator directory holding this container's range
  std::optional<nsutil::IdmappedRootfs> rootfs;   // the idmapped rootfs mounted for it
  // Set just before the rootfs mount is made and cleared once `rootfs` is recorded: a crash in
  // between leaves the path, and release then removes only a mount it can tell is runguard's.
  std::string rootfs_pending;
  int monitor_pid = 0;                            // runguard-monitor serving this container (0: none)
  // The runguard that claimed the directory (it becomes runc at the exec, keeping pid and start
  // time): while it lives the create is in progress; once it is gone and runc has no state for
  // the id, what it left may be reclaimed at once. Meaningful only in the pid namespace recorded.
  int creator_pid = 0;
  uint64_t creator_start = 0;                     // its /proc/<pid>/stat start time
  std::string creator_pidns;                      // readlink /proc/self/ns/pid, e.g. "pid:[4026531836]"
};

// The claiming runguard's identity, taken from this process: pid and start time both from
// <proc_root>/self/stat, so they are in the numbering of the procfs they are checked against
// later, and recorded only when that numbering is this process's own pid namespace (self's pid
// equals getpid()); otherwise creator_pid stays 0 (a /proc of another pid namespace would make
// the pid name an unrelated process).
void record_creator(ResourcesRecord& r, const std::string& proc_root = "/proc");
// Whether the runguard that claimed the directory still runs: nullopt when the record cannot
// tell (written before creators were recorded, or in another pid namespace, where its pid means
// nothing here, or when <proc_root> is not numbered in this process's pid namespace). A zombie or
// a reused pid (another start time) is gone.
std::optional<bool> creator_alive(const ResourcesRecord& r, const std::string& proc_root = "/proc");
// Whether two records name the same creator (pid, start time, pid namespace).
bool same_creator(const ResourcesRecord& a, const ResourcesRecord& b);

// The claim lock: flock(LOCK_EX) on the directory <stateDir> itself (no lock file: nothing to
// leave behind, no name a container id could take). Held across a create's check of an existing
// <stateDir>/<id>, its release, the mkdir and the first resources.json, and across delete's
// "is its create still running?" check and release, so a check and the release it allows are one
// step. Creates of other ids wait only for that short section. The wait is bounded: a timeout is
// kUnavailable naming the directory. The lock lives as long as the returned fd.
Result<nsutil::UniqueFd> lock_claims(const std::string& state_dir, std::chrono::milliseconds timeout);
constexpr std::chrono::milliseconds kClaimLockTimeout{30000};

// release_container(state_dir, id, caller) only if <state_dir>/<id>/resources.json still names
// the creator of `checked` (the record the caller decided on): a directory claimed since by
// another create is left alone. Call with the claim lock held.
Status release_if_same_creator(const std::string& state_dir, const std::string& id, const ResourcesRecord& checked,
                               const ReleaseCaller& caller = {});

std::string resources_path(const std::string& container_state_dir);
Status write_resources(const std::string& container_state_dir, const ResourcesRecord& r);
Result<ResourcesRecord> read_resources(const std::string& container_state_dir);

// Detaches every mount at or below `dir` (deepest first); an error if some remain.
Status detach_mounts_under(const std::string& dir);

}  // namespace runguard::pipeline::internal
