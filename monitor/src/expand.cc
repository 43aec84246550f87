#include "expand.h"

#include <algorithm>

#include "runguard/common/strings.h"

namespace runguard::monitor::detail {
namespace {

Location line_col(const std::string& raw, size_t p, const std::string& file) {
  Location l{file, 1, 1};
  for (size_t i = 0; i < p && i < raw.size(); ++i) {
    if (raw[i] == '\n') {
      ++l.line;
      l.col = 1;
    } else {
      ++l.col;
    }
  }
  return l;
}

// The offset's place in the file: the k-th occurrence of the token at `local` in the scalar is
// searched for as the k-th occurrence in the raw text after the scalar's start (YAML folding only
// changes whitespace, so tokens keep their order). Falls back to the scalar's own position.
Location locate_in(const Segment& seg, size_t local) {
  if (!seg.raw || seg.text.empty()) return seg.loc;
  size_t last = seg.text.find_last_not_of(" \t\r\n");
  if (last == std::string::npos) return seg.loc;
  if (local > last) {  // "the condition ended": just after its last character
    Location l = locate_in(seg, last);
    ++l.col;
    return l;
  }
  size_t end = local;
  while (end < seg.text.size() && end - local < 24 && seg.text[end] != ' ' && seg.text[end] != '\n') ++end;
  std::string token = seg.text.substr(local, std::max<size_t>(end - local, 1));
  size_t k = 0;
  for (size_t p = seg.text.find(token); p != std::string::npos && p < local; p = seg.text.find(token, p + 1)) ++k;
  const std::string& raw = *seg.raw;
  size_t limit = std::min(raw.size(), seg.raw_pos + seg.text.size() * 2 + 256);
  size_t p = raw.find(token, seg.raw_pos);
  for (size_t i = 0; i < k && p != std::string::npos; ++i) p = raw.find(token, p + 1);
  if (p == std::string::npos || p >= limit) return seg.loc;
  return line_col(raw, p, seg.loc.file);
}

Node check(const std::string& field, const std::string& comp, std::vector<Operand> values, bool* ok) {
  Node n;
  n.kind = Node::Kind::kCheck;
  n.pos = std::string::npos;
  std::string f = field;
  size_t br = f.find('[');
  if (br != std::string::npos && f.back() == ']') {
    n.field_arg = f.substr(br + 1, f.size() - br - 2);
    f = f.substr(0, br);
  }
  n.field = f;
  // The comparison operator, spelled as in a condition.
  *ok = false;
  for (Op op : {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe, Op::kContains, Op::kIContains,
                Op::kBContains, Op::kStartsWith, Op::kBStartsWith, Op::kEndsWith, Op::kGlob, Op::kIGlob,
                Op::kRegex, Op::kIn, Op::kIntersects, Op::kPmatch, Op::kExists}) {
    if (comp == op_name(op) || (comp == "==" && op == Op::kEq)) {
      n.op = op;
      *ok = true;
    }
  }
  n.list_form = is_list_op(n.op);
  n.values = std::move(values);
  return n;
}

Node combine(Node::Kind kind, std::vector<Node> children) {
  if (children.size() == 1) return std::move(children[0]);
  Node n;
  n.kind = kind;
  n.pos = std::string::npos;
  n.children = std::move(children);
  return n;
}

}  // namespace

std::string CondText::joined() const {
  std::string out;
  for (const auto& s : segs) out += (out.empty() ? "" : " ") + s.text;
  return out;
}

Location CondText::locate(size_t offset) const {
  size_t start = 0;
  for (const auto& s : segs) {
    if (offset <= start + s.text.size()) return locate_in(s, offset - start);
    start += s.text.size() + 1;
  }
  return segs.empty() ? Location{} : segs.back().loc;
}

Status Expander::located(const CondText& src, size_t pos, const std::string& where, const std::string& msg) const {
  return invalid(src.locate(pos).to_string() + ": " + where + ": " + msg);
}

Status Expander::parse_macros() {
  for (const auto& m : defs_.macros) {
    size_t pos = 0;
    auto parsed = parse_condition(m.cond.joined(), &pos);
    if (!parsed.is_ok()) return located(m.cond, pos, "macro \"" + m.name + "\"", parsed.status().message());
    parsed_[m.name] = std::move(parsed).value();
  }
  return Status::ok();
}

Result<Node> Expander::expand_rule(const RuleDef& rule) {
  std::string where = "rule \"" + rule.name + "\"";
  size_t pos = 0;
  auto parsed = parse_condition(rule.cond.joined(), &pos);
  if (!parsed.is_ok()) return located(rule.cond, pos, where, parsed.status().message());
  Node root = std::move(parsed).value();
  if (!rule.exceptions.empty()) {
    RG_ASSIGN_OR_RETURN(Node ex, exceptions_node(rule));
    if (!ex.children.empty() || ex.kind == Node::Kind::kCheck) {
      Node negated;
      negated.kind = Node::Kind::kNot;
      negated.pos = std::string::npos;
      negated.children.push_back(std::move(ex));
      root = combine(Node::Kind::kAnd, {std::move(root), std::move(negated)});
    }
  }
  nodes_ = 0;
  stack_.clear();
  return expand(root, rule.cond, where, 0);
}

// (f1 c1 v1 and f2 c2 v2) or ... for every value tuple of every exception, as Falco builds it.
Result<Node> Expander::exceptions_node(const RuleDef& rule) {
  std::vector<Node> alternatives;
  for (const auto& ex : rule.exceptions) {
    for (const auto& tuple : ex.values) {
      std::vector<Node> terms;
      if (ex.single_field) {
        std::vector<Operand> items;
        for (const auto& v : tuple) items.push_back({v.items.at(0), false, std::string::npos});
        bool ok = false;
        terms.push_back(check(ex.fields[0], ex.comps[0], std::move(items), &ok));
      } else {
        for (size_t i = 0; i < ex.fields.size(); ++i) {
          std::vector<Operand> items;
          for (const auto& s : tuple[i].items) items.push_back({s, false, std::string::npos});
          bool ok = false;
          Node c = check(ex.fields[i], ex.comps[i], std::move(items), &ok);
          if (!ok) {
            return invalid(ex.loc.to_string() + ": rule \"" + rule.name + "\": exceptions \"" + ex.name +
                           "\": unknown comparison \"" + ex.comps[i] + "\"");
          }
          if (tuple[i].is_list && !c.list_form) {
            return invalid(ex.loc.to_string() + ": rule \"" + rule.name + "\": exceptions \"" + ex.name +
                           "\": a list value needs in, intersects or pmatch for field " + ex.fields[i]);
          }
          terms.push_back(std::move(c));
        }
      }
      alternatives.push_back(combine(Node::Kind::kAnd, std::move(terms)));
    }
  }
  if (alternatives.empty()) {
    Node empty;
    empty.kind = Node::Kind::kOr;
    return empty;
  }
  return combine(Node::Kind::kOr, std::move(alternatives));
}

Result<Node> Expander::expand(const Node& n, const CondText& src, const std::string& where, int depth) {
  if (++nodes_ > kMaxCompiledNodes) {
    return invalid(src.locate(0).to_string() + ": " + where + ": condition expands to more than " +
                   std::to_string(kMaxCompiledNodes) + " nodes");
  }
  if (n.kind == Node::Kind::kMacro) {
    auto it = parsed_.find(n.name);
    if (it == parsed_.end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : parsed_) names.push_back(k);
      return located(src, n.pos, where, "undefined macro \"" + n.name + "\"" + did_you_mean(n.name, names));
    }
    if (std::find(stack_.begin(), stack_.end(), n.name) != stack_.end()) {
      return located(src, n.pos, where, "macro cycle: " + join(stack_, " -> ") + " -> " + n.name);
    }
    if (depth >= kMaxExpansionDepth) {
      return located(src, n.pos, where, "macros nested deeper than " + std::to_string(kMaxExpansionDepth));
    }
    const MacroDef& def = defs_.macros[defs_.macro_index.at(n.name)];
    stack_.push_back(n.name);
    auto body = expand(it->second, def.cond, "macro \"" + n.name + "\" (in " + where + ")", depth + 1);
    stack_.pop_back();
    return body;
  }
  Node out;  // a shallow copy: children are rebuilt expanded
  out.kind = n.kind;
  out.pos = n.pos;
  out.field = n.field;
  out.field_arg = n.field_arg;
  out.transformer = n.transformer;
  out.op = n.op;
  out.values = n.values;
  out.list_form = n.list_form;
  for (const auto& c : n.children) {
    RG_ASSIGN_OR_RETURN(Node e, expand(c, src, where, depth));
    out.children.push_back(std::move(e));
  }
  if (out.kind == Node::Kind::kCheck) RG_RETURN_IF_ERROR(expand_operands(out, src, where));
  return out;
}

