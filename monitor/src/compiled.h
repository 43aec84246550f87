// Internal: the compiled condition tree the evaluator walks. Built by compiler.cc, read by eval.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runguard/monitor/condition.h"
#include "runguard/monitor/fields.h"
#include "runguard/monitor/ruleset.h"

namespace runguard::monitor {

struct Literal {
  std::string str;
  std::string lower;  // for icontains / iglob
  std::string bytes;  // decoded hex, for bcontains / bstartswith
  int64_t num = 0;
  bool has_num = false;
};

struct Expr {
  enum class Kind { kAnd, kOr, kNot, kCheck, kConst };
  Kind kind = Kind::kCheck;
  bool constant = false;  // kConst: a subtree no monitored event type can change
  std::vector<Expr> children;
  FieldRef field;
  Op op = Op::kExists;
  std::vector<Literal> values;
  std::vector<std::string> sorted;  // `in` / `intersects` string sets, sorted for binary search
};

// True when `ex` holds for `ev` (eval.cc).
bool eval_expr(const Expr& ex, const Event& ev);

}  // namespace runguard::monitor
