// The runtime's commands. Each one either replaces the process with the real runtime (execve,
// argv unchanged apart from documented rewrites) or returns the exit status to exit with after
// reporting why: a runc-style JSON line in --log, the same message on stderr, never stdout.
#pragma once

#include "runguard/pipeline/runc_args.h"

namespace runguard::pipeline {

// create, run, restore: policy -> decision -> decision record -> config.json -> runtime.
int cmd_create(const RuncArgs& args);
// exec: the process document (--process) or the -u/--cap/-e flags get the process controls.
int cmd_exec(const RuncArgs& args);
// update: memory and pids are clamped to the policy maxima.
int cmd_update(const RuncArgs& args);
// delete: removes <stateDir>/<id>/ (idempotent), then runs the runtime's delete.
int cmd_delete(const RuncArgs& args);
// everything else: no policy, no validation; find the runtime and exec it.
int cmd_passthrough(const RuncArgs& args);

// Dispatches on args.command.
int dispatch(const RuncArgs& args);

}  // namespace runguard::pipeline
