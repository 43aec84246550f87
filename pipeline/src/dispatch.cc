// delete, the pass-through commands, and the dispatch table.
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/pipeline/release.h"
#include "runguard/policy/loader.h"
#include "resources.h"
#include "support.h"

namespace runguard::pipeline {
namespace {

// What pass-through commands need, read without validating the policy: a policy mistake must
// never stop `kill` or `delete` of running containers.
policy::RuntimeSettings light_settings() {
  auto text = nsutil::read_file(config_source().path, 4u << 20);
  if (!text.is_ok()) return {};
  return policy::peek_runtime_settings(*text);
}

// Delete's release for a container runc had no state for: what runguard holds is released
// unless the runguard that claimed it still runs — a create between its claim and runc's state
// (seconds when it waits for the agent or Vault) owns the directory, and releasing it would pull
// its range and rootfs from under it. Under the claim lock, so no create's claim can fall between
// the check and the release. A record that cannot tell (older, another pid namespace) is released.
void release_unless_creating(const std::string& state_dir, const std::string& id, const ReleaseCaller& me, const RuncLog& log) {
  std::string dir = internal::container_state_dir(state_dir, id);
  if (!nsutil::path_exists(dir)) return;  // nothing held (and no stateDir to lock: do not create one)
  auto lock = internal::lock_claims(state_dir, internal::kClaimLockTimeout);
  if (!lock.is_ok()) {
    log.write("warning", "runguard: container " + id + ": state in " + dir + " not released: " + lock.status().to_string());
    return;
  }
  auto rec = internal::read_resources(dir);
  Status st = Status::ok();
  if (!rec.is_ok()) {
    st = release_container(state_dir, id, me);  // keeps the directory and says why
  } else if (internal::creator_alive(*rec) == std::optional<bool>(true)) {
    log.write("warning", "runguard: container " + id + ": create in progress (runguard pid " + std::to_string(rec->creator_pid) +
                             "); its state in " + dir + " is kept");
    return;
  } else {
    st = internal::release_if_same_creator(state_dir, id, *rec, me);
  }
  if (!st.is_ok()) log.write("warning", "runguard: " + st.to_string());
}

}  // namespace

int cmd_passthrough(const RuncArgs& args) {
  RuncLog log = internal::log_for(args);
  policy::RuntimeSettings s = light_settings();
  auto runtime = resolve_runtime(s.runtime_path);
  if (!runtime.is_ok()) return internal::report_failure(log, runtime.status());
  return internal::exec_runtime(log, *runtime, args.argv);
}

int cmd_delete(const RuncArgs& args) {
  RuncLog log = internal::log_for(args);
  policy::RuntimeSettings s = light_settings();
  auto runtime = resolve_runtime(s.runtime_path);
  std::string id = args.id();
  bool valid_id = check_container_id(id).is_ok();
  std::string runc_state = internal::runtime_container_dir(args.root, id);
  // Whether runc knew the container before its delete ran (runc's own test: state.json). If not,
  // the create never reached runc, or has not yet: a create still running keeps its state.
  bool runc_knew = valid_id && nsutil::path_exists(runc_state + "/state.json");
  auto release = [&] {
    // Removing a missing directory is success: delete is idempotent.
    ReleaseCaller me;
    me.runtime_root = args.root;
    if (!runc_knew) return release_unless_creating(s.state_dir, id, me, log);
    if (Status st = release_container(s.state_dir, id, me); !st.is_ok()) log.write("warning", "runguard: " + st.to_string());
  };
  if (!runtime.is_ok()) {
    // The runtime is gone (removed, or runtime.path changed since the create): what runguard
    // holds for a container runc has no state for (a create that failed or was killed) is still
    // released, so the engine's delete after a failed create leaks nothing. The error stands.
    if (valid_id && !nsutil::path_exists(runc_state)) release();
    return internal::report_failure(log, runtime.status());
  }
  if (!valid_id) return internal::exec_runtime(log, *runtime, args.argv);
  // runc's delete runs as a child and runguard releases only once the container is gone: its id
  // range and idmapped rootfs must not be handed on while a process may still use them (without
  // --force runc refuses a running container; with it, a kill can still fail). runc's poststop
  // hook, runguard-hook, releases too; this covers containers created without it.
  std::vector<std::string> argv = args.argv;
  argv[0] = *runtime;
  auto rc = nsutil::run_and_wait(*runtime, argv);
  if (!rc.is_ok()) {
    if (!nsutil::path_exists(runc_state)) release();  // it could not run; it has no container either
    return internal::report_failure(log, rc.status());
  }
  if (*rc == 0 || !nsutil::path_exists(runc_state)) release();
  return *rc;
}

int dispatch(const RuncArgs& args) {
  const std::string& c = args.command;
  if (args.help) return cmd_passthrough(args);  // runc prints the command's usage
  if (!args.unknown_flags.empty()) {
    return internal::report_failure(internal::log_for(args),
                                    invalid(c + ": unknown flag " + args.unknown_flags.front() +
                                            " (runguard refuses flags it cannot check; is runc newer than runguard?)"));
  }
  if (c == "create" || c == "run" || c == "restore") return cmd_create(args);
  if (c == "exec") return cmd_exec(args);
  if (c == "update") return cmd_update(args);
  if (c == "delete") return cmd_delete(args);
  return cmd_passthrough(args);
}

}  // namespace runguard::pipeline
