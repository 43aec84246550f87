// Rule files: YAML items -> Defs, with Falco's append/override semantics.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "defs.h"
#include "runguard/common/strings.h"

namespace runguard::monitor::detail {
namespace {

const std::vector<std::string> kRuleKeys = {"rule", "condition", "desc", "output", "priority", "exceptions",
                                            "enabled", "tags", "warn_evttypes", "skip-if-unknown-filter",
                                            "source", "append", "override", "runguard.action", "capture",
                                            "capture_duration"};
const std::vector<std::string> kRuleAppendable = {"condition", "output", "desc", "tags", "exceptions"};
const std::vector<std::string> kRuleReplaceable = {"condition", "output", "desc", "priority", "tags", "exceptions",
                                                   "enabled", "warn_evttypes", "skip-if-unknown-filter",
                                                   "runguard.action"};
constexpr size_t kMaxListItems = 100000;
constexpr size_t kMaxExceptionValues = 10000;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class FileLoader {
 public:
  FileLoader(const RuleFile& file, Defs& defs)
      : file_(file), defs_(defs), raw_(std::make_shared<const std::string>(file.text)) {}

  Status load() {
    if (file_.text.size() > kMaxFileBytes) {
      return invalid(file_.name + ": " + std::to_string(file_.text.size()) + " bytes, more than the limit of " +
                     std::to_string(kMaxFileBytes));
    }
    YAML::Node root;
    try {
      root = YAML::Load(file_.text);
    } catch (const YAML::Exception& e) {
      return invalid(file_.name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": invalid YAML: " + e.msg);
    }
    try {
      return items(root);
    } catch (const YAML::Exception& e) {  // conversions; every shape is checked first, so rare
      return invalid(file_.name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": " + e.msg);
    }
  }

 private:
  Location loc(const YAML::Node& n) const {
    Location l{file_.name, 0, 0};
    if (n && n.Mark().line >= 0) {
      l.line = n.Mark().line + 1;
      l.col = n.Mark().column + 1;
    }
    return l;
  }

  Status err(const YAML::Node& n, const std::string& msg) const {
    return invalid(loc(n).to_string() + ": " + (item_.empty() ? "" : item_ + ": ") + msg);
  }

  Status items(const YAML::Node& root) {
    if (!root || root.IsNull()) return Status::ok();
    if (!root.IsSequence()) return err(root, "a rules file must be a YAML list of rule, macro and list items");
    if (root.size() > kMaxItems) return err(root, "more than " + std::to_string(kMaxItems) + " items");
    for (const auto& item : root) {
      item_.clear();
      if (!item.IsMap()) return err(item, "expected an item (a mapping with rule, macro or list)");
      RG_RETURN_IF_ERROR(no_duplicate_keys(item));
      if (item["rule"]) {
        RG_RETURN_IF_ERROR(rule(item));
      } else if (item["macro"]) {
        RG_RETURN_IF_ERROR(macro(item));
      } else if (item["list"]) {
        RG_RETURN_IF_ERROR(list(item));
      } else if (item["required_engine_version"]) {
        RG_RETURN_IF_ERROR(check_keys(item, {"required_engine_version"}));
      } else if (item["required_plugin_versions"]) {
        RG_RETURN_IF_ERROR(check_keys(item, {"required_plugin_versions"}));
        defs_.notes.push_back({"", loc(item),
                               "required_plugin_versions ignored: runguard fills container.* and k8s.* itself"});
      } else {
        return err(item, "unknown item: expected one of rule, macro, list, required_engine_version, "
                         "required_plugin_versions");
      }
    }
    return Status::ok();
  }

  Status no_duplicate_keys(const YAML::Node& n) const {
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) return err(kv.first, "keys must be plain strings");
      if (!seen.insert(kv.first.Scalar()).second) return err(kv.first, "duplicate key " + kv.first.Scalar());
    }
    return Status::ok();
  }

