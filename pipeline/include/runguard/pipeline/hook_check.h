// runguard-hook check: the policy as a deny-only OCI hook, for engines whose runtime cannot be
// replaced (podman or CRI-O with their own runc, registered through a hooks.d JSON file).
//
//   runguard-hook check [--policy FILE]      (OCI state JSON on stdin; docs/hooks.md)
//
// The hook runs at createRuntime (or prestart), after runc has read config.json: it can refuse
// the container but not change it. So it evaluates the same policy with the same engine as
// `runguard create` and reads the decision in deny-only mode:
//
//   - a `deny` finding refuses the container with the runtime's exact wording;
//   - an `enforce` finding (the runtime would have rewritten the spec) refuses it too, and says
//     what to set in the container's spec (the spec field, the podman flag, the Kubernetes field);
//   - `audit` findings and `mode: audit` refuse nothing.
//
// The image scan attestation gate runs first, as in create (its RG-ATTEST-001 finding is a deny
// finding under `attestation.action: enforce`): every path that starts a container is gated.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/pipeline/config.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline {

// The deny-only reading of a decision. Pure.
struct DenyOnlyVerdict {
  bool allowed = true;
  // One per refusing finding, in evaluation order: "<message> [<id>]" for a deny finding (as the
  // runtime says it); for an enforce finding the same plus " (deny-only hook: <remedy>)" on the
  // first finding of each id (RG-CAPS-001 comes once per capability set, its remedy once).
  std::vector<std::string> reasons;
};
DenyOnlyVerdict deny_only_verdict(const policy::Decision& d, const policy::Controls& controls);

// What to set so that `f` goes away, for a user who can change the container's spec but not the
// runtime: "set /process/user/uid to a non-root uid such as 65532: podman run --user 65532:65532,
// Kubernetes securityContext.runAsUser: 65532". Values come from `controls`. Pure.
std::string remedy(const policy::Finding& f, const policy::Controls& controls);

// What runguard-hook was asked to do: argv after the program name.
//   check [--policy FILE | --policy=FILE]   (anything else is an error)
//   poststop --state-dir DIR                (DIR absolute; other words are ignored, as runc's
//                                            hook entries written by older versions may carry them)
// kInvalidArgument whose message is the line to print ("runguard-hook check: unexpected argument
// \"x\""); the caller exits 2 with the usage. Pure.
struct HookInvocation {
  enum class Verb { kCheck, kPoststop };
  Verb verb = Verb::kCheck;
  std::optional<ConfigSource> policy;  // check: --policy; otherwise config_source()
  std::string state_dir;               // poststop
};
Result<HookInvocation> parse_hook_args(const std::vector<std::string>& args);

// The OCI state runguard-hook reads on stdin (runtime-spec runtime.md "State"), as far as it
// reads it. For check: a valid container id, an absolute bundle and status "creating" (runc) or
// "created" (crun), the stages before the process runs; for poststop: a valid id, the bundle if it
// is a string ("" otherwise). Every field's type is checked before it is read; errors name
// "hook state on stdin". Limits: the caller bounds the input (16 MiB), parse_json the depth. Pure.
struct HookState {
  std::string id;
  std::string bundle;
  std::string status;
};
Result<HookState> parse_hook_state(std::string_view state_json, HookInvocation::Verb verb);

struct HookCheckResult {
  int exit_code = 0;    // 0: compliant, or an internal error under failurePolicy: open; 1: refused or failed
  std::string message;  // for stderr, "runguard: ..." (one line); "" when there is nothing to say
};

// The whole check: the hook's state JSON (from stdin) names the container and its bundle;
// <bundle>/config.json is read, validated and evaluated against the policy from `source`, with
// the same OS facts `runguard create` looks up (host namespace paths, symlinked mount sources).
// Fails closed: a broken policy, state or config.json refuses the container; an internal error
// (I/O) does too unless the policy says failurePolicy: open. Writes nothing anywhere.
HookCheckResult hook_check(std::string_view state_json, const ConfigSource& source);

}  // namespace runguard::pipeline