// List names among unquoted items of a list operator expand to their items (recursively); any
// other bare word stays a literal string, as in Falco.
Status Expander::expand_operands(Node& n, const CondText& src, const std::string& where) {
  if (!n.list_form) return Status::ok();
  std::vector<Operand> out;
  for (const auto& v : n.values) {
    if (v.quoted || !defs_.list_index.count(v.text)) {
      out.push_back(v);
      continue;
    }
    std::vector<std::string> stack;
    Status s = expand_list(v.text, out, v.pos, 0, stack);
    if (!s.is_ok()) return located(src, v.pos, where, s.message());
  }
  n.values = std::move(out);
  return Status::ok();
}

Status Expander::expand_list(const std::string& name, std::vector<Operand>& out, size_t pos, int depth,
                             std::vector<std::string>& stack) {
  if (std::find(stack.begin(), stack.end(), name) != stack.end()) {
    return invalid("list cycle: " + join(stack, " -> ") + " -> " + name);
  }
  if (depth >= kMaxExpansionDepth) return invalid("lists nested deeper than " + std::to_string(kMaxExpansionDepth));
  stack.push_back(name);
  for (const auto& item : defs_.lists[defs_.list_index.at(name)].items) {
    if (defs_.list_index.count(item)) {
      RG_RETURN_IF_ERROR(expand_list(item, out, pos, depth + 1, stack));
    } else {
      if (out.size() >= kMaxCompiledNodes) return invalid("list expands to more than " + std::to_string(kMaxCompiledNodes) + " items");
      out.push_back({item, true, pos});
    }
  }
  stack.pop_back();
  return Status::ok();
}

}  // namespace runguard::monitor::detail
