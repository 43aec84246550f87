#include "runguard/monitor/eval.h"

#include <algorithm>

#include "compiled.h"
#include "runguard/common/strings.h"

namespace runguard::monitor {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

bool path_prefix(std::string_view v, std::string_view prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (!starts_with(v, prefix)) return false;
  return v.size() == prefix.size() || v[prefix.size()] == '/' || prefix == "/";
}

bool in_set(const Expr& ex, const std::string& v) { return std::binary_search(ex.sorted.begin(), ex.sorted.end(), v); }

int compare_num(const FieldValue& v, const Literal& l, bool* ok) {
  *ok = v.has_num && l.has_num;
  if (v.type == FieldType::kBool) {
    *ok = l.has_num;
    return static_cast<int>(v.boolean) - static_cast<int>(l.num);
  }
  return v.num < l.num ? -1 : v.num > l.num ? 1 : 0;
}

// One scalar (string or number) against the check's operator.
bool scalar_check(const Expr& ex, const FieldValue& v, const std::string& s) {
  const Literal* l = ex.values.empty() ? nullptr : &ex.values[0];
  bool numeric_field = v.type == FieldType::kInt || v.type == FieldType::kBool;
  switch (ex.op) {
    case Op::kEq:
    case Op::kNe: {
      bool eq = false;
      bool ok = false;
      int c = compare_num(v, *l, &ok);
      eq = (numeric_field || ok) ? (ok && c == 0) : s == l->str;
      if (!numeric_field && !ok) eq = s == l->str;
      return ex.op == Op::kEq ? eq : !eq;
    }
    case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe: {
      bool ok = false;
      int c = compare_num(v, *l, &ok);
      if (!ok) return false;
      return ex.op == Op::kLt ? c < 0 : ex.op == Op::kLe ? c <= 0 : ex.op == Op::kGt ? c > 0 : c >= 0;
    }
    case Op::kContains: return s.find(l->str) != std::string::npos;
    case Op::kIContains: return to_lower(s).find(l->lower) != std::string::npos;
    case Op::kBContains: return s.find(l->bytes) != std::string::npos;
    case Op::kStartsWith: return starts_with(s, l->str);
    case Op::kBStartsWith: return starts_with(s, l->bytes);
    case Op::kEndsWith: return ends_with(s, l->str);
    case Op::kGlob: return glob_match(l->str, s);
    case Op::kIGlob: return glob_match(l->lower, to_lower(s));
    case Op::kIn:
    case Op::kIntersects:
      if (numeric_field) {
        return std::any_of(ex.values.begin(), ex.values.end(), [&](const Literal& x) { return x.has_num && x.num == v.num; });
      }
      return in_set(ex, s);
    case Op::kPmatch:
      return std::any_of(ex.values.begin(), ex.values.end(), [&](const Literal& x) { return path_prefix(s, x.str); });
    default: return false;
  }
}

bool check(const Expr& ex, const Event& ev) {
  auto v = extract(ex.field, ev);
  if (ex.op == Op::kExists) return v.has_value();
  if (!v) return false;
  if (v->type == FieldType::kList) {
    return std::any_of(v->list.begin(), v->list.end(), [&](const std::string& s) { return scalar_check(ex, *v, s); });
  }
  if (ex.field.info->id == FieldId::kProcArgs && (ex.op == Op::kIn || ex.op == Op::kIntersects)) {
    const auto& args = ev.proc.args;
    if (ex.op == Op::kIn) return std::all_of(args.begin(), args.end(), [&](const std::string& a) { return in_set(ex, a); });
    return std::any_of(args.begin(), args.end(), [&](const std::string& a) { return in_set(ex, a); });
  }
  if (v->type == FieldType::kInt || v->type == FieldType::kBool) return scalar_check(ex, *v, std::string());
  return scalar_check(ex, *v, v->str);
}

}  // namespace

bool eval_expr(const Expr& ex, const Event& ev) {
  switch (ex.kind) {
    case Expr::Kind::kAnd:
      return std::all_of(ex.children.begin(), ex.children.end(), [&](const Expr& c) { return eval_expr(c, ev); });
    case Expr::Kind::kOr:
      return std::any_of(ex.children.begin(), ex.children.end(), [&](const Expr& c) { return eval_expr(c, ev); });
    case Expr::Kind::kNot: return !eval_expr(ex.children[0], ev);
    case Expr::Kind::kCheck: return check(ex, ev);
    case Expr::Kind::kConst: return ex.constant;
  }
  return false;
}

bool rule_matches(const Rule& rule, const Event& ev) {
  if (!std::binary_search(rule.event_types.begin(), rule.event_types.end(), ev.type)) return false;
  return rule.condition != nullptr && eval_expr(*rule.condition, ev);
}

std::string render_output(const Rule& rule, const Event& ev, std::vector<std::pair<std::string, std::string>>* fields) {
  std::string out;
  for (const auto& p : rule.output_format) {
    if (!p.is_field) {
      out += p.literal;
      continue;
    }
    std::string text = "<NA>";
    if (p.known) {
      if (auto v = extract(p.field, ev)) text = render_value(*v);
    }
    out += text;
    if (fields != nullptr) fields->emplace_back(p.field.text, text);
  }
  return out;
}

std::vector<Match> evaluate(const Ruleset& rules, const Event& ev) {
  std::vector<Match> out;
  for (const auto& r : rules.rules) {
    if (!rule_matches(r, ev)) continue;
    Match m;
    m.rule = &r;
    m.rule_name = r.name;
    m.priority = r.priority;
    m.action = r.action;
    m.output = render_output(r, ev, &m.output_fields);
    m.tags = r.tags;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace runguard::monitor
