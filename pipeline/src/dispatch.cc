// delete, the pass-through commands, and the dispatch table.
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/pipeline/release.h"
#include "runguard/policy/loader.h"
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
  if (!runtime.is_ok()) return internal::report_failure(log, runtime.status());
  std::string id = args.id();
  if (!check_container_id(id).is_ok()) return internal::exec_runtime(log, *runtime, args.argv);
  auto release = [&] {
    // Removing a missing directory is success: delete is idempotent.
    ReleaseCaller me;
    me.runtime_root = args.root;
    if (Status st = release_container(s.state_dir, id, me); !st.is_ok()) log.write("warning", "runguard: " + st.to_string());
  };
  // runc's delete runs as a child and runguard releases only once the container is gone: its id
  // range and idmapped rootfs must not be handed on while a process may still use them (without
  // --force runc refuses a running container; with it, a kill can still fail). runc's poststop
  // hook, runguard-hook, releases too; this covers containers created without it.
  std::vector<std::string> argv = args.argv;
  argv[0] = *runtime;
  auto rc = nsutil::run_and_wait(*runtime, argv);
  if (!rc.is_ok()) return internal::report_failure(log, rc.status());
  std::string runc_state = internal::runtime_container_dir(args.root, id);
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
