#include "output.h"

namespace runguard::monitord {

const char* decision_name(monitor::RuleAction action, bool enforce_blocks) {
  if (action != monitor::RuleAction::kBlock) return "alert";
  return enforce_blocks ? "block" : "would-block";
}

Json event_line_json(const monitor::Match& match, const OutputContext& ctx, const char* decision) {
  Json fields = Json::object();
  for (const auto& [name, value] : match.output_fields) fields[name] = value;
  Json container = {{"id", ctx.container.id},
                    {"name", ctx.container.name},
                    {"image", ctx.container.image},
                    {"namespace", ctx.container.k8s_namespace},
                    {"pod", ctx.container.pod}};
  const char* priority = monitor::priority_name(match.priority);
  return Json{{"time", rfc3339_nanos(ctx.time)},
              {"rule", match.rule_name},
              {"priority", priority},
              {"source", "syscall"},
              {"hostname", ctx.hostname},
              {"output", time_of_day_nanos(ctx.time) + ": " + priority + " " + match.output},
              {"output_fields", std::move(fields)},
              {"tags", match.tags},
              {"runguard.kind", "monitor"},
              {"runguard.action", decision},
              {"runguard.container", std::move(container)}};
}

std::string format_event_line(const monitor::Match& match, const OutputContext& ctx, const char* decision) {
  return dump_json(event_line_json(match, ctx, decision)) + "\n";
}

}  // namespace runguard::monitord
