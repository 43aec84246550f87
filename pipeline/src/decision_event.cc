#include "decision_event.h"

#include "runguard/common/event_time.h"

namespace runguard::pipeline::internal {
namespace {

std::string count_of(size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

std::string output_text(const policy::Policy& p, const policy::ContainerContext& ctx, const policy::Decision& d,
                        const char* priority, const struct timespec& time) {
  size_t applied = 0, pending = 0, denials = 0;
  for (const auto& m : d.mutations) ++(m.applied ? applied : pending);
  for (const auto& f : d.findings) denials += f.action == policy::Action::kDeny;
  std::string text = time_of_day_nanos(time) + ": " + priority + " container " + ctx.id + " " +
                     (d.allowed ? "allowed" : "denied") + " (policy " + p.source + "): " +
                     count_of(applied, "change", "changes") + ", " + count_of(denials, "denial", "denials");
  if (d.mode == policy::Mode::kAudit && pending > 0) text += " (audit mode: " + count_of(pending, "change", "changes") + " not applied)";
  return text;
}

}  // namespace

Json decision_event(const policy::Policy& p, const policy::ContainerContext& ctx, const policy::Decision& d,
                    const struct timespec& time, const std::string& hostname) {
  const char* priority = d.allowed ? "Notice" : "Warning";
  const char* action = d.allowed ? "allowed" : "denied";
  Json fields = {{"container.id", ctx.id},
                 {"container.image", ctx.image},
                 {"container.image.digest", ctx.image_digest},
                 {"k8s.ns.name", ctx.k8s_namespace},
                 {"k8s.pod.name", ctx.pod_name}};
  Json event{{"time", rfc3339_nanos(time)},
              {"rule", "runguard decision"},
              {"priority", priority},
              {"source", "runguard"},
              {"hostname", hostname},
              {"tags", {"runguard", "decision"}},
              {"output", output_text(p, ctx, d, priority, time)},
              {"output_fields", std::move(fields)},
              {"runguard.kind", "decision"},
              {"runguard.action", action},
              {"runguard.policy", p.source},
              {"runguard.container",
               {{"id", ctx.id},
                {"name", ctx.container_name},
                {"image", ctx.image},
                {"imageDigest", ctx.image_digest},
                {"namespace", ctx.k8s_namespace},
                {"pod", ctx.pod_name}}},
              {"runguard.decision", policy::decision_to_json(d)}};
  // The attestation gate's state in short (the decision has the whole verdict): passed and
  // summary when it ran, the reason when it did not.
  if (d.attestation.is_object()) {
    Json a = Json::object();
    for (const char* k : {"gate", "required", "passed", "summary", "evaluated", "reason"}) {
      if (auto it = d.attestation.find(k); it != d.attestation.end()) a[k] = *it;
    }
    event["runguard.attestation"] = std::move(a);
  }
  return event;
}

}  // namespace runguard::pipeline::internal
