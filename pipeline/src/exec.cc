// exec: `kubectl exec` and exec probes run a new process in the container. runc builds it either
// from a --process document (containerd: written from containerd's *original* spec, so unhardened)
// or from the container's hardened config plus the -u/--cap/-e flags. Both get the process
// controls: user, capabilities, noNewPrivileges, secretsInEnv, rlimits.
#include <algorithm>
#include <set>

#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"
#include "support.h"

namespace runguard::pipeline {
namespace {

using internal::report_failure;

Status harden_process_file(const policy::Policy& p, const policy::ContainerContext& ctx, const std::string& file) {
  RG_ASSIGN_OR_RETURN(std::string text, nsutil::read_file(file));
  RG_ASSIGN_OR_RETURN(Json proc, parse_json(text, file));
  RG_RETURN_IF_ERROR(policy::validate_process(proc, file));
  policy::Decision d = policy::evaluate_process(p, std::move(proc), ctx);
  if (!d.allowed) return Status(Code::kDenied, "exec in container " + ctx.id + " denied by policy " + p.source + ": " + d.denial_summary());
  if (d.changed()) RG_RETURN_IF_ERROR(nsutil::write_file_atomic(file, dump_json(d.result)));
  return Status::ok();
}

// "uid[:gid]" as runc's -u takes it.
bool parse_user(const std::string& v, uint64_t& uid, std::optional<uint64_t>& gid) {
  auto colon = v.find(':');
  try {
    size_t used = 0;
    std::string u = v.substr(0, colon);
    uid = std::stoull(u, &used);
    if (used != u.size()) return false;
    if (colon != std::string::npos) {
      std::string g = v.substr(colon + 1);
      gid = std::stoull(g, &used);
      if (used != g.size()) return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Applies the process controls to the flags of an exec without --process by evaluating the
// process document those flags describe, then mapping the result back onto argv. Without -u the
// process runs as the (hardened) config.json's user, which the document stands for with the
// policy's uid/gid, so only what the flags add is judged.
Status harden_exec_flags(const policy::Policy& p, const policy::ContainerContext& ctx, const RuncArgs& args,
                         std::vector<std::string>& argv) {
  const policy::Controls& controls = policy::select_controls(p, ctx, nullptr);
  Json proc = {{"user", {{"uid", controls.user.uid}, {"gid", controls.user.gid}}}};
  std::vector<const FlagUse*> users = args.all("user");
  const FlagUse* user = users.empty() ? nullptr : users.back();
  if (user != nullptr) {
    uint64_t uid = 0;
    std::optional<uint64_t> gid;
    if (!parse_user(user->value, uid, gid)) {
      return invalid("exec --user \"" + user->value + "\": expected UID[:GID] as numbers");
    }
    proc["user"] = {{"uid", uid}, {"gid", gid.value_or(uid == 0 ? 0 : uid)}};
  }
  std::vector<const FlagUse*> gids = args.all("additional-gids");
  for (const auto* g : gids) {
    try {
      proc["user"]["additionalGids"].push_back(std::stoull(g->value));
    } catch (const std::exception&) {
      return invalid("exec --additional-gids \"" + g->value + "\": expected a number");
    }
  }
  std::vector<const FlagUse*> caps = args.all("cap");
  std::vector<const FlagUse*> envs = args.all("env");
  for (const auto* c : caps) proc["capabilities"]["bounding"].push_back(c->value);
  for (const auto* e : envs) proc["env"].push_back(e->value);
  // Only the controls on what flags can set; noNewPrivileges and rlimits come from config.json.
  policy::Policy scoped = p;
  for (policy::Controls* c : {&scoped.controls}) {
    c->no_new_privileges.action = policy::Action::kOff;
    c->resources.action = policy::Action::kOff;
  }
  for (auto& o : scoped.overrides) {
    o.controls.no_new_privileges.action = policy::Action::kOff;
    o.controls.resources.action = policy::Action::kOff;
  }
  policy::Decision d = policy::evaluate_process(scoped, proc, ctx);
  if (!d.allowed) return Status(Code::kDenied, "exec in container " + ctx.id + " denied by policy " + p.source + ": " + d.denial_summary());
  const Json& out = d.result;
  if (user != nullptr && out["user"] != proc["user"]) {
    internal::replace_flag_value(argv, *user, std::to_string(out["user"]["uid"].get<uint64_t>()) + ":" +
                                                  std::to_string(out["user"]["gid"].get<uint64_t>()));
  }
  // Flags whose value the decision removed are dropped from argv, with their value word.
  std::set<size_t> drop;
  auto drop_unless_kept = [&](const std::vector<const FlagUse*>& uses, const Json& kept, bool numeric) {
    for (const auto* f : uses) {
      Json v = numeric ? Json(std::stoull(f->value)) : Json(f->value);
      if (!kept.is_array() || std::find(kept.begin(), kept.end(), v) == kept.end()) drop.insert({f->name_index, f->value_index});
    }
  };
  drop_unless_kept(caps, out.contains("capabilities") ? out["capabilities"].value("bounding", Json::array()) : Json::array(), false);
  drop_unless_kept(envs, out.value("env", Json::array()), false);
  drop_unless_kept(gids, out["user"].value("additionalGids", Json::array()), true);
  for (auto it = drop.rbegin(); it != drop.rend(); ++it) argv.erase(argv.begin() + static_cast<long>(*it));
  return Status::ok();
}

}  // namespace

int cmd_exec(const RuncArgs& args) {
  RuncLog log = internal::log_for(args);
  auto policy = load_policy(config_source());
  if (!policy.is_ok()) return report_failure(log, policy.status());
  auto runtime = internal::runtime_for(*policy);
  if (!runtime.is_ok()) return report_failure(log, runtime.status());
  std::string id = args.id();
  if (Status s = check_container_id(id); !s.is_ok()) return internal::exec_runtime(log, *runtime, args.argv);  // runc reports usage
  policy::ContainerContext ctx = internal::stored_context(policy->state_dir, id);

  std::vector<std::string> argv = args.argv;
  Status s;
  if (auto file = args.flag("process")) {
    s = harden_process_file(*policy, ctx, *file);
  } else {
    s = harden_exec_flags(*policy, ctx, args, argv);
  }
  if (!s.is_ok()) return report_failure(log, s);
  return internal::exec_runtime(log, *runtime, argv);
}

}  // namespace runguard::pipeline
