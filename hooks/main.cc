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

int check(const std::vector<std::string>& args) {
  runguard::pipeline::ConfigSource source = runguard::pipeline::config_source();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--policy" && i + 1 < args.size()) source = {args[++i], true, "--policy"};
    else if (a.rfind("--policy=", 0) == 0) source = {a.substr(9), true, "--policy"};
    else {
      std::cerr << "runguard: runguard-hook check: unexpected argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  auto state = read_stdin();
  if (!state) {
    std::cerr << "runguard: runguard-hook check: hook state on stdin is larger than " << kMaxState << " bytes\n";
    return 1;
  }
  runguard::pipeline::HookCheckResult r = runguard::pipeline::hook_check(*state, source);
  if (!r.message.empty()) std::cerr << r.message << "\n";
  return r.exit_code;
}

int poststop(const std::vector<std::string>& args) {
  std::string state_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--state-dir" && i + 1 < args.size()) state_dir = args[++i];
  }
  if (state_dir.empty() || state_dir[0] != '/') {
    std::cerr << "runguard-hook poststop: --state-dir ABSOLUTE_DIR is required\n";
    return 2;
  }
  auto input = read_stdin();
  auto state = runguard::parse_json(input.value_or(""), "hook state on stdin");
  if (!state.is_ok() || !state->is_object() || !state->contains("id") || !(*state)["id"].is_string()) {
    std::cerr << "runguard-hook poststop: " << (state.is_ok() ? "state has no string \"id\"" : state.status().message()) << "\n";
    return 2;
  }
  std::string id = (*state)["id"];
  if (runguard::Status s = runguard::pipeline::check_container_id(id); !s.is_ok()) {
    std::cerr << "runguard-hook poststop: " << s.message() << "\n";
    return 2;
  }
  runguard::pipeline::ReleaseCaller me;  // runc's poststop for this bundle, not another root's same id
  if ((*state).contains("bundle") && (*state)["bundle"].is_string()) me.bundle = (*state)["bundle"].get<std::string>();
  if (runguard::Status s = runguard::pipeline::release_container(state_dir, id, me); !s.is_ok()) {
    std::cerr << "runguard-hook poststop: " << s.to_string() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "check") return check({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "poststop") return poststop({args.begin() + 1, args.end()});
  std::cerr << kUsage;
  return 2;
}
