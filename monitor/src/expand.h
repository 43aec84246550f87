// Internal: turns a rule's condition text (+ exceptions) into one AST with every macro and list
// expanded. Errors (undefined macro, cycle, depth, size) are located in the text they come from.
#pragma once

#include <map>
#include <string>

#include "defs.h"

namespace runguard::monitor::detail {

class Expander {
 public:
  explicit Expander(const Defs& defs) : defs_(defs) {}

  // Parses every macro once; a syntax error in any macro is a load error even if no rule uses it.
  Status parse_macros();

  // The rule's condition with its exceptions folded in, fully expanded.
  Result<Node> expand_rule(const RuleDef& rule);

 private:
  Result<Node> expand(const Node& n, const CondText& src, const std::string& where, int depth);
  Status expand_operands(Node& n, const CondText& src, const std::string& where);
  Status expand_list(const std::string& name, std::vector<Operand>& out, size_t pos, int depth,
                     std::vector<std::string>& stack);
  Result<Node> exceptions_node(const RuleDef& rule);
  Status located(const CondText& src, size_t pos, const std::string& where, const std::string& msg) const;

  const Defs& defs_;
  std::map<std::string, Node> parsed_;  // macro name -> AST
  std::vector<std::string> stack_;      // macros being expanded, for cycle detection
  size_t nodes_ = 0;
};

}  // namespace runguard::monitor::detail
