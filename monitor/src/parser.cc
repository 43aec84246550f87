#include <array>
#include <cstring>
#include <utility>

#include "runguard/monitor/condition.h"

namespace runguard::monitor {
namespace {

struct OpSpelling {
  const char* text;
  Op op;
};
// Symbols longest first; words need a boundary after them.
constexpr std::array<OpSpelling, 7> kSymbolOps = {{
    {"==", Op::kEq}, {"!=", Op::kNe}, {"<=", Op::kLe}, {">=", Op::kGe},
    {"=", Op::kEq}, {"<", Op::kLt}, {">", Op::kGt},
}};
constexpr std::array<OpSpelling, 13> kWordOps = {{
    {"exists", Op::kExists}, {"in", Op::kIn}, {"intersects", Op::kIntersects}, {"pmatch", Op::kPmatch},
    {"contains", Op::kContains}, {"icontains", Op::kIContains}, {"bcontains", Op::kBContains},
    {"startswith", Op::kStartsWith}, {"bstartswith", Op::kBStartsWith}, {"endswith", Op::kEndsWith},
    {"glob", Op::kGlob}, {"iglob", Op::kIGlob}, {"regex", Op::kRegex},
}};
constexpr std::array<const char*, 6> kTransformers = {"tolower", "toupper", "b64", "basename", "len", "val"};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\b'; }
bool is_bare_char(char c) {
  return !is_space(c) && c != '(' && c != ')' && c != ',' && c != '=' && c != '"' && c != '\'';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<Node> parse(size_t* error_pos) {
    auto r = parse_or(0);
    if (r.is_ok()) {
      skip_ws();
      if (i_ != s_.size()) r = fail("unexpected \"" + peek_token() + "\" after a complete expression");
    }
    if (!r.is_ok() && error_pos != nullptr) *error_pos = err_pos_;
    return r;
  }

 private:
  Status fail(const std::string& msg) {
    err_pos_ = i_;
    return invalid(msg + " at offset " + std::to_string(i_));
  }

  void skip_ws() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }

  std::string peek_token() const {
    size_t j = i_;
    while (j < s_.size() && !is_space(s_[j]) && j - i_ < 24) ++j;
    return j == i_ ? std::string("end of condition") : std::string(s_.substr(i_, j - i_));
  }

  // Consumes keyword `kw` if it is next and followed by a boundary (space, '(' or end).
  bool keyword(const char* kw) {
    skip_ws();
    size_t n = std::strlen(kw);
    if (s_.substr(i_, n) != kw) return false;
    if (i_ + n < s_.size() && is_word_char(s_[i_ + n])) return false;
    i_ += n;
    return true;
  }

  Result<Node> parse_or(int depth) {
    RG_ASSIGN_OR_RETURN(Node left, parse_and(depth));
    return parse_chain(std::move(left), Node::Kind::kOr, "or", depth);
  }

  Result<Node> parse_and(int depth) {
    RG_ASSIGN_OR_RETURN(Node left, parse_not(depth));
    return parse_chain(std::move(left), Node::Kind::kAnd, "and", depth);
  }

  Result<Node> parse_chain(Node left, Node::Kind kind, const char* kw, int depth) {
    if (!peek_keyword(kw)) return left;
    Node n;
    n.kind = kind;
    n.pos = left.pos;
    n.children.push_back(std::move(left));
    while (keyword(kw)) {
      auto next = kind == Node::Kind::kOr ? parse_and(depth) : parse_not(depth);
      if (!next.is_ok()) return next;
      n.children.push_back(std::move(next).value());
    }
    return n;
  }

  bool peek_keyword(const char* kw) {
    size_t save = i_;
    bool yes = keyword(kw);
    i_ = save;
    return yes;
  }

  Result<Node> parse_not(int depth) {
    if (depth > kMaxParseDepth) return fail("condition nested deeper than " + std::to_string(kMaxParseDepth));
    skip_ws();
    size_t pos = i_;
    if (keyword("not")) {
      RG_ASSIGN_OR_RETURN(Node child, parse_not(depth + 1));
      Node n;
      n.kind = Node::Kind::kNot;
      n.pos = pos;
      n.children.push_back(std::move(child));
      return n;
    }
    return parse_check(depth);
  }

  Result<Node> parse_check(int depth) {
    skip_ws();
    if (i_ >= s_.size()) return fail("expected a field, macro or '(' but the condition ended");
    if (s_[i_] == '(') {
      ++i_;
      RG_ASSIGN_OR_RETURN(Node inner, parse_or(depth + 1));
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != ')') return fail("expected ')'");
      ++i_;
      return inner;
    }
    Node n;
    n.pos = i_;
    std::string word = read_word();
    if (word.empty()) return fail("expected a field, macro or '(' but found \"" + peek_token() + "\"");
    if (word == "and" || word == "or") {
      i_ = n.pos;
      return fail("expected a field, macro or '(' before \"" + word + "\"");
    }
    if (i_ < s_.size() && s_[i_] == '(' && is_transformer(word)) return parse_transformed(std::move(n), word);
    if (i_ < s_.size() && s_[i_] == '[') {
      RG_RETURN_IF_ERROR(read_field_arg(n));
    }
    n.field = word;
    skip_ws();
    auto op = read_op();
    if (!op) {
      if (word.find('.') == std::string::npos && !n.field_arg) {
        n.kind = Node::Kind::kMacro;
        n.name = word;
        n.field.clear();
        return n;
      }
      return fail("expected an operator after field " + word + " but found \"" + peek_token() + "\"");
    }
    n.op = *op;
    RG_RETURN_IF_ERROR(parse_operands(n));
    return n;
  }

