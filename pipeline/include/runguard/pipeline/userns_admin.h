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
// (<runtime root>/<id>/state.json), or its runguard state directory exists and its create started
// less than five minutes ago (runc has not written its state yet).
bool userns_member_alive(const nsutil::UsernsMember& m);

// {"dir": ..., "allocations": [{"group", "fixed", "ranges": [{"start","size"}],
//   "members": [{"id","runtimeRoot","stateDir","created","alive"}]}]} for <libDir>/userns.
Result<Json> userns_report(const std::string& lib_dir);

// Drops dead members (userns_member_alive) and frees their ranges; returns how many were dropped.
Result<size_t> userns_collect_garbage(const std::string& lib_dir);

}  // namespace runguard::pipeline
