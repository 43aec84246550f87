// runguard-hook: OCI hook entry points (OCI state JSON on stdin for each).
//
//   runguard-hook check [--policy FILE]         createRuntime / prestart, from a hooks.d file
//   runguard-hook poststop --state-dir DIR      added by runguard create
//
// check is the policy as a deny-only hook for engines whose runtime cannot be replaced (podman,
// CRI-O with their own runc): it refuses a container the policy denies, or one it would have had
// to change, with the reason on stderr (runc shows it in its error); exit 0 lets it start. The
// policy comes from --policy, else $RUNGUARD_CONFIG, else /etc/runguard/policy.yaml; a hook
// without `env` inherits runc's environment, so the hooks.d file names the policy explicitly.
// See docs/hooks.md and pipeline/hook_check.h.
//
// poststop runs in `runc delete` and when a foreground `runc run` ends, so what create took is
// released even when nobody calls `runguard delete` (runc run, or runc used directly). It must
// never fail the runtime's delete: errors are reported on stderr (runc logs them as warnings).
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/config.h"
#include "runguard/pipeline/hook_check.h"
#include "runguard/pipeline/release.h"
#include "runguard/pipeline/runc_args.h"

namespace {

constexpr size_t kMaxState = 16u << 20;  // the state carries every annotation: bounded, not small

const char kUsage[] =
    "usage: runguard-hook check [--policy FILE]        (OCI state on stdin; createRuntime or prestart)\n"
    "       runguard-hook poststop --state-dir DIR     (OCI state on stdin)\n";

// The whole of stdin, or nullopt when it is larger than kMaxState.
std::optional<std::string> read_stdin() {
  std::string input;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) {
    input.append(buf, static_cast<size_t>(n));
    if (input.size() > kMaxState) return std::nullopt;
  }
  return input;
}

int check(const runguard::pipeline::HookInvocation& inv) {
  runguard::pipeline::ConfigSource source = inv.policy ? *inv.policy : runguard::pipeline::config_source();
  auto state = read_stdin();
  if (!state) {
    std::cerr << "runguard: runguard-hook check: hook state on stdin is larger than " << kMaxState << " bytes\n";
    return 1;
  }
  runguard::pipeline::HookCheckResult r = runguard::pipeline::hook_check(*state, source);
  if (!r.message.empty()) std::cerr << r.message << "\n";
  return r.exit_code;
}

int poststop(const runguard::pipeline::HookInvocation& inv) {
  auto input = read_stdin();
  auto state = runguard::pipeline::parse_hook_state(input.value_or(""), inv.verb);
  if (!state.is_ok()) {
    std::cerr << "runguard-hook poststop: " << state.status().message() << "\n";
    return 2;
  }
  runguard::pipeline::ReleaseCaller me;  // runc's poststop for this bundle, not another root's same id
  // A state without a bundle ("" from parse_hook_state) names no bundle to match: release by id,
  // as before bundles were compared (same_file(rec, "") would never match and leak everything).
  if (!state->bundle.empty()) me.bundle = state->bundle;
  if (runguard::Status s = runguard::pipeline::release_container(inv.state_dir, state->id, me); !s.is_ok()) {
    std::cerr << "runguard-hook poststop: " << s.to_string() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto inv = runguard::pipeline::parse_hook_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!inv.is_ok()) {
    // Each verb's errors as before: check's with runguard's prefix and the usage, poststop's bare.
    const std::string& m = inv.status().message();
    if (m.rfind("runguard-hook poststop:", 0) == 0) std::cerr << m << "\n";
    else if (m.rfind("runguard-hook check:", 0) == 0) std::cerr << "runguard: " << m << "\n" << kUsage;
    else std::cerr << kUsage;
    return 2;
  }
  return inv->verb == runguard::pipeline::HookInvocation::Verb::kCheck ? check(*inv) : poststop(*inv);
}
