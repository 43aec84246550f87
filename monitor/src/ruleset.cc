#include "runguard/monitor/ruleset.h"

#include "defs.h"

namespace runguard::monitor {

const char* priority_name(Priority p) {
  switch (p) {
    case Priority::kEmergency: return "Emergency";
    case Priority::kAlert: return "Alert";
    case Priority::kCritical: return "Critical";
    case Priority::kError: return "Error";
    case Priority::kWarning: return "Warning";
    case Priority::kNotice: return "Notice";
    case Priority::kInformational: return "Informational";
    case Priority::kDebug: return "Debug";
  }
  return "?";
}

const char* action_name(RuleAction a) { return a == RuleAction::kBlock ? "block" : "alert"; }

std::string Location::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

Result<Ruleset> load_rules(const std::vector<RuleFile>& files, const LoadOptions& options) {
  detail::Defs defs;
  for (const auto& f : files) RG_RETURN_IF_ERROR(detail::load_file(f, defs));
  return detail::compile(defs, options);
}

}  // namespace runguard::monitor
