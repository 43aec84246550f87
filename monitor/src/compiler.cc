// Rule compilation: expanded AST -> Expr, with field, operator, type and event-type validation.
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "compiled.h"
#include "defs.h"
#include "expand.h"
#include "runguard/common/strings.h"

namespace runguard::monitor::detail {
namespace {

struct Skip {
  std::string category;
  std::string reason;
};

// Event types a condition can match, within the monitored set U; `all` = no restriction.
struct TypeSet {
  bool all = true;
  std::set<std::string> names;
};

TypeSet intersect(const TypeSet& a, const TypeSet& b) {
  if (a.all) return b;
  if (b.all) return a;
  TypeSet r{false, {}};
  std::set_intersection(a.names.begin(), a.names.end(), b.names.begin(), b.names.end(), std::inserter(r.names, r.names.end()));
  return r;
}

TypeSet unite(const TypeSet& a, const TypeSet& b) {
  if (a.all || b.all) return TypeSet{};
  TypeSet r{false, a.names};
  r.names.insert(b.names.begin(), b.names.end());
  return r;
}

std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    b += 2;
    base = 16;
  }
  auto [p, ec] = std::from_chars(b, e, v, base);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return v;
}

std::optional<std::string> decode_hex(const std::string& s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

bool numeric_op(Op op) { return op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe; }

class RuleCompiler {
 public:
  RuleCompiler() {
    for (const auto& t : monitored_event_types()) universe_.insert(t.name);
  }

  // For every node: the monitored event types where it can be true (P) and where it can be false
  // (N). Bottom-up, so `not` just swaps them (De Morgan). A subtree with P empty is constant
  // false for every event the monitor produces, one with N empty constant true: build() folds
  // them, so e.g. `(open_write and ...) or (spawned_process and ...)` keeps its exec branch and
  // never looks at the open branch's fields (Falco would evaluate that branch to false too).
  std::pair<TypeSet, TypeSet> analyze(const Node& n) {
    std::pair<TypeSet, TypeSet> r;
    if (n.kind == Node::Kind::kNot) {
      auto c = analyze(n.children[0]);
      r = {c.second, c.first};
    } else if (n.kind == Node::Kind::kAnd || n.kind == Node::Kind::kOr) {
      bool is_and = n.kind == Node::Kind::kAnd;
      r = is_and ? std::pair<TypeSet, TypeSet>{TypeSet{}, TypeSet{false, {}}} : std::pair<TypeSet, TypeSet>{TypeSet{false, {}}, TypeSet{}};
      for (const auto& c : n.children) {
        auto cs = analyze(c);
        r.first = is_and ? intersect(r.first, cs.first) : unite(r.first, cs.first);
        r.second = is_and ? unite(r.second, cs.second) : intersect(r.second, cs.second);
      }
    } else {
      r = check_types(n);
    }
    memo_[&n] = r;
    return r;
  }

  void reset() { memo_.clear(); }
  void mentioned(const Node& n, std::set<std::string>& out) const {
    for (const auto& c : n.children) mentioned(c, out);
    if (n.kind == Node::Kind::kCheck && n.field == "evt.type") {
      for (const auto& v : n.values) out.insert(v.text);
    }
  }

  std::optional<Skip> build(const Node& n, const std::vector<std::string>& rule_types, Expr& out) const {
    const auto& [p, q] = memo_.at(&n);
    if ((!p.all && p.names.empty()) || (!q.all && q.names.empty())) {
      out.kind = Expr::Kind::kConst;
      out.constant = !q.all && q.names.empty();
      return std::nullopt;
    }
    switch (n.kind) {
      case Node::Kind::kAnd: out.kind = Expr::Kind::kAnd; break;
      case Node::Kind::kOr: out.kind = Expr::Kind::kOr; break;
      case Node::Kind::kNot: out.kind = Expr::Kind::kNot; break;
      default: return build_check(n, rule_types, out);
    }
    for (const auto& c : n.children) {
      Expr e;
      if (auto s = build(c, rule_types, e)) return s;
      out.children.push_back(std::move(e));
    }
    return std::nullopt;
  }

 private:
  std::optional<Skip> build_check(const Node& n, const std::vector<std::string>& rule_types, Expr& out) const {
    out.kind = Expr::Kind::kCheck;
    out.op = n.op;
    auto ref = resolve_field(n.field, n.field_arg);
    if (!ref.is_ok()) {
      std::string what = n.field + (n.field_arg ? "[" + *n.field_arg + "]" : "");
      if (ref.status().code() == Code::kNotFound) return Skip{"field", "field " + what + " is not available to the monitor"};
      return Skip{"field", ref.status().message()};
    }
    out.field = std::move(ref).value();
    if (!n.transformer.empty()) return Skip{"operator", "transformer " + n.transformer + "() is not supported"};
    if (n.op == Op::kRegex) return Skip{"operator", "operator regex is not supported (use glob or pmatch)"};
    if (auto s = check_arg(out.field, rule_types)) return s;
    if (auto s = check_type(out.field, n.op)) return s;
    for (const auto& v : n.values) {
      auto lit = literal(out.field, n.op, v.text);
      if (!lit) return Skip{"type", "value \"" + v.text + "\" does not fit " + out.field.text + " " + op_name(n.op) + " (" + field_type_name(out.field.type) + ")"};
      out.values.push_back(std::move(*lit));
    }
    if (n.op == Op::kIn || n.op == Op::kIntersects) {
      for (const auto& l : out.values) out.sorted.push_back(l.str);
      std::sort(out.sorted.begin(), out.sorted.end());
    }
    return std::nullopt;
  }

  // evt.arg.NAME must be an argument of at least one event type the rule can match.
  static std::optional<Skip> check_arg(const FieldRef& f, const std::vector<std::string>& rule_types) {
    if (f.arg_name.empty()) return std::nullopt;
    for (const auto& t : rule_types) {
      const EventTypeInfo* info = find_event_type(t);
      for (const char* a : info->args) {
        if (f.arg_name == a) return std::nullopt;
      }
    }
    return Skip{"evt-arg", f.text + " is not produced for evt.type " + join(rule_types, ", ")};
  }

  static std::optional<Skip> check_type(const FieldRef& f, Op op) {
    bool ok = true;
    switch (f.type) {
      case FieldType::kInt:
        ok = op == Op::kEq || op == Op::kNe || numeric_op(op) || op == Op::kIn || op == Op::kIntersects || op == Op::kExists;
        break;
      case FieldType::kBool: ok = op == Op::kEq || op == Op::kNe || op == Op::kExists; break;
      case FieldType::kString:
      case FieldType::kList: ok = !numeric_op(op); break;
      case FieldType::kArg: break;
    }
    if (ok) return std::nullopt;
    return Skip{"type", std::string("operator ") + op_name(op) + " does not apply to " + f.text + " (" + field_type_name(f.type) + ")"};
  }

  static std::optional<Literal> literal(const FieldRef& f, Op op, const std::string& text) {
    Literal l;
    l.str = text;
    l.lower = to_lower(text);
    if (auto n = parse_int(text)) {
      l.num = *n;
      l.has_num = true;
    }
    if (op == Op::kBContains || op == Op::kBStartsWith) {
      auto b = decode_hex(text);
      if (!b) return std::nullopt;
      l.bytes = *b;
    }
    if (f.type == FieldType::kInt && !l.has_num) return std::nullopt;
    if (f.type == FieldType::kArg && numeric_op(op) && !l.has_num) return std::nullopt;
    if (f.type == FieldType::kBool) {
      if (l.lower != "true" && l.lower != "false") return std::nullopt;
      l.has_num = true;
      l.num = l.lower == "true" ? 1 : 0;
    }
    return l;
  }

  std::pair<TypeSet, TypeSet> check_types(const Node& n) const {
    if (n.field != "evt.type" || n.field_arg || !n.transformer.empty()) return {TypeSet{}, TypeSet{}};
    if (n.op != Op::kEq && n.op != Op::kIn && n.op != Op::kNe) return {TypeSet{}, TypeSet{}};
    TypeSet named{false, {}};
    for (const auto& v : n.values) {
      if (universe_.count(v.text)) named.names.insert(v.text);
    }
    TypeSet rest{false, {}};
    std::set_difference(universe_.begin(), universe_.end(), named.names.begin(), named.names.end(),
                        std::inserter(rest.names, rest.names.end()));
    if (n.op == Op::kNe) return {rest, named};
    return {named, rest};
  }

  std::set<std::string> universe_;
  std::map<const Node*, std::pair<TypeSet, TypeSet>> memo_;
};

OutputPiece literal_piece(std::string text) {
  OutputPiece p;
  p.literal = std::move(text);
  return p;
}

std::vector<OutputPiece> compile_output(const std::string& fmt) {
  std::vector<OutputPiece> out;
  std::string lit;
  for (size_t i = 0; i < fmt.size();) {
    size_t j = i + 1;
    while (j < fmt.size() && (std::isalnum(static_cast<unsigned char>(fmt[j])) || fmt[j] == '_' || fmt[j] == '.')) ++j;
    if (fmt[i] != '%' || j == i + 1) {
      lit += fmt[i++];
      continue;
    }
    std::string name = fmt.substr(i + 1, j - i - 1);
    while (!name.empty() && name.back() == '.') {  // "%proc.name." ends a sentence
      name.pop_back();
      --j;
    }
    std::optional<std::string> arg;
    if (j < fmt.size() && fmt[j] == '[') {
      size_t close = fmt.find(']', j);
      if (close != std::string::npos) {
        arg = fmt.substr(j + 1, close - j - 1);
        j = close + 1;
      }
    }
    if (!lit.empty()) out.push_back(literal_piece(std::move(lit)));
    lit.clear();
    OutputPiece p;
    p.is_field = true;
    auto ref = resolve_field(name, arg);
    p.known = ref.is_ok();
    if (p.known) p.field = std::move(ref).value();
    if (!p.known) p.field.text = name + (arg ? "[" + *arg + "]" : "");
    out.push_back(std::move(p));
    i = j;
  }
  if (!lit.empty()) out.push_back(literal_piece(std::move(lit)));
  return out;
}

struct Outcome {
  std::optional<Rule> rule;
  std::optional<Skip> skip;
};

Outcome compile_rule(RuleCompiler& rc, const RuleDef& def, const Node& cond) {
  rc.reset();
  TypeSet ts = rc.analyze(cond).first;
  Rule r;
  r.unrestricted = ts.all;
  if (ts.all) {
    for (const auto& t : monitored_event_types()) r.event_types.push_back(t.name);
    std::sort(r.event_types.begin(), r.event_types.end());
  } else {
    r.event_types.assign(ts.names.begin(), ts.names.end());
  }
  if (r.event_types.empty()) {
    std::set<std::string> named;
    rc.mentioned(cond, named);
    return {std::nullopt, Skip{"event-type", "evt.type " + (named.empty() ? std::string("(none)") : join({named.begin(), named.end()}, ", ")) +
                                                 " not intercepted by the monitor"}};
  }
  auto expr = std::make_shared<Expr>();
  if (auto s = rc.build(cond, r.event_types, *expr)) return {std::nullopt, s};
  r.name = def.name;
  r.desc = def.desc;
  r.output = def.output;
  r.output_format = compile_output(def.output);
  r.source = def.source;
  r.priority = def.priority;
  r.action = def.action;
  r.tags = def.tags;
  r.location = def.loc;
  r.condition = std::move(expr);
  return {std::move(r), std::nullopt};
}

}  // namespace