  Status check_keys(const YAML::Node& n, const std::vector<std::string>& allowed) const {
    for (const auto& kv : n) {
      const std::string& k = kv.first.Scalar();
      if (!contains(allowed, k)) {
        return err(kv.first, "unknown key \"" + k + "\"" + did_you_mean(k, allowed) + "; allowed: " + join(allowed, ", "));
      }
    }
    return Status::ok();
  }

  Result<std::string> scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return err(n, key + ": expected a string");
    return n.Scalar();
  }

  Result<bool> boolean(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) {
      std::string v = to_lower(n.Scalar());
      if (v == "true" || v == "yes" || v == "on") return true;
      if (v == "false" || v == "no" || v == "off") return false;
    }
    return err(n, key + ": expected true or false");
  }

  Result<std::vector<std::string>> strings(const YAML::Node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) return err(n, key + ": expected a list of strings");
    if (n.size() > kMaxListItems) return err(n, key + ": more than " + std::to_string(kMaxListItems) + " items");
    for (const auto& e : n) {
      RG_ASSIGN_OR_RETURN(std::string s, scalar(e, key));
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<Segment> segment(const YAML::Node& n, const std::string& key) const {
    RG_ASSIGN_OR_RETURN(std::string text, scalar(n, key));
    return Segment{std::move(text), loc(n), raw_, static_cast<size_t>(std::max(0, n.Mark().pos))};
  }

  // override: {key: append|replace}: validated against the item's keys.
  Result<std::map<std::string, bool>> override_spec(const YAML::Node& item, const std::vector<std::string>& appendable,
                                                    const std::vector<std::string>& replaceable) const {
    const YAML::Node o = item["override"];
    if (!o.IsMap()) return err(o, "override: expected a mapping of key: append|replace");
    if (item["append"]) return err(item["append"], "use either override or append, not both");
    std::map<std::string, bool> spec;  // key -> append?
    for (const auto& kv : o) {
      const std::string& k = kv.first.Scalar();
      RG_ASSIGN_OR_RETURN(std::string mode, scalar(kv.second, "override." + k));
      if (mode != "append" && mode != "replace") return err(kv.second, "override." + k + ": expected append or replace");
      const auto& allowed = mode == "append" ? appendable : replaceable;
      if (!contains(allowed, k)) {
        return err(kv.first, "override." + k + ": cannot " + mode + " this key; allowed: " + join(allowed, ", "));
      }
      if (!item[k]) return err(kv.first, "override." + k + " is given but the item has no " + k);
      spec[k] = mode == "append";
    }
    for (const auto& kv : item) {
      const std::string& k = kv.first.Scalar();
      if (k != "override" && !item_kind_key(k) && !spec.count(k)) {
        return err(kv.first, k + " is given without an override mode (add override: {" + k + ": replace})");
      }
    }
    return spec;
  }

  static bool item_kind_key(const std::string& k) { return k == "rule" || k == "macro" || k == "list"; }

  Result<bool> legacy_append(const YAML::Node& item) const {
    if (!item["append"]) return false;
    return boolean(item["append"], "append");
  }

  // ---- lists ----
  Status list(const YAML::Node& item) {
    RG_ASSIGN_OR_RETURN(std::string name, scalar(item["list"], "list"));
    item_ = "list \"" + name + "\"";
    RG_RETURN_IF_ERROR(check_keys(item, {"list", "items", "append", "override"}));
    if (!item["items"]) return err(item, "items is required");
    RG_ASSIGN_OR_RETURN(std::vector<std::string> values, strings(item["items"], "items"));
    auto it = defs_.list_index.find(name);
    bool append = false;
    if (item["override"]) {
      RG_ASSIGN_OR_RETURN(auto spec, override_spec(item, {"items"}, {"items"}));
      append = spec.count("items") && spec["items"];
      if (it == defs_.list_index.end()) return err(item, "overrides a list that is not defined");
    } else {
      RG_ASSIGN_OR_RETURN(append, legacy_append(item));
      if (append && it == defs_.list_index.end()) return err(item, "appends to a list that is not defined");
    }
    if (it == defs_.list_index.end()) {
      defs_.list_index[name] = defs_.lists.size();
      defs_.lists.push_back({name, std::move(values), loc(item)});
      return Status::ok();
    }
    ListDef& def = defs_.lists[it->second];
    if (!append) def.items.clear();
    if (def.items.size() + values.size() > kMaxListItems) return err(item, "list grows past the item limit");
    def.items.insert(def.items.end(), values.begin(), values.end());
    return Status::ok();
  }

  // ---- macros ----
  Status macro(const YAML::Node& item) {
    RG_ASSIGN_OR_RETURN(std::string name, scalar(item["macro"], "macro"));
    item_ = "macro \"" + name + "\"";
    RG_RETURN_IF_ERROR(check_keys(item, {"macro", "condition", "append", "override"}));
    if (!item["condition"]) return err(item, "condition is required");
    RG_ASSIGN_OR_RETURN(Segment seg, segment(item["condition"], "condition"));
    auto it = defs_.macro_index.find(name);
    bool append = false;
    if (item["override"]) {
      RG_ASSIGN_OR_RETURN(auto spec, override_spec(item, {"condition"}, {"condition"}));
      append = spec.count("condition") && spec["condition"];
      if (it == defs_.macro_index.end()) return err(item, "overrides a macro that is not defined");
    } else {
      RG_ASSIGN_OR_RETURN(append, legacy_append(item));
      if (append && it == defs_.macro_index.end()) return err(item, "appends to a macro that is not defined");
    }
    if (it == defs_.macro_index.end()) {
      defs_.macro_index[name] = defs_.macros.size();
      defs_.macros.push_back({name, CondText{{std::move(seg)}}, loc(item)});
      return Status::ok();
    }
    MacroDef& def = defs_.macros[it->second];
    if (!append) def.cond.segs.clear();
    def.cond.segs.push_back(std::move(seg));
    return Status::ok();
  }

  // ---- rules ----
  Status rule(const YAML::Node& item) {
    RG_ASSIGN_OR_RETURN(std::string name, scalar(item["rule"], "rule"));
    item_ = "rule \"" + name + "\"";
    RG_RETURN_IF_ERROR(check_keys(item, kRuleKeys));
    auto it = defs_.rule_index.find(name);
    RuleDef* existing = it == defs_.rule_index.end() ? nullptr : &defs_.rules[it->second];
    if (item["override"]) {
      if (existing == nullptr) return err(item, "overrides a rule that is not defined");
      RG_ASSIGN_OR_RETURN(auto spec, override_spec(item, kRuleAppendable, kRuleReplaceable));
      for (const auto& [key, append] : spec) RG_RETURN_IF_ERROR(apply_rule_key(*existing, key, item[key], append));
      return Status::ok();
    }
    RG_ASSIGN_OR_RETURN(bool append, legacy_append(item));
    if (append) {
      if (existing == nullptr) return err(item, "appends to a rule that is not defined");
      return apply_keys(*existing, item, true);
    }
    if (existing != nullptr && !item["condition"]) {  // legacy `enabled:` toggle of an existing rule
      if (item["enabled"]) {
        defs_.notes.push_back({name, loc(item), "enabled without override is deprecated in Falco; use override: {enabled: replace}"});
      }
      return apply_keys(*existing, item, false);
    }
    for (const char* required : {"condition", "output", "priority", "desc"}) {
      if (!item[required]) return err(item, std::string(required) + " is required");
    }
    RuleDef def;
    def.name = name;
    def.loc = loc(item);
    RG_RETURN_IF_ERROR(apply_keys(def, item, false));
    if (existing != nullptr) {
      *existing = std::move(def);  // a redefinition replaces the rule, keeping its place
    } else {
      defs_.rule_index[name] = defs_.rules.size();
      defs_.rules.push_back(std::move(def));
    }
    return Status::ok();
  }

  Status apply_keys(RuleDef& def, const YAML::Node& item, bool append) {
    for (const auto& kv : item) {
      const std::string& k = kv.first.Scalar();
      if (k == "rule" || k == "append" || k == "capture" || k == "capture_duration") continue;
      if (append && !contains(kRuleAppendable, k)) return err(kv.first, k + " cannot be appended; use override: {" + k + ": replace}");
      RG_RETURN_IF_ERROR(apply_rule_key(def, k, kv.second, append));
    }
    return Status::ok();
  }

  Status apply_rule_key(RuleDef& def, const std::string& key, const YAML::Node& n, bool append) {
    if (key == "condition") {
      RG_ASSIGN_OR_RETURN(Segment seg, segment(n, key));
      if (!append) def.cond.segs.clear();
      def.cond.segs.push_back(std::move(seg));
    } else if (key == "output" || key == "desc") {
      RG_ASSIGN_OR_RETURN(std::string s, scalar(n, key));
      std::string& target = key == "output" ? def.output : def.desc;
      target = append && !target.empty() ? target + " " + s : s;
    } else if (key == "priority") {
      RG_ASSIGN_OR_RETURN(def.priority, priority(n));
    } else if (key == "tags") {
      RG_ASSIGN_OR_RETURN(std::vector<std::string> tags, strings(n, key));
      if (!append) def.tags.clear();
      def.tags.insert(def.tags.end(), tags.begin(), tags.end());
    } else if (key == "exceptions") {
      return exceptions(def, n, append);
    } else if (key == "enabled" || key == "warn_evttypes" || key == "skip-if-unknown-filter") {
      RG_ASSIGN_OR_RETURN(bool b, boolean(n, key));
      (key == "enabled" ? def.enabled : key == "warn_evttypes" ? def.warn_evttypes : def.skip_if_unknown_filter) = b;
    } else if (key == "source") {
      RG_ASSIGN_OR_RETURN(def.source, scalar(n, key));
    } else if (key == "runguard.action") {
      RG_ASSIGN_OR_RETURN(std::string a, scalar(n, key));
      if (a != "alert" && a != "block") return err(n, "runguard.action: expected alert or block, got \"" + a + "\"");
      def.action = a == "block" ? RuleAction::kBlock : RuleAction::kAlert;
    }
    return Status::ok();
  }

  Result<Priority> priority(const YAML::Node& n) const {
    RG_ASSIGN_OR_RETURN(std::string p, scalar(n, "priority"));
    static const std::vector<std::pair<std::string, Priority>> kNames = {
        {"emergency", Priority::kEmergency}, {"alert", Priority::kAlert}, {"critical", Priority::kCritical},
        {"error", Priority::kError}, {"warning", Priority::kWarning}, {"notice", Priority::kNotice},
        {"informational", Priority::kInformational}, {"info", Priority::kInformational}, {"debug", Priority::kDebug}};
    std::vector<std::string> names;
    for (const auto& [k, v] : kNames) {
      if (to_lower(p) == k) return v;
      names.push_back(k);
    }
    return err(n, "priority: unknown priority \"" + p + "\"" + did_you_mean(p, names) + "; expected one of " + join(names, ", "));
  }

  Status exceptions(RuleDef& def, const YAML::Node& n, bool append) {
    if (!n.IsSequence()) return err(n, "exceptions: expected a list of {name, fields, comps, values}");
    if (!append) def.exceptions.clear();
    for (const auto& e : n) {
      if (!e.IsMap()) return err(e, "exceptions: expected a mapping with name, fields, comps, values");
      RG_RETURN_IF_ERROR(check_keys(e, {"name", "fields", "comps", "values"}));
      if (!e["name"]) return err(e, "exceptions: name is required");
      RG_ASSIGN_OR_RETURN(std::string name, scalar(e["name"], "exceptions.name"));
      auto same = std::find_if(def.exceptions.begin(), def.exceptions.end(), [&](const auto& x) { return x.name == name; });
      if (same != def.exceptions.end() && append && !e["fields"]) {
        RG_RETURN_IF_ERROR(exception_values(*same, e["values"]));
        continue;
      }
      ExceptionDef ex;
      ex.name = name;
      ex.loc = loc(e);
      RG_RETURN_IF_ERROR(exception_shape(ex, e));
      if (e["values"]) RG_RETURN_IF_ERROR(exception_values(ex, e["values"]));
      if (same != def.exceptions.end()) {
        *same = std::move(ex);
      } else {
        def.exceptions.push_back(std::move(ex));
      }
    }
    return Status::ok();
  }

  Status exception_shape(ExceptionDef& ex, const YAML::Node& e) const {
    std::string where = "exceptions \"" + ex.name + "\"";
    if (!e["fields"]) return err(e, where + ": fields is required");
    if (e["fields"].IsScalar()) {
      ex.single_field = true;
      ex.fields = {e["fields"].Scalar()};
      ex.comps = {"in"};
      if (e["comps"]) {
        RG_ASSIGN_OR_RETURN(ex.comps[0], scalar(e["comps"], where + ".comps"));
      }
      if (ex.comps[0] != "in" && ex.comps[0] != "pmatch" && ex.comps[0] != "intersects") {
        return err(e["comps"], where + ": a single-field exception allows only in, pmatch or intersects");
      }
      return Status::ok();
    }
    RG_ASSIGN_OR_RETURN(ex.fields, strings(e["fields"], where + ".fields"));
    if (ex.fields.empty()) return err(e["fields"], where + ": fields is empty");
    if (e["comps"]) {
      RG_ASSIGN_OR_RETURN(ex.comps, strings(e["comps"], where + ".comps"));
      if (ex.comps.size() != ex.fields.size()) {
        return err(e["comps"], where + ": " + std::to_string(ex.fields.size()) + " fields but " +
                                   std::to_string(ex.comps.size()) + " comps");
      }
    } else {
      ex.comps.assign(ex.fields.size(), "=");
    }
    return Status::ok();
  }

  Status exception_values(ExceptionDef& ex, const YAML::Node& n) const {
    std::string where = "exceptions \"" + ex.name + "\".values";
    if (!n || n.IsNull()) return Status::ok();
    if (!n.IsSequence()) return err(n, where + ": expected a list");
    if (ex.values.size() + n.size() > kMaxExceptionValues) return err(n, where + ": too many values");
    for (const auto& v : n) {
      if (ex.single_field) {
        RG_ASSIGN_OR_RETURN(std::string s, scalar(v, where));
        ex.values.push_back({ExceptionValue{{s}, false}});
        continue;
      }
      if (!v.IsSequence() || v.size() != ex.fields.size()) {
        return err(v, where + ": each value must be a list of " + std::to_string(ex.fields.size()) + " items (one per field)");
      }
      std::vector<ExceptionValue> tuple;
      for (const auto& e : v) {
        ExceptionValue ev;
        ev.is_list = e.IsSequence();
        if (ev.is_list) {
          RG_ASSIGN_OR_RETURN(ev.items, strings(e, where));
        } else {
          RG_ASSIGN_OR_RETURN(std::string s, scalar(e, where));
          ev.items.push_back(std::move(s));
        }
        tuple.push_back(std::move(ev));
      }
      ex.values.push_back(std::move(tuple));
    }
    return Status::ok();
  }

  const RuleFile& file_;
  Defs& defs_;
  std::shared_ptr<const std::string> raw_;
  std::string item_;  // "rule \"X\"" for messages
};

}  // namespace

Status load_file(const RuleFile& file, Defs& defs) { return FileLoader(file, defs).load(); }

}  // namespace runguard::monitor::detail
