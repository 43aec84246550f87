// The policy engine: (Policy, document, ContainerContext) -> Decision. Pure: no syscalls, no
// clock, no globals. The runtime (`runguard create/exec/update`) and the CI gate (`runguardctl
// check`) call exactly these functions, so their verdicts are identical.
#pragma once

#include "runguard/common/status.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::policy {

// Checks the types of every field the controls read ("/process/user/uid: expected an unsigned
// integer, got string"). Unknown fields are fine and are preserved. `source` prefixes messages.
Status validate_spec(const Json& spec, const std::string& source);
Status validate_process(const Json& process, const std::string& source);
Status validate_resources(const Json& resources, const std::string& source);

// The controls that apply to `ctx`: the first matching override's, else the top-level ones.
// `override_name` receives the override's name or "".
const Controls& select_controls(const Policy& p, const ContainerContext& ctx, std::string* override_name);

// Each evaluate_* takes the document by value (move it in when the caller is done with it: it is
// changed in place, not copied) and returns it in Decision::result: with the mutations applied
// when allowed in enforce mode, exactly as given otherwise (audit mode, denied).

// A whole config.json (validated first with validate_spec).
Decision evaluate_spec(const Policy& p, Json spec, const ContainerContext& ctx);

// The image scan attestation gate's state for a container, as evaluate_spec puts it in
// Decision::attestation: {"gate":"off","reason":"no attestation section in the policy" |
// "attestation.action is off" | "no keys in attestation.keys: nothing can be trusted"}, or
// {"gate":"enforce"|"audit", ...} with the verdict from ctx.attestation (decision.h).
Json attestation_gate_state(const Policy& p, const ContainerContext& ctx);

// A `runc exec --process` document: the user, capabilities, noNewPrivileges, secretsInEnv and
// rlimit controls.
Decision evaluate_process(const Policy& p, Json process, const ContainerContext& ctx);

// A `runc update` LinuxResources document: memory and pids limits clamped to the maxima.
// An absent limit stays absent (update only changes what it names).
Decision evaluate_update(const Policy& p, Json resources, const ContainerContext& ctx);

}  // namespace runguard::policy
