// Evaluation: which loaded rules an Event matches, and the Falco-style output for each.
//
// evaluate() checks every enabled rule whose event-type set contains ev.type, in file order, and
// returns one Match per rule that holds. Semantics (Falco's):
//   - a check on a field the event does not carry is false; `exists` is false for it; `not`
//     of such a check is therefore true;
//   - string comparisons are case-sensitive except icontains/iglob; glob is fnmatch without
//     FNM_PATHNAME; pmatch is a path-prefix match on whole components; `in` holds when the value
//     equals an item; `intersects` when any element of a list value is an item (proc.args is the
//     argv list for in/intersects);
//   - a field without index over ancestors (proc.aname) holds when any ancestor satisfies the check;
//   - evt.arg.* compares numerically when both sides are numbers, else as strings.
// Output: `%field` and `%field[arg]` are substituted; a field that is unknown or has no value for
// this event renders as <NA>. output_fields lists every substituted field with its rendering.
//
// Thread-safety: pure; a Ruleset may be evaluated concurrently.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runguard/monitor/event.h"
#include "runguard/monitor/ruleset.h"

namespace runguard::monitor {

struct Match {
  const Rule* rule = nullptr;  // points into the Ruleset, valid while it lives
  std::string rule_name;
  Priority priority = Priority::kWarning;
  RuleAction action = RuleAction::kAlert;
  std::string output;
  std::vector<std::pair<std::string, std::string>> output_fields;
  std::vector<std::string> tags;
};

std::vector<Match> evaluate(const Ruleset& rules, const Event& ev);

// One rule against one event (ignores the event-type prefilter only if the rule cannot see
// ev.type: then false).
bool rule_matches(const Rule& rule, const Event& ev);

std::string render_output(const Rule& rule, const Event& ev,
                          std::vector<std::pair<std::string, std::string>>* fields = nullptr);

}  // namespace runguard::monitor
