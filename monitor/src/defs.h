// Internal: rule files as loaded (lists, macros and rules with their overrides applied), before
// compilation. loader.cc builds it, compiler.cc turns it into a Ruleset.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runguard/monitor/condition.h"
#include "runguard/monitor/ruleset.h"

namespace runguard::monitor::detail {

// One YAML scalar that is (part of) a condition, with what is needed to map an offset inside it
// back to file:line:col (folded block scalars do not keep columns, so tokens are searched for in
// the raw file text from the scalar's start).
struct Segment {
  std::string text;
  Location loc;
  std::shared_ptr<const std::string> raw;
  size_t raw_pos = 0;
};

// A condition assembled from its definition plus appended fragments, joined with spaces.
struct CondText {
  std::vector<Segment> segs;
  std::string joined() const;
  Location locate(size_t offset) const;
};

struct ListDef {
  std::string name;
  std::vector<std::string> items;
  Location loc;
};

struct MacroDef {
  std::string name;
  CondText cond;
  Location loc;
};

struct ExceptionValue {
  std::vector<std::string> items;
  bool is_list = false;
};

struct ExceptionDef {
  std::string name;
  std::vector<std::string> fields;
  bool single_field = false;  // `fields: name` instead of a list
  std::vector<std::string> comps;
  std::vector<std::vector<ExceptionValue>> values;  // single-field form: one ExceptionValue per value
  Location loc;
};

struct RuleDef {
  std::string name;
  CondText cond;
  std::string output;
  std::string desc;
  Priority priority = Priority::kWarning;
  std::string source = "syscall";
  std::vector<std::string> tags;
  bool enabled = true;
  bool warn_evttypes = true;
  bool skip_if_unknown_filter = false;
  RuleAction action = RuleAction::kAlert;
  std::vector<ExceptionDef> exceptions;
  Location loc;
};

struct Defs {
  std::vector<ListDef> lists;
  std::vector<MacroDef> macros;
  std::vector<RuleDef> rules;
  std::map<std::string, size_t> list_index, macro_index, rule_index;
  std::vector<Note> notes;
};

// Loads one file into `defs`, applying its appends/overrides to what earlier files defined.
Status load_file(const RuleFile& file, Defs& defs);

// Compiles every rule (compiler.cc).
Result<Ruleset> compile(const Defs& defs, const LoadOptions& options);

}  // namespace runguard::monitor::detail