Result<Ruleset> compile(const Defs& defs, const LoadOptions& options) {
  Expander expander(defs);
  RG_RETURN_IF_ERROR(expander.parse_macros());
  RuleCompiler rc;
  Ruleset rs;
  rs.macros = defs.macros.size();
  rs.lists = defs.lists.size();
  rs.warnings = defs.notes;
  for (const auto& def : defs.rules) {
    if (def.source != "syscall") {
      rs.skipped.push_back({def.name, def.loc, "source", "source " + def.source + " is not produced by the monitor"});
      continue;
    }
    RG_ASSIGN_OR_RETURN(Node cond, expander.expand_rule(def));
    Outcome o = compile_rule(rc, def, cond);
    if (o.skip) {
      rs.skipped.push_back({def.name, def.loc, o.skip->category, o.skip->reason});
      continue;
    }
    if (o.rule->unrestricted && def.warn_evttypes) {
      rs.warnings.push_back({def.name, def.loc, "no evt.type restriction: evaluated on every monitored syscall"});
    }
    if (!def.enabled) {
      rs.disabled.push_back(def.name);
    } else {
      rs.rules.push_back(std::move(*o.rule));
    }
  }
  if (options.strict && !rs.skipped.empty()) {
    std::string msg = std::to_string(rs.skipped.size()) + " rule(s) cannot be evaluated by the monitor (strict)";
    for (const auto& s : rs.skipped) msg += "\n  " + s.location.to_string() + ": rule \"" + s.name + "\": " + s.reason;
    return invalid(msg);
  }
  return rs;
}

}  // namespace runguard::monitor::detail
