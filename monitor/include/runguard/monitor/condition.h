// Condition syntax: the Falco filter grammar, parsed into an AST (no field or macro lookup here;
// the compiler resolves names and types, see ruleset.h).
//
// Grammar (after libsinsp's filter/parser.h; keywords and operators are case-sensitive):
//
//   Expr        ::= OrExpr
//   OrExpr      ::= AndExpr ('or' AndExpr)*
//   AndExpr     ::= NotExpr ('and' NotExpr)*
//   NotExpr     ::= 'not' NotExpr | Check          -- so: not > and > or
//   Check       ::= Field Condition
//                 | Transformer '(' Field ')' Condition   -- parsed, then refused as unsupported
//                 | Identifier                      -- a macro
//                 | '(' Expr ')'
//   Field       ::= FieldName ('[' FieldArg ']')?    e.g. proc.aname[2], evt.arg[0], evt.arg.path
//   FieldName   ::= [a-zA-Z0-9_.]+  containing a '.'
//   Identifier  ::= [a-zA-Z0-9_.-]+ without a '.'
//   Condition   ::= 'exists'
//                 | CmpOp Value
//                 | ListOp ListValue
//   CmpOp       ::= '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'icontains'
//                 | 'bcontains' | 'startswith' | 'bstartswith' | 'endswith' | 'glob' | 'iglob'
//                 | 'regex'
//   ListOp      ::= 'in' | 'intersects' | 'pmatch'
//   ListValue   ::= '(' (Value (',' Value)*)? ')' | Identifier    -- bare items may name lists
//   Value       ::= BareStr | QuotedStr
//   BareStr     ::= [^ \t\n\r\b(),="']+
//   QuotedStr   ::= '"' ... '"' | "'" ... "'"   with \\ \" \' escapes
//
// Word operators and keywords need a word boundary; `not(` is allowed.
// Limits: kMaxConditionBytes of text, kMaxParseDepth nested parentheses/`not`s (Falco's default
// is 100 too); deeper input is an error, never a stack overflow.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::monitor {

constexpr size_t kMaxConditionBytes = 256 * 1024;
constexpr int kMaxParseDepth = 100;

enum class Op {
  kEq, kNe, kLt, kLe, kGt, kGe, kContains, kIContains, kBContains, kStartsWith, kBStartsWith,
  kEndsWith, kGlob, kIGlob, kRegex, kIn, kIntersects, kPmatch, kExists,
};
const char* op_name(Op op);
bool is_list_op(Op op);

struct Operand {
  std::string text;
  bool quoted = false;  // a quoted item is never a list name
  size_t pos = 0;       // byte offset in the condition text
};

struct Node {
  enum class Kind { kAnd, kOr, kNot, kCheck, kMacro };
  Kind kind = Kind::kCheck;
  size_t pos = 0;
  std::vector<Node> children;  // kAnd/kOr: 2+; kNot: 1
  // kCheck
  std::string field;
  std::optional<std::string> field_arg;
  std::string transformer;  // non-empty: `tolower(field)` etc. (unsupported, reported by the compiler)
  Op op = Op::kExists;
  std::vector<Operand> values;
  bool list_form = false;   // values came as '(...)' or a bare list identifier
  // kMacro
  std::string name;
};

// Parses `text`. On error the Status message says what was expected and *error_pos (if given)
// is the byte offset of the offending token, for the caller to turn into file:line:col.
Result<Node> parse_condition(std::string_view text, size_t* error_pos = nullptr);

}  // namespace runguard::monitor
