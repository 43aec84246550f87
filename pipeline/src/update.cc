// update: kubelet resizes and CPU-manager updates arrive as `runc update --resources -` with a
// LinuxResources document computed from containerd's *original* spec, or as --memory/--pids-limit
// flags. Either way a limit above the policy maximum (or "unlimited") is clamped to it.
//
// Values are read the way runc reads them: the document up to the end of its first JSON value
// (runc's json.Decoder stops there, so a writer may keep stdin or a FIFO open), --pids-limit as a
// Go int flag, --memory with go-units. runc is handed exactly the document runguard checked, as a
// memfd: it never opens the caller's file a second time.
#include <unistd.h>

#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"
#include "support.h"

namespace runguard::pipeline {
namespace {


Status denied(const policy::Policy& p, const std::string& id, const policy::Decision& d) {
  return Status(Code::kDenied, "update of container " + id + " denied by policy " + p.source + ": " + d.denial_summary());
}

// The use of a flag runc takes (the last one); nullptr when absent.
const FlagUse* last_use(const RuncArgs& args, const std::string& name) {
  std::vector<const FlagUse*> uses = args.all(name);
  return uses.empty() ? nullptr : uses.back();
}

// -r FILE / -r -: runc ignores every other flag then.
Status harden_resources_document(const policy::Policy& p, const policy::ContainerContext& ctx, const FlagUse& r,
                                 std::vector<std::string>& argv) {
  const bool from_stdin = r.value == "-";
  const std::string source = from_stdin ? "update --resources (stdin)" : r.value;
  RG_ASSIGN_OR_RETURN(std::string text, from_stdin ? internal::read_json_value(STDIN_FILENO, source)
                                                   : internal::read_json_value_at(r.value));
  RG_ASSIGN_OR_RETURN(Json doc, parse_json(text, source));
  RG_RETURN_IF_ERROR(policy::validate_resources(doc, source));
  policy::Decision d = policy::evaluate_update(p, std::move(doc), ctx);
  if (!d.allowed) return denied(p, ctx.id, d);
  return internal::pass_as_memfd(argv, r, d.changed() ? dump_json(d.result) : text);
}

// Individual flags: build the document they describe, clamp it, write the values back. Other
// flags (--cpu-*, --cpuset-*, ...) pass through untouched.
Status harden_resource_flags(const policy::Policy& p, const policy::ContainerContext& ctx, const RuncArgs& args,
                             std::vector<std::string>& argv) {
  Json doc = Json::object();
  const FlagUse* mem = last_use(args, "memory");
  if (mem != nullptr && mem->value.empty()) mem = nullptr;  // runc: --memory "" leaves the limit alone
  const FlagUse* swap = last_use(args, "memory-swap");
  if (swap != nullptr && swap->value.empty()) swap = nullptr;
  const FlagUse* pids = last_use(args, "pids-limit");
  for (const FlagUse* f : {mem, swap}) {
    if (f == nullptr) continue;
    auto bytes = internal::ram_in_bytes(f->value);
    if (!bytes.is_ok()) return std::move(bytes).take_status().with_context("update --" + f->name + " \"" + f->value + "\"");
    doc["memory"][f == mem ? "limit" : "swap"] = *bytes;
  }
  if (pids != nullptr) {
    std::optional<int64_t> limit = internal::parse_go_int(pids->value);
    if (!limit) return invalid("update --pids-limit \"" + pids->value + "\": expected an int64 (decimal, 0x hex, 0 octal)");
    doc["pids"]["limit"] = *limit;
  }
  policy::Decision d = policy::evaluate_update(p, std::move(doc), ctx);
  if (!d.allowed) return denied(p, ctx.id, d);
  // Written back even when unchanged: runc then applies exactly the value judged here.
  if (mem != nullptr) internal::replace_flag_value(argv, *mem, std::to_string(d.result["memory"]["limit"].get<int64_t>()));
  if (swap != nullptr) internal::replace_flag_value(argv, *swap, std::to_string(d.result["memory"]["swap"].get<int64_t>()));
  if (pids != nullptr) internal::replace_flag_value(argv, *pids, std::to_string(d.result["pids"]["limit"].get<int64_t>()));
  return Status::ok();
}

}  // namespace

int cmd_update(const RuncArgs& args) {
  return internal::run_hardened(args, [&](const policy::Policy& p, const policy::ContainerContext& ctx,
                                          std::vector<std::string>& argv) {
    const FlagUse* r = last_use(args, "resources");
    return r != nullptr && !r->value.empty() ? harden_resources_document(p, ctx, *r, argv)
                                             : harden_resource_flags(p, ctx, args, argv);
  });
}

}  // namespace runguard::pipeline
