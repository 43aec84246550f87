// Internal: starting runguard-monitor for a container whose decision wired a seccomp listener
// (the monitor control), and stopping it.
//
// create: writes <stateDir>/<id>/monitor.json, runs <dir of runguard>/runguard-monitor --config
// FILE --ready-fd N; the monitor daemonizes itself (new session, its own fds, stdio to its log)
// and writes its pid, or "error: ...", to the pipe before runguard writes config.json and execs
// runc. Its pid goes into resources.json; release (delete, poststop, a failed create) stops it.
#pragma once

#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/context.h"
#include "runguard/policy/policy.h"
#include "resources.h"

namespace runguard::pipeline::internal {

// Starts the monitor when `spec`'s seccomp listener is this container's monitor socket (the
// decision put it there); records its pid in `record` (written to `dir`). Nothing to do otherwise.
Status start_monitor(const policy::Policy& p, const policy::ContainerContext& ctx, const Json& spec, const std::string& dir,
                     ResourcesRecord& record);

// A bundle runguard already created once carries its listener wiring: the listener path of this
// container's monitor socket and the SCMP_ACT_NOTIFY rule. Both are undone (the notified syscalls
// were allowed before runguard notified them) so the new create wires a fresh monitor.
void forget_previous_monitor(Json& spec, const std::string& state_dir);

// SIGTERM to the monitor `pid` if it still is the monitor of container directory `dir` (its
// command line names <dir>/monitor.json), then SIGKILL if it has not exited within a second.
void stop_monitor(int pid, const std::string& dir);

}  // namespace runguard::pipeline::internal
