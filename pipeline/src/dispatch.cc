// delete, the pass-through commands, and the dispatch table.
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
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
  // Release what create took before the runtime's delete, so it is released even when that
  // fails; removing a missing directory is success, which makes delete idempotent.
  if (check_container_id(id).is_ok()) {
    if (Status st = nsutil::remove_tree(internal::container_state_dir(s.state_dir, id)); !st.is_ok()) {
      log.write("warning", "runguard: " + st.to_string());
    }
  }
  return internal::exec_runtime(log, *runtime, args.argv);
}

int dispatch(const RuncArgs& args) {
  const std::string& c = args.command;
  if (c == "create" || c == "run" || c == "restore") return cmd_create(args);
  if (c == "exec") return cmd_exec(args);
  if (c == "update") return cmd_update(args);
  if (c == "delete") return cmd_delete(args);
  return cmd_passthrough(args);
}

}  // namespace runguard::pipeline
