// Internal helpers shared by the command implementations.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/runc_log.h"
#include "runguard/common/status.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

RuncLog log_for(const RuncArgs& args);

// Reports `status` as "runguard: <message>" (error level in --log, and on stderr); returns 1.
int report_failure(const RuncLog& log, const Status& status);

// Replaces the process with `runtime`, argv[0] set to the runtime's path. Returns 1 (after
// reporting) only if execve fails.
int exec_runtime(const RuncLog& log, const std::string& runtime, std::vector<std::string> argv);

// Resolves the real runtime from a loaded policy, or reports and returns nullopt-like empty.
Result<std::string> runtime_for(const policy::Policy& p);

// <stateDir>/<id>
std::string container_state_dir(const std::string& state_dir, const std::string& id);

// Reads the context stored at create time, for exec and update; a container created before
// runguard was installed has none and gets a context with only its id.
policy::ContainerContext stored_context(const std::string& state_dir, const std::string& id);

// Sets the value of one flag use in argv, keeping its form ("--x=v" or "--x v").
void replace_flag_value(std::vector<std::string>& argv, const FlagUse& flag, const std::string& value);

// "N changes, M findings" style summary for the info line in --log.
std::string summarize(const policy::Decision& d);

}  // namespace runguard::pipeline::internal
