// What an operator asks about user-namespace ranges (`runguardctl userns`): every allocation with
// its members and whether the runtime still counts them as alive, and garbage collection on demand
// (the runtime also collects before every allocation).
#pragma once

#include <cstddef>
#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/nsutil/userns_alloc.h"

namespace runguard::pipeline {

// The liveness rule the runtime's allocator uses: runc still has the container
// (<runtime root>/<id>/state.json; crun's <id>/status), or its runguard state directory exists and
// its create started less than five minutes ago in this boot (runc has not written its state yet).
// Time is CLOCK_BOOTTIME, immune to wall-clock steps; a member from another boot is never "in
// progress".
bool userns_member_alive(const nsutil::UsernsMember& m);

// This boot's id (/proc/sys/kernel/random/boot_id, "" if unreadable) and CLOCK_BOOTTIME seconds:
// what a member records when it joins.
std::string current_boot_id();
int64_t boottime_seconds();

// {"dir": ..., "allocations": [{"group", "fixed", "ranges": [{"start","size"}],
//   "members": [{"id","runtimeRoot","stateDir","created","alive"}]}]} for <libDir>/userns.
Result<Json> userns_report(const std::string& lib_dir);

// Releases dead members (userns_member_alive) and frees their ranges; returns how many were
// dropped. A dead member whose state directory still exists (its create crashed) is released in
// full first (mounts, directory), so its range is not handed on under a leftover mount.
Result<size_t> userns_collect_garbage(const std::string& lib_dir);

}  // namespace runguard::pipeline
