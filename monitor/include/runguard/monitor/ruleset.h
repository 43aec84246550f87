// Ruleset: Falco rule files (YAML) loaded, resolved and compiled, ready to evaluate.
//
// load_rules() reads the files in order (a later file appends to or overrides an earlier one's
// lists, macros and rules, exactly like passing several -r files to Falco), then compiles every
// rule: macros and lists expanded, `exceptions` folded into the condition as
// `and not ((f1 c1 v1 and f2 c2 v2) or ...)`, every field resolved against fields.h, every
// operator checked against its field's type, and the set of event types the rule can match
// computed and intersected with the syscalls the monitor intercepts.
//
// Two outcomes for a rule that cannot be evaluated faithfully:
//   - an ERROR (load_rules fails; message "file:line:col: rule \"name\": ..."): the file is
//     malformed - YAML syntax, a missing or unknown key (did-you-mean), a bad priority, a condition
//     syntax error, an undefined macro or list, a macro cycle, a limit exceeded, an override of an
//     item that does not exist;
//   - a SKIP (the rule is left out and listed with its reason): the rule is well-formed Falco but
//     needs what the monitor cannot produce - a field not in the registry, an event type it does
//     not intercept (evt.type in (open, connect)), an evt.arg the rule's syscalls do not carry,
//     an unsupported operator (regex) or transformer, another event source (k8s_audit), or an
//     operator the field's type does not support. With LoadOptions::strict every skip is an error.
// Rules without any evt.type restriction load (as in Falco, they see every monitored syscall) and
// are reported as warnings.
//
// Extension: `runguard.action: alert|block` on a rule (default alert, so Falco files load
// unchanged). Only that dotted spelling is accepted; `runguard_action` is an unknown key (error with
// a did-you-mean), so a typo cannot silently downgrade a block to an alert.
//
// Limits: kMaxFileBytes per file, kMaxItems per file, kMaxExpansionDepth for nested
// macros/lists, kMaxCompiledNodes per rule after expansion.
//
// Thread-safety: a loaded Ruleset is immutable; evaluate it from any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/monitor/fields.h"

namespace runguard::monitor {

constexpr size_t kMaxFileBytes = 8 * 1024 * 1024;
constexpr size_t kMaxItems = 20000;
constexpr int kMaxExpansionDepth = 64;
constexpr size_t kMaxCompiledNodes = 200000;

enum class Priority { kEmergency, kAlert, kCritical, kError, kWarning, kNotice, kInformational, kDebug };
// Falco's spelling in outputs: "Emergency" ... "Informational", "Debug".
const char* priority_name(Priority p);

enum class RuleAction { kAlert, kBlock };
const char* action_name(RuleAction a);

struct Location {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;
  std::string to_string() const;  // "file:line:col"
};

struct Expr;  // the compiled condition (src/compiled.h)

// One piece of a compiled output format: literal text, or a field to substitute.
struct OutputPiece {
  std::string literal;
  bool is_field = false;
  bool known = false;  // false: not in the registry, renders as <NA>
  FieldRef field;
};

struct Rule {
  std::string name;
  std::string desc;
  std::string output;  // as written
  std::vector<OutputPiece> output_format;
  std::string source = "syscall";
  Priority priority = Priority::kWarning;
  RuleAction action = RuleAction::kAlert;
  std::vector<std::string> tags;
  Location location;
  std::vector<std::string> event_types;  // the monitored syscalls it can match, sorted
  bool unrestricted = false;             // no evt.type restriction in the condition
  std::shared_ptr<const Expr> condition;
};

struct SkippedRule {
  std::string name;
  Location location;
  std::string category;  // stable grouping key: "event-type", "field", "evt-arg", "operator", "source", "type"
  std::string reason;
};

struct Note {
  std::string name;  // item name, or "" for file-level notes
  Location location;
  std::string message;
};

struct Ruleset {
  std::vector<Rule> rules;             // enabled, loaded rules in file order
  std::vector<SkippedRule> skipped;
  std::vector<std::string> disabled;   // `enabled: false` rules that compiled (not evaluated)
  std::vector<Note> warnings;          // e.g. no evt.type restriction, ignored plugin requirements
  size_t macros = 0;
  size_t lists = 0;
};

struct RuleFile {
  std::string name;  // path, for messages
  std::string text;
};

struct LoadOptions {
  bool strict = false;  // every skip becomes an error
};

Result<Ruleset> load_rules(const std::vector<RuleFile>& files, const LoadOptions& options = {});

}  // namespace runguard::monitor
