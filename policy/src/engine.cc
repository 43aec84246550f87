#include "runguard/policy/engine.h"

#include "eval.h"
#include "runguard/common/strings.h"

namespace runguard::policy {
namespace {

bool matches(const Match& m, const ContainerContext& ctx) {
  if (m.container_type && *m.container_type != ctx.container_type) return false;
  if (m.namespace_ && !glob_match(*m.namespace_, ctx.k8s_namespace)) return false;
  if (m.image && !glob_match(*m.image, ctx.image)) return false;
  for (const auto& [key, pattern] : m.annotations) {
    auto it = ctx.annotations.find(key);
    if (it == ctx.annotations.end() || !glob_match(pattern, it->second)) return false;
  }
  return true;
}

template <typename Fn>
Decision run(const Policy& p, Json doc, const ContainerContext& ctx, Fn&& apply) {
  Decision d;
  d.mode = p.mode;
  const Controls& c = select_controls(p, ctx, &d.override_name);
  internal::Eval e(p.mode, d, doc, ctx);
  apply(c, e);
  if (p.mode == Mode::kAudit || !d.allowed) {
    e.rollback();
    for (auto& m : d.mutations) m.applied = false;
  }
  d.result = std::move(doc);
  return d;
}

}  // namespace

const Controls& select_controls(const Policy& p, const ContainerContext& ctx, std::string* override_name) {
  for (const auto& o : p.overrides) {
    if (matches(o.match, ctx)) {
      if (override_name) *override_name = o.name;
      return o.controls;
    }
  }
  if (override_name) override_name->clear();
  return p.controls;
}

Decision evaluate_spec(const Policy& p, Json spec, const ContainerContext& ctx) {
  return run(p, std::move(spec), ctx, [&p](const Controls& c, internal::Eval& e) {
    // Order matters only for readability of the record: which image, who runs, with what, then the container.
    internal::check_attestation(p, e);
    internal::check_privileged(c.privileged, e);
    internal::check_host_namespaces(c.host_namespaces, e);
    internal::check_user_namespace(c.user_namespace, e);  // before user: root may be allowed inside it
    internal::check_user(c.user, e, "/process", c.user_namespace.min_host_id);
    internal::check_capabilities(c.capabilities, e, "/process");
    internal::check_no_new_privileges(c.no_new_privileges, e, "/process");
    internal::check_secrets_in_env(c.secrets_in_env, e, "/process", &p.secrets.mount_path);
    internal::check_secrets(p, e);  // after secretsInEnv: its moved variables are files too
    internal::check_seccomp(c.seccomp, e);
    internal::check_resources(c.resources, e);
    internal::check_sensitive_mounts(c.sensitive_mounts, e, p);
    internal::check_readonly_rootfs(c.readonly_rootfs, e);
    internal::check_monitor(c.monitor, e, p.state_dir);
  });
}

Decision evaluate_process(const Policy& p, Json process, const ContainerContext& ctx) {
  return run(p, std::move(process), ctx, [](const Controls& c, internal::Eval& e) {
    internal::check_user(c.user, e, "", c.user_namespace.min_host_id);
    internal::check_capabilities(c.capabilities, e, "");
    internal::check_no_new_privileges(c.no_new_privileges, e, "");
    internal::check_secrets_in_env(c.secrets_in_env, e, "", nullptr);
    internal::check_rlimits(c.resources, e, "");
  });
}

Decision evaluate_update(const Policy& p, Json resources, const ContainerContext& ctx) {
  return run(p, std::move(resources), ctx, [](const Controls& c, internal::Eval& e) { internal::check_update_resources(c.resources, e); });
}

}  // namespace runguard::policy
