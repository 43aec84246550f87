#include "records.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <map>

#include "runguard/common/strings.h"
#include "runguard/policy/catalog.h"

namespace runguard::cli {
namespace {

// j[k0][k1]... when every step is an object holding the key; nullptr otherwise.
const Json* at(const Json& j, std::initializer_list<const char*> keys) {
  const Json* cur = &j;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string str(const Json& j, std::initializer_list<const char*> keys) {
  const Json* v = at(j, keys);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

const Json& array_at(const Json& j, std::initializer_list<const char*> keys) {
  static const Json kEmpty = Json::array();
  const Json* v = at(j, keys);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

bool flag(const Json& j, std::initializer_list<const char*> keys, bool fallback) {
  const Json* v = at(j, keys);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : fallback;
}

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }

// A string member for display: str() made printable().
std::string text(const Json& j, std::initializer_list<const char*> keys) { return printable(str(j, keys)); }

void append_escape(std::string& out, const char* format, unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

// The length of the well-formed UTF-8 sequence at the start of `s` and its code point; 0 when it
// is not one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
size_t utf8_sequence(std::string_view s, uint32_t* cp) {
  auto c = static_cast<unsigned char>(s[0]);
  size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || s.size() < len) return 0;
  uint32_t v = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[k]);
    if ((b & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b & 0x3F);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

// Code points a terminal acts on or that reorder what is shown: C1 controls, bidi overrides and
// isolates, line and paragraph separators.
bool unsafe_code_point(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
         cp == 0x2029;
}

std::string plural(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// A JSON value on one line, cut to `max` characters.
std::string brief_json(const Json& v, size_t max = 100) {
  std::string s = dump_json(v);
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

size_t applied_changes(const Json& decision) {
  size_t n = 0;
  for (const auto& m : array_at(decision, {"mutations"})) n += flag(m, {"applied"}, true) ? 1 : 0;
  return n;
}

}  // namespace

// ---- text output ----

std::string printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x20 || c == 0x7F) {
      append_escape(out, "\\x%02x", c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (uint32_t cp = 0; size_t len = utf8_sequence(in.substr(i), &cp)) {
      if (unsafe_code_point(cp)) append_escape(out, "\\u%04x", cp);
      else out.append(in.substr(i, len));
      i += len;
    } else {
      append_escape(out, "\\x%02x", c);  // not UTF-8: a lone 0x9b is CSI to an 8-bit terminal
      ++i;
    }
  }
  return out;
}

// ---- ps ----

std::optional<ContainerRow> row_from_record(const Json& record, const std::string& state) {
  if (!record.is_object()) return std::nullopt;
  ContainerRow r;
  r.id = str(record, {"id"});
  if (r.id.empty()) r.id = str(record, {"context", "id"});
  if (r.id.empty()) return std::nullopt;
  r.image = str(record, {"context", "image"});
  r.digest = str(record, {"context", "imageDigest"});
  r.k8s_namespace = str(record, {"context", "namespace"});
  r.pod = str(record, {"context", "pod"});
  r.engine = str(record, {"context", "engine"});
  r.time = str(record, {"time"});
  r.state = state;
  const Json* decision = at(record, {"decision"});
  static const Json kNone = Json::object();
  const Json& d = decision != nullptr && decision->is_object() ? *decision : kNone;
  r.allowed = flag(d, {"allowed"}, true);
  r.mode = str(d, {"mode"});
  r.findings = array_at(d, {"findings"}).size();
  r.changes = r.allowed && r.mode != "audit" ? applied_changes(d) : 0;
  return r;
}

std::string short_digest(const std::string& digest) {
  std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
  return hex.substr(0, 12);
}

std::string render_ps_table(const std::vector<ContainerRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"ID", "IMAGE", "DIGEST", "NAMESPACE/POD", "STATE", "CHANGES", "FINDINGS", "MONITORED"});
  for (const auto& r : rows) {
    std::string ns_pod = r.k8s_namespace.empty() && r.pod.empty() ? "" : dash(r.k8s_namespace) + "/" + dash(r.pod);
    cells.push_back({dash(printable(r.id)), dash(printable(r.image)), dash(printable(short_digest(r.digest))),
                     dash(printable(ns_pod)), dash(printable(r.state)), std::to_string(r.changes), std::to_string(r.findings),
                     dash(printable(r.monitor))});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

Json row_to_json(const ContainerRow& r) {
  Json j = {{"id", r.id},
            {"image", r.image},
            {"digest", r.digest},
            {"namespace", r.k8s_namespace},
            {"pod", r.pod},
            {"engine", r.engine},
            {"state", r.state},
            {"allowed", r.allowed},
            {"mode", r.mode},
            {"time", r.time},
            {"changes", r.changes},
            {"findings", r.findings},
            {"monitored", r.monitor.empty() ? Json() : Json(r.monitor == "yes")}};
  if (r.monitor_pid > 0) j["monitorPid"] = r.monitor_pid;
  return j;
}

// ---- explain ----

std::vector<std::string> benchmark_refs(const std::string& control) {
  std::vector<std::string> out;
  const policy::ControlInfo* info = policy::find_control(control);
  if (info == nullptr) return out;
  for (const char* c : info->cis) out.push_back(std::string("CIS ") + c);
  for (const char* p : info->pss) out.push_back(std::string("PSS ") + p);
  return out;
}

namespace {

std::string refs_of(const Json& finding_or_mutation) {
  std::vector<std::string> refs;
  for (const auto& b : array_at(finding_or_mutation, {"benchmarks"})) {
    if (b.is_string()) refs.push_back(b.get<std::string>());
  }
  if (refs.empty()) refs = benchmark_refs(str(finding_or_mutation, {"control"}));
  return printable(join(refs, ", "));
}

void finding_block(std::string& out, const Json& f) {
  out += "  " + dash(text(f, {"id"})) + "  " + text(f, {"control"});
  if (std::string sev = text(f, {"severity"}); !sev.empty()) out += "  (" + sev + ")";
  out += "\n      " + text(f, {"message"}) + "\n";
  std::string where = text(f, {"pointer"});
  std::string refs = refs_of(f);
  if (!where.empty()) out += "      at " + where + "\n";
  if (!refs.empty()) out += "      " + refs + "\n";
}

std::vector<const Json*> findings_with_action(const Json& d, const std::string& action) {
  std::vector<const Json*> out;
  for (const auto& f : array_at(d, {"findings"})) {
    if (str(f, {"action"}) == action) out.push_back(&f);
  }
  return out;
}

std::string mutation_line(const Json& m) {
  std::string op = str(m, {"op"});
  std::string line = dash(op) + " " + dash(str(m, {"pointer"}));
  if (op != "remove") {
    if (const Json* v = at(m, {"value"}); v != nullptr) line += " = " + brief_json(*v);
    else if (std::string vj = str(m, {"valueJson"}); !vj.empty()) line += " = " + vj.substr(0, 100);
  }
  return printable(line);
}

// Mutations grouped by (id, control), in first-seen order, each with the enforce findings that
// explain it.
void changes_block(std::string& out, const Json& d, bool applied) {
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::vector<const Json*>> groups;
  for (const auto& m : array_at(d, {"mutations"})) {
    if (flag(m, {"applied"}, true) != applied) continue;
    auto key = std::make_pair(str(m, {"id"}), str(m, {"control"}));
    if (groups[key].empty()) order.push_back(key);
    groups[key].push_back(&m);
  }
  auto enforced = findings_with_action(d, "enforce");
  for (const auto& key : order) {
    out += "  " + dash(printable(key.first)) + "  " + printable(key.second) + "\n";
    for (const Json* f : enforced) {
      if (str(*f, {"id"}) == key.first) out += "      " + text(*f, {"message"}) + "\n";
    }
    for (const Json* m : groups[key]) out += "      " + mutation_line(*m) + "\n";
    std::string refs = refs_of(*groups[key].front());
    if (!refs.empty()) out += "      " + refs + "\n";
  }
  // Enforced findings whose change is recorded under another id still deserve a line.
  for (const Json* f : enforced) {
    bool shown = std::any_of(order.begin(), order.end(), [&](const auto& k) { return k.first == str(*f, {"id"}); });
    if (!shown && applied) finding_block(out, *f);
  }
}

size_t count_mutations(const Json& d, bool applied) {
  size_t n = 0;
  for (const auto& m : array_at(d, {"mutations"})) n += flag(m, {"applied"}, true) == applied ? 1 : 0;
  return n;
}

}  // namespace

namespace {

// The attestation gate's state in one line ("" for records from before the gate existed).
std::string attestation_text(const Json& d) {
  std::string gate = str(d, {"attestation", "gate"});
  if (gate.empty()) return "";
  if (gate == "off") return "gate off (" + str(d, {"attestation", "reason"}) + ")";
  const Json* evaluated = at(d, {"attestation", "evaluated"});
  if (evaluated != nullptr && *evaluated == false) return gate + ", not evaluated (" + str(d, {"attestation", "reason"}) + ")";
  if (!flag(d, {"attestation", "required"}, true)) return gate + ", not required (" + str(d, {"attestation", "reason"}) + ")";
  bool passed = flag(d, {"attestation", "passed"}, false);
  return gate + ", " + (passed ? "passed: " : "failed: ") + str(d, {"attestation", "summary"});
}

}  // namespace

std::string explain_text(const Json& record, const ExplainExtras& x) {
  static const Json kNone = Json::object();
  const Json* dp = at(record, {"decision"});
  const Json& d = dp != nullptr && dp->is_object() ? *dp : kNone;
  bool allowed = flag(d, {"allowed"}, true);
  std::string mode = str(d, {"mode"});
  bool audit = mode == "audit";
  auto denied = findings_with_action(d, "deny");
  auto audits = findings_with_action(d, "audit");
  size_t applied = allowed && !audit ? count_mutations(d, true) : 0;

  std::string id = str(record, {"id"});
  if (id.empty()) id = str(record, {"context", "id"});
  std::string out = "container " + dash(printable(id)) + "\n";
  // Values are the record's (and the container's): printable() keeps each on its own line.
  auto field = [&out](const std::string& name, const std::string& value) {
    if (!value.empty()) out += "  " + name + std::string(12 - std::min<size_t>(name.size(), 11), ' ') + printable(value) + "\n";
  };
  std::string verdict = allowed ? "allowed" : "DENIED";
  if (audit) verdict += " (audit mode: runguard changed and refused nothing, it only recorded)";
  else if (allowed) verdict += ", " + plural(applied, "change", "changes") + " made";
  else verdict += " by " + plural(denied.size(), "control", "controls");
  field("verdict", verdict);
  std::string state = x.state;
  if (x.monitored.has_value() && state != "denied" && state != "deleted") {
    state += std::string(state.empty() ? "" : ", ") + (*x.monitored ? "monitored" : "not monitored");
    if (x.monitor_events.has_value()) state += " (" + plural(*x.monitor_events, "monitor event", "monitor events") + ")";
  }
  if (!x.note.empty()) state += (state.empty() ? "" : "; ") + x.note;
  field("state", state);
  std::string when = str(record, {"time"});
  std::string command = str(record, {"command"});
  field("decided", when + (command.empty() ? "" : (when.empty() ? "" : " ") + std::string("at runguard ") + command));
  std::string policy = str(record, {"policy", "source"});
  std::string override_name = str(d, {"override"});
  field("policy", policy + (override_name.empty() ? "" : (policy.empty() ? "" : ", ") + std::string("override \"") +
                                                              override_name + "\""));
  field("image", str(record, {"context", "image"}));
  field("digest", str(record, {"context", "imageDigest"}));
  field("attestation", attestation_text(d));
  std::vector<std::string> k8s;
  if (auto ns = str(record, {"context", "namespace"}); !ns.empty()) k8s.push_back("namespace " + ns);
  if (auto pod = str(record, {"context", "pod"}); !pod.empty()) k8s.push_back("pod " + pod);
  if (auto c = str(record, {"context", "containerName"}); !c.empty()) k8s.push_back("container " + c);
  if (auto t = str(record, {"context", "containerType"}); !t.empty()) k8s.push_back("type " + t);
  field("kubernetes", join(k8s, ", "));
  field("engine", str(record, {"context", "engine"}));
  field("bundle", str(record, {"context", "bundle"}));
  if (x.origin == "events") field("source", "the events file (a refused container has no state directory)");

  if (!denied.empty()) {
    out += "\ndenied because (" + std::to_string(denied.size()) + "):\n";
    for (const Json* f : denied) finding_block(out, *f);
  }
  if (allowed && !audit) {
    out += "\nchanged (" + std::to_string(applied) + "):\n";
    if (applied == 0) out += "  nothing: the spec already complied\n";
    changes_block(out, d, true);
  } else if (!allowed) {
    out += "\nchanged: nothing (a refused container is never created)\n";
  }
  if (size_t would = audit ? count_mutations(d, true) + count_mutations(d, false) : count_mutations(d, false); would > 0) {
    std::string why = audit ? "would change in enforce mode" : !allowed ? "would also change, were it allowed" : "not applied";
    out += "\n" + why + " (" + std::to_string(would) + "):\n";
    changes_block(out, d, false);
    if (audit) changes_block(out, d, true);
  }
  if (!audits.empty()) {
    out += "\naudit findings, recorded only (" + std::to_string(audits.size()) + "):\n";
    for (const Json* f : audits) finding_block(out, *f);
  }
  return out;
}

std::optional<Json> record_from_decision_event(const Json& event) {
  if (!event.is_object()) return std::nullopt;
  // The runtime writes flat "runguard.<key>" members; older lines nest them in "runguard".
  const Json* nested = at(event, {"runguard"});
  if (nested != nullptr && !nested->is_object()) nested = nullptr;
  auto rg = [&](const char* key) -> const Json* {
    if (const Json* flat = at(event, {(std::string("runguard.") + key).c_str()}); flat != nullptr) return flat;
    return nested != nullptr ? at(*nested, {key}) : nullptr;
  };
  auto rg_str = [&](const char* key) {
    const Json* v = rg(key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
  };
  if (rg_str("kind") != "decision") return std::nullopt;
  if (const Json* rec = rg("record"); rec != nullptr && rec->is_object()) return *rec;
  // runguard.container: an object {"id","name","image",...} (the runtime's), or the id (older lines).
  static const Json kNone = Json::object();
  const Json* cp = rg("container");
  const Json& container = cp != nullptr && cp->is_object() ? *cp : kNone;
  auto pick = [](std::string a, std::string b) { return a.empty() ? b : a; };
  std::string id = cp != nullptr && cp->is_string() ? cp->get<std::string>() : str(container, {"id"});
  if (id.empty()) id = str(event, {"output_fields", "container.id"});
  Json r = Json::object();
  r["version"] = 1;
  r["id"] = id;
  r["time"] = str(event, {"time"});
  r["policy"] = {{"source", rg_str("policy")}};
  r["context"] = {{"id", id},
                  {"containerName", str(container, {"name"})},
                  {"image", pick(str(container, {"image"}), str(event, {"output_fields", "container.image"}))},
                  {"imageDigest", pick(str(container, {"imageDigest"}), str(event, {"output_fields", "container.image.digest"}))},
                  {"namespace", pick(str(container, {"namespace"}), str(event, {"output_fields", "k8s.ns.name"}))},
                  {"pod", pick(str(container, {"pod"}), str(event, {"output_fields", "k8s.pod.name"}))}};
  const Json* d = rg("decision");
  Json decision = d != nullptr && d->is_object() ? *d : Json::object();
  auto allowed = decision.find("allowed");
  if (allowed == decision.end() || !allowed->is_boolean()) decision["allowed"] = rg_str("action") != "denied";
  r["decision"] = std::move(decision);
  return r;
}

// ---- events ----

const std::vector<std::string>& priority_names() {
  static const std::vector<std::string> n = {"Emergency", "Alert",  "Critical",      "Error",
                                             "Warning",   "Notice", "Informational", "Debug"};
  return n;
}

std::optional<int> priority_rank(std::string_view name) {
  std::string lower = to_lower(name);
  if (lower == "info") lower = "informational";
  const auto& names = priority_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (to_lower(names[i]) == lower) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::optional<EventLine> parse_event_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.front() != '{') return std::nullopt;
  auto j = parse_json(line, "event line");
  if (!j.is_ok() || !j->is_object()) return std::nullopt;
  const Json& e = *j;
  EventLine out;
  // Decision events nest their runguard fields; monitor events use Falco-style dotted keys.
  const Json* rg = at(e, {"runguard"});
  bool nested = rg != nullptr && rg->is_object();
  out.kind = nested ? str(*rg, {"kind"}) : "";
  if (out.kind.empty()) out.kind = str(e, {"runguard.kind"});
  if (out.kind.empty()) out.kind = "monitor";
  out.action = nested ? str(*rg, {"action"}) : "";
  if (out.action.empty()) out.action = str(e, {"runguard.action"});
  if (nested) {
    out.container_id = str(*rg, {"container"});
    if (out.container_id.empty()) out.container_id = str(*rg, {"container", "id"});
  }
  if (out.container_id.empty()) out.container_id = str(e, {"runguard.container", "id"});
  if (out.container_id.empty()) out.container_id = str(e, {"runguard.container"});
  if (out.container_id.empty()) out.container_id = str(e, {"output_fields", "container.id"});
  out.rule = str(e, {"rule"});
  out.priority = str(e, {"priority"});
  out.output = str(e, {"output"});
  if (out.rule.empty() && out.output.empty()) return std::nullopt;  // an object, but no event
  return out;
}

bool event_matches(const EventLine& e, const EventFilter& f) {
  if (!f.container_id.empty() && e.container_id != f.container_id) return false;
  if (!f.rule.empty() && e.rule != f.rule) return false;
  if (!f.kind.empty() && e.kind != f.kind) return false;
  if (f.max_rank.has_value()) {
    auto rank = priority_rank(e.priority);
    if (!rank.has_value() || *rank > *f.max_rank) return false;
  }
  return true;
}

std::string format_event_text(const std::string& container_id, const std::string& output) {
  return dash(printable(container_id)) + " " + printable(output);
}

}  // namespace runguard::cli
