// exec: `kubectl exec` and exec probes run a new process in the container. runc builds it either
// from a --process document (containerd: written from containerd's *original* spec, so unhardened)
// or from the container's hardened config plus the -u/-g/--cap/-e/--no-new-privs flags. Both get
// the process controls: user, capabilities, noNewPrivileges, secretsInEnv, rlimits.
//
// Values are read the way runc reads them, and runc is handed exactly what runguard judged: the
// --process document as a memfd (runc never opens the caller's path again, and that path is
// never written), flag values it would reinterpret refused.
#include <algorithm>
#include <cctype>
#include <set>

#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"
#include "support.h"

namespace runguard::pipeline {
namespace {


Status denied(const policy::Policy& p, const policy::ContainerContext& ctx, const policy::Decision& d) {
  return Status(Code::kDenied, "exec in container " + ctx.id + " denied by policy " + p.source + ": " + d.denial_summary());
}

// --process FILE: runc decodes the first JSON value of it; so does runguard, once.
Status harden_process_document(const policy::Policy& p, const policy::ContainerContext& ctx, const FlagUse& f,
                               std::vector<std::string>& argv) {
  RG_ASSIGN_OR_RETURN(std::string text, internal::read_json_value_at(f.value));
  RG_ASSIGN_OR_RETURN(Json proc, parse_json(text, f.value));
  RG_RETURN_IF_ERROR(policy::validate_process(proc, f.value));
  policy::Decision d = policy::evaluate_process(p, std::move(proc), ctx);
  if (!d.allowed) return denied(p, ctx, d);
  return internal::pass_as_memfd(argv, f, d.changed() ? dump_json(d.result) : text);
}

// One id of -u or -g; runc would wrap anything beyond uint32 (see parse_id).
Result<uint32_t> flag_id(const FlagUse& f, std::string_view part, const std::string& form) {
  if (auto id = internal::parse_id(part)) return *id;
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  bool digits = !part.empty() && std::all_of(part.begin(), part.end(), is_digit);
  return invalid("exec --" + f.name + " \"" + f.value + "\": " +
                 (digits ? "out of range 0..4294967294" : "expected " + form + " in 0..4294967294"));
}

// What the flags of an exec without --process set, parsed as runc parses them (last -u wins, an
// empty -u is ignored, a bare --no-new-privs is true).
struct ExecFlags {
  const FlagUse* user = nullptr;
  uint32_t uid = 0;
  std::optional<uint32_t> gid;  // only when -u names one: runc keeps config.json's gid otherwise
  std::vector<const FlagUse*> gids, caps, envs, nnps;
  std::vector<uint32_t> gid_values;
  std::optional<bool> nnp;
};

Result<ExecFlags> parse_exec_flags(const RuncArgs& args) {
  ExecFlags x;
  std::vector<const FlagUse*> users = args.all("user");
  if (!users.empty() && !users.back()->value.empty()) {
    x.user = users.back();
    const std::string& v = x.user->value;
    const std::string form = "UID[:GID] as decimal numbers";
    auto colon = v.find(':');
    RG_ASSIGN_OR_RETURN(x.uid, flag_id(*x.user, std::string_view(v).substr(0, colon), form));
    if (colon != std::string::npos) {
      RG_ASSIGN_OR_RETURN(x.gid, flag_id(*x.user, std::string_view(v).substr(colon + 1), form));
    }
  }
  x.gids = args.all("additional-gids");
  for (const auto* g : x.gids) {
    RG_ASSIGN_OR_RETURN(uint32_t gid, flag_id(*g, g->value, "a decimal GID"));
    x.gid_values.push_back(gid);
  }
  x.caps = args.all("cap");
  x.envs = args.all("env");
  x.nnps = args.all("no-new-privs");
  // An unparsable value makes runc fail on its own; only a valid false lowers the setting.
  if (!x.nnps.empty()) x.nnp = x.nnps.back()->inline_value ? internal::parse_go_bool(x.nnps.back()->value) : true;
  return x;
}

// Only the controls the flags can affect: rlimits always come from config.json, and
// noNewPrivileges does too unless --no-new-privs is given.
policy::Policy flag_scope(const policy::Policy& p, bool judge_nnp) {
  policy::Policy scoped = p;
  auto narrow = [judge_nnp](policy::Controls& c) {
    if (!judge_nnp) c.no_new_privileges.action = policy::Action::kOff;
    c.resources.action = policy::Action::kOff;
  };
  narrow(scoped.controls);
  for (auto& o : scoped.overrides) narrow(o.controls);
  return scoped;
}

// The process document the flags describe. Without -u (or its gid) the process keeps the
// (hardened) config.json's user, which the policy's uid/gid stand for.
Json flags_document(const policy::Controls& controls, const ExecFlags& x) {
  Json proc = {{"user", {{"uid", controls.user.uid}, {"gid", controls.user.gid}}}};
  if (x.user != nullptr) proc["user"] = {{"uid", x.uid}, {"gid", x.gid.value_or(controls.user.gid)}};
  for (uint32_t g : x.gid_values) proc["user"]["additionalGids"].push_back(g);
  for (const auto* c : x.caps) proc["capabilities"]["bounding"].push_back(c->value);
  for (const auto* e : x.envs) proc["env"].push_back(e->value);
  if (x.nnp) proc["noNewPrivileges"] = *x.nnp;
  return proc;
}

// Maps the decision back onto argv: -u rewritten (its gid part only if it had one),
// --no-new-privs=false made true, flags whose value the decision removed dropped.
void apply_to_flags(const ExecFlags& x, const Json& in, const Json& out, std::vector<std::string>& argv) {
  if (x.user != nullptr && (out["user"]["uid"] != in["user"]["uid"] || out["user"]["gid"] != in["user"]["gid"])) {
    std::string v = std::to_string(out["user"]["uid"].get<uint64_t>());
    if (x.gid) v += ":" + std::to_string(out["user"]["gid"].get<uint64_t>());
    internal::replace_flag_value(argv, *x.user, v);
  }
  if (x.nnp == false && out.value("noNewPrivileges", false)) {
    for (const auto* f : x.nnps) {
      if (f->inline_value) internal::replace_flag_value(argv, *f, "true");
    }
  }
  std::set<size_t> drop;
  auto drop_unless_kept = [&](const std::vector<const FlagUse*>& uses, const Json& kept, auto value_of) {
    for (size_t i = 0; i < uses.size(); ++i) {
      bool is_kept = kept.is_array() && std::find(kept.begin(), kept.end(), value_of(i)) != kept.end();
      if (!is_kept) drop.insert({uses[i]->name_index, uses[i]->value_index});
    }
  };
  const Json none = Json::array();
  const Json caps = out.contains("capabilities") ? out["capabilities"].value("bounding", none) : none;
  drop_unless_kept(x.caps, caps, [&](size_t i) { return Json(x.caps[i]->value); });
  drop_unless_kept(x.envs, out.value("env", none), [&](size_t i) { return Json(x.envs[i]->value); });
  drop_unless_kept(x.gids, out["user"].value("additionalGids", none), [&](size_t i) { return Json(x.gid_values[i]); });
  for (auto it = drop.rbegin(); it != drop.rend(); ++it) argv.erase(argv.begin() + static_cast<long>(*it));
}

Status harden_exec_flags(const policy::Policy& p, const policy::ContainerContext& ctx, const RuncArgs& args,
                         std::vector<std::string>& argv) {
  RG_ASSIGN_OR_RETURN(ExecFlags x, parse_exec_flags(args));
  Json proc = flags_document(policy::select_controls(p, ctx, nullptr), x);
  policy::Decision d = policy::evaluate_process(flag_scope(p, x.nnp.has_value()), proc, ctx);
  if (!d.allowed) return denied(p, ctx, d);
  apply_to_flags(x, proc, d.result, argv);
  return Status::ok();
}

}  // namespace

int cmd_exec(const RuncArgs& args) {
  return internal::run_hardened(args, [&](const policy::Policy& p, const policy::ContainerContext& ctx,
                                          std::vector<std::string>& argv) {
    std::vector<const FlagUse*> process = args.all("process");
    // runc: an empty --process means "build the process from the flags".
    return !process.empty() && !process.back()->value.empty() ? harden_process_document(p, ctx, *process.back(), argv)
                                                              : harden_exec_flags(p, ctx, args, argv);
  });
}

}  // namespace runguard::pipeline