  static bool is_transformer(const std::string& w) {
    for (const char* t : kTransformers) {
      if (w == t) return true;
    }
    return false;
  }

  Result<Node> parse_transformed(Node n, const std::string& transformer) {
    ++i_;  // '('
    skip_ws();
    n.transformer = transformer;
    n.field = read_word();
    if (n.field.empty()) return fail("expected a field inside " + transformer + "(...)");
    if (i_ < s_.size() && s_[i_] == '[') RG_RETURN_IF_ERROR(read_field_arg(n));
    skip_ws();
    if (i_ >= s_.size() || s_[i_] != ')') return fail("expected ')' after " + transformer + "(" + n.field);
    ++i_;
    skip_ws();
    auto op = read_op();
    if (!op) return fail("expected an operator after " + transformer + "(...)");
    n.op = *op;
    RG_RETURN_IF_ERROR(parse_operands(n));
    return n;
  }

  std::string read_word() {
    size_t start = i_;
    while (i_ < s_.size() && is_word_char(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  Status read_field_arg(Node& n) {
    size_t close = s_.find(']', i_);
    if (close == std::string_view::npos) return fail("expected ']' to close the field argument");
    n.field_arg = std::string(s_.substr(i_ + 1, close - i_ - 1));
    i_ = close + 1;
    return Status::ok();
  }

  std::optional<Op> read_op() {
    for (const auto& o : kSymbolOps) {
      size_t n = std::strlen(o.text);
      if (s_.substr(i_, n) == o.text) {
        i_ += n;
        return o.op;
      }
    }
    for (const auto& o : kWordOps) {
      size_t n = std::strlen(o.text);
      if (s_.substr(i_, n) == o.text && (i_ + n >= s_.size() || !is_word_char(s_[i_ + n]))) {
        i_ += n;
        return o.op;
      }
    }
    return std::nullopt;
  }

  Status parse_operands(Node& n) {
    if (n.op == Op::kExists) return Status::ok();
    skip_ws();
    if (!is_list_op(n.op)) {
      RG_ASSIGN_OR_RETURN(Operand v, read_value());
      n.values.push_back(std::move(v));
      return Status::ok();
    }
    n.list_form = true;
    if (i_ < s_.size() && s_[i_] != '(') {  // `in list_name`
      RG_ASSIGN_OR_RETURN(Operand v, read_value());
      n.values.push_back(std::move(v));
      return Status::ok();
    }
    ++i_;
    skip_ws();
    if (i_ < s_.size() && s_[i_] == ')') {
      ++i_;
      return Status::ok();
    }
    for (;;) {
      RG_ASSIGN_OR_RETURN(Operand v, read_value());
      n.values.push_back(std::move(v));
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ')') {
        ++i_;
        return Status::ok();
      }
      return fail("expected ',' or ')' in the value list");
    }
  }

  Result<Operand> read_value() {
    skip_ws();
    Operand v;
    v.pos = i_;
    if (i_ >= s_.size()) return fail("expected a value but the condition ended");
    char q = s_[i_];
    if (q == '"' || q == '\'') return read_quoted(q, v);
    while (i_ < s_.size() && is_bare_char(s_[i_])) v.text += s_[i_++];
    if (v.text.empty()) return fail("expected a value but found \"" + peek_token() + "\"");
    return v;
  }

  Result<Operand> read_quoted(char q, Operand v) {
    v.quoted = true;
    ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size() && (s_[i_] == q || s_[i_] == '\\' || s_[i_] == '"' || s_[i_] == '\'')) c = s_[i_++];
      v.text += c;
    }
    if (i_ >= s_.size()) {
      i_ = v.pos;
      return fail("unterminated quoted string");
    }
    ++i_;
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t err_pos_ = 0;
};

}  // namespace

const char* op_name(Op op) {
  switch (op) {
    case Op::kEq: return "=";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kContains: return "contains";
    case Op::kIContains: return "icontains";
    case Op::kBContains: return "bcontains";
    case Op::kStartsWith: return "startswith";
    case Op::kBStartsWith: return "bstartswith";
    case Op::kEndsWith: return "endswith";
    case Op::kGlob: return "glob";
    case Op::kIGlob: return "iglob";
    case Op::kRegex: return "regex";
    case Op::kIn: return "in";
    case Op::kIntersects: return "intersects";
    case Op::kPmatch: return "pmatch";
    case Op::kExists: return "exists";
  }
  return "?";
}

bool is_list_op(Op op) { return op == Op::kIn || op == Op::kIntersects || op == Op::kPmatch; }

Result<Node> parse_condition(std::string_view text, size_t* error_pos) {
  if (text.size() > kMaxConditionBytes) {
    if (error_pos != nullptr) *error_pos = 0;
    return invalid("condition is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                   std::to_string(kMaxConditionBytes));
  }
  return Parser(text).parse(error_pos);
}

}  // namespace runguard::monitor
