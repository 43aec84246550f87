#include "store.h"

#include <algorithm>

#include "event.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/catalog.h"
#include "runguard/policy/context.h"
#include "runguard/common/utf8.h"

namespace runguard::agent {
namespace {

std::string str(const Json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const Json& sub(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

// The catalog entry a finding belongs to: its id ("RG-CAPS-001"), else its id's family (the
// catalog holds each control's primary id; "RG-RES-002" is a resources finding), else its
// control name. nullptr when none matches.
const policy::ControlInfo* control_of(const std::string& id, const std::string& control) {
  const auto& catalog = policy::control_catalog();
  for (const auto& c : catalog) {
    if (id == c.id) return &c;
  }
  if (size_t dash = id.rfind('-'); dash != std::string::npos && dash > 0) {
    std::string family = id.substr(0, dash + 1);
    for (const auto& c : catalog) {
      if (std::string(c.id).rfind(family, 0) == 0) return &c;
    }
  }
  return policy::find_control(control);
}

}  // namespace

std::vector<std::string> finding_benchmarks(const std::string& id, const std::string& control) {
  std::vector<std::string> out;
  const policy::ControlInfo* info = control_of(id, control);
  if (info == nullptr) return out;
  for (const char* c : info->cis) out.push_back(std::string("CIS ") + c);
  for (const char* p : info->pss) out.push_back(std::string("PSS ") + p);
  return out;
}

bool annotation_value_kept(const std::string& key) {
  // Keys the engines set themselves, whose values say what the container is. Everything else
  // (kubectl's last-applied-configuration, operators' annotations, ...) may carry credentials.
  static constexpr const char* kKeptPrefixes[] = {"io.kubernetes.cri.", "io.kubernetes.cri-o.", "io.containerd.",
                                                  "org.opencontainers.image.", "io.podman.annotations."};
  // Copies of every pod annotation, under an engine's prefix.
  static constexpr const char* kDropped[] = {"io.kubernetes.cri.pod-annotations", "io.kubernetes.cri-o.Annotations"};
  for (const char* d : kDropped) {
    if (key == d) return false;
  }
  for (const char* p : kKeptPrefixes) {
    if (key.rfind(p, 0) == 0) return true;
  }
  return false;
}

namespace {

// `record` with context.annotations' values redacted (annotation_value_kept), or nullopt when
// nothing needs redacting.
std::optional<Json> redacted_record(const Json& record) {
  auto ctx = record.find("context");
  if (ctx == record.end() || !ctx->is_object()) return std::nullopt;
  auto ann = ctx->find("annotations");
  if (ann == ctx->end() || !ann->is_object()) return std::nullopt;
  bool needed = false;
  for (const auto& [k, v] : ann->items()) {
    if (!annotation_value_kept(k) && v != kRedacted) needed = true;
  }
  if (!needed) return std::nullopt;
  Json out = record;
  for (auto& [k, v] : out["context"]["annotations"].items()) {
    if (!annotation_value_kept(k)) v = kRedacted;
  }
  return out;
}

// decision.findings / decision.mutations / allowed / mode / override (policy::decision_to_json).
Status read_decision(const Json& d, const std::string& where, ContainerRecord& r) {
  if (!d.is_object()) return invalid(where + ": \"decision\" is missing or not an object");
  auto allowed = d.find("allowed");
  if (allowed == d.end() || !allowed->is_boolean()) return invalid(where + ": decision.allowed is missing or not a boolean");
  r.allowed = allowed->get<bool>();
  r.mode = str(d, "mode");
  r.override_name = str(d, "override");
  if (const Json& fs = sub(d, "findings"); fs.is_array()) {
    for (const Json& f : fs) {
      if (!f.is_object()) continue;
      FindingInfo fi{str(f, "id"), str(f, "control"), str(f, "severity"), str(f, "action"), str(f, "message"), str(f, "pointer"), {}};
      if (const Json& b = sub(f, "benchmarks"); b.is_array()) {
        for (const Json& x : b) {
          if (x.is_string()) fi.benchmarks.push_back(x.get<std::string>());
        }
      }
      if (fi.benchmarks.empty()) fi.benchmarks = finding_benchmarks(fi.id, fi.control);
      r.findings.push_back(std::move(fi));
    }
  }
  if (const Json& ms = sub(d, "mutations"); ms.is_array()) {
    for (const Json& m : ms) {
      if (!m.is_object()) continue;
      MutationInfo mi{str(m, "id"), str(m, "control"), str(m, "op"), str(m, "pointer"), "", false};
      if (auto v = m.find("value"); v != m.end()) mi.value_json = dump_json(*v);
      if (auto a = m.find("applied"); a != m.end() && a->is_boolean()) mi.applied = a->get<bool>();
      r.mutations.push_back(std::move(mi));
    }
  }
  return Status::ok();
}

Status check_id(const std::string& id, const std::string& where) {
  if (Status s = pipeline::check_container_id(id); !s.is_ok()) return invalid(where + ": " + s.message());
  return Status::ok();
}

}  // namespace

std::vector<std::string> ContainerRecord::denying_controls() const {
  std::vector<std::string> out;
  if (allowed) return out;
  for (const auto& f : findings) {
    if (f.action == "deny") out.push_back(f.id);
  }
  return out;
}

Result<ContainerRecord> record_from_json(const Json& record, std::string text) {
  if (!record.is_object()) return invalid(std::string("decision record is a JSON ") + json_type_name(record) + ", expected an object");
  ContainerRecord r;
  r.id = str(record, "id");
  const Json& ctx = sub(record, "context");
  if (r.id.empty()) r.id = str(ctx, "id");
  RG_RETURN_IF_ERROR(check_id(r.id, "decision record field \"id\""));
  std::string where = "decision record of " + r.id;
  RG_RETURN_IF_ERROR(read_decision(sub(record, "decision"), where, r));
  // The context as the runtime wrote it (policy::context_to_json), read by its own reader.
  policy::ContainerContext c = policy::context_from_json(ctx);
  r.image = std::move(c.image);
  r.image_digest = std::move(c.image_digest);
  r.engine = std::move(c.engine);
  r.k8s_namespace = std::move(c.k8s_namespace);
  r.pod = std::move(c.pod_name);
  r.container_name = std::move(c.container_name);
  r.sandbox_id = std::move(c.sandbox_id);
  r.container_type = std::move(c.container_type);
  r.state = r.allowed ? "created" : "denied";
  if (auto t = parse_rfc3339_ns(str(record, "time"))) r.decided_at_ns = *t;
  r.policy_source = str(sub(record, "policy"), "source");
  r.command = str(record, "command");
  r.attestation_verdict = str(sub(record, "attestation"), "verdict");
  // Served to operators (GetContainer, explain): annotation values that may be secrets are
  // redacted; text that is not valid UTF-8 (proto3 strings must be) is serialised again.
  if (auto redacted = redacted_record(record)) {
    r.record_json = text.empty() ? dump_json(*redacted) : dump_json(*redacted, 2) + "\n";
  } else if (text.empty()) {
    r.record_json = dump_json(record);
  } else {
    r.record_json = valid_utf8(text) ? std::move(text) : dump_json(record, 2) + "\n";
  }
  return r;
}

Result<ContainerRecord> record_from_decision_event(const Json& line) {
  // Flat "runguard.<key>" members (docs/agent.md#event-lines); an object "runguard" in older lines.
  auto rg = [&line](const char* key) -> const Json& {
    const Json& flat = sub(line, (std::string("runguard.") + key).c_str());
    return flat.is_null() ? sub(sub(line, "runguard"), key) : flat;
  };
  auto rg_str = [&rg](const char* key) { return rg(key).is_string() ? rg(key).get<std::string>() : std::string(); };
  if (rg_str("kind") != "decision" || rg_str("action") != "denied") return invalid("event line is not a denied decision");
  const Json& container = rg("container");
  const Json& fields = sub(line, "output_fields");
  auto pick = [](std::string a, const std::string& b) { return a.empty() ? b : a; };
  ContainerRecord r;
  r.id = container.is_string() ? container.get<std::string>() : str(container, "id");
  RG_RETURN_IF_ERROR(check_id(r.id, "decision event field \"runguard.container\""));
  RG_RETURN_IF_ERROR(read_decision(rg("decision"), "decision event of " + r.id, r));
  if (r.allowed) return invalid("decision event of " + r.id + ": action \"denied\" but decision.allowed is true");
  r.image = pick(str(container, "image"), str(fields, "container.image"));
  r.image_digest = pick(str(container, "imageDigest"), str(fields, "container.image.digest"));
  r.k8s_namespace = pick(str(container, "namespace"), str(fields, "k8s.ns.name"));
  r.pod = pick(str(container, "pod"), str(fields, "k8s.pod.name"));
  r.container_name = str(container, "name");
  r.state = "denied";
  if (auto t = parse_rfc3339_ns(str(line, "time"))) r.decided_at_ns = *t;
  r.policy_source = rg_str("policy");
  // No decision record was written for a refusal; the event line is what there is.
  r.record_json = dump_json(line);
  return r;
}

Store::Store(size_t max_denied, size_t max_deleted, size_t max_archived_bytes)
    : max_denied_(max_denied), max_deleted_(max_deleted), max_archived_bytes_(max_archived_bytes) {}

void Store::enter_state_locked(Entry& e) {
  e.generation = ++generation_;
  const std::string& s = e.record.state;
  if (s == "denied") {
    ++denied_;
    archived_bytes_ += e.record_json.size();
    denied_order_.emplace_back(e.record.id, e.generation);
  } else if (s == "deleted") {
    ++deleted_;
    archived_bytes_ += e.record_json.size();
    deleted_order_.emplace_back(e.record.id, e.generation);
  } else {
    ++created_;
  }
}

void Store::leave_state_locked(const Entry& e) {
  const std::string& s = e.record.state;
  if (s == "denied" || s == "deleted") {
    (s == "denied" ? denied_ : deleted_)--;
    archived_bytes_ -= std::min(archived_bytes_, e.record_json.size());
  } else {
    --created_;
  }
}

bool Store::current_locked(const std::pair<std::string, uint64_t>& entry, const std::string& state) const {
  auto it = records_.find(entry.first);
  return it != records_.end() && it->second.generation == entry.second && it->second.record.state == state;
}

void Store::drop_stale_locked(Order& order, const std::string& state) {
  while (!order.empty() && !current_locked(order.front(), state)) order.pop_front();
  // Entries in the middle go stale when a record changes state again; drop them before they pile up.
  if (order.size() > 2 * std::max(max_denied_, max_deleted_) + 64) {
    Order live;
    for (auto& e : order) {
      if (current_locked(e, state)) live.push_back(std::move(e));
    }
    order.swap(live);
  }
}

void Store::evict_locked() {
  for (;;) {
    drop_stale_locked(denied_order_, "denied");
    drop_stale_locked(deleted_order_, "deleted");
    bool over_denied = denied_ > max_denied_ && !denied_order_.empty();
    bool over_deleted = deleted_ > max_deleted_ && !deleted_order_.empty();
    bool over_bytes = archived_bytes_ > max_archived_bytes_ && !(denied_order_.empty() && deleted_order_.empty());
    if (!over_denied && !over_deleted && !over_bytes) return;
    Order* from;
    if (over_denied) from = &denied_order_;
    else if (over_deleted) from = &deleted_order_;
    else if (denied_order_.empty()) from = &deleted_order_;
    else if (deleted_order_.empty()) from = &denied_order_;
    else from = denied_order_.front().second < deleted_order_.front().second ? &denied_order_ : &deleted_order_;  // the older
    auto it = records_.find(from->front().first);
    from->pop_front();
    leave_state_locked(it->second);
    records_.erase(it);
  }
}

void Store::put(ContainerRecord r) {
  std::lock_guard<std::mutex> lock(mu_);
  put_locked(std::move(r));
}

void Store::put_locked(ContainerRecord r) {
  int64_t now = unix_now_ns();
  if (r.state_since_ns == 0) r.state_since_ns = now;
  if (r.learned_at_ns == 0) r.learned_at_ns = now;
  auto it = records_.find(r.id);
  if (it != records_.end()) {
    const ContainerRecord& old = it->second.record;
    if (old.decided_at_ns == r.decided_at_ns && (r.decided_at_ns != 0 || it->second.record_json == r.record_json)) {
      // The same decision again (a frame after the disk scan found it, or the reverse).
      r.monitor_events = old.monitor_events;
      r.learned_at_ns = old.learned_at_ns;
      if (r.monitor_pid == 0) {
        r.monitor_pid = old.monitor_pid;
        r.monitored = old.monitored;
      }
      if (old.state == r.state) r.state_since_ns = old.state_since_ns;
    }
    leave_state_locked(it->second);
    records_.erase(it);
  }
  std::string id = r.id;
  Entry& e = records_[id];
  e.record_json = std::move(r.record_json);
  r.record_json.clear();
  e.record = std::move(r);
  enter_state_locked(e);
  evict_locked();
}

bool Store::put_if_absent(ContainerRecord r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (records_.count(r.id) != 0) return false;
  put_locked(std::move(r));
  return true;
}

bool Store::erase_if(const std::string& id, const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second.record.state != state) return false;
  leave_state_locked(it->second);
  records_.erase(it);
  return true;
}

bool Store::mark_deleted(const std::string& id, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second.record.state != "created") return false;
  leave_state_locked(it->second);
  it->second.record.state = "deleted";
  it->second.record.state_since_ns = now_ns;
  it->second.record.monitored = false;
  enter_state_locked(it->second);
  evict_locked();
  return true;
}

bool Store::set_monitor(const std::string& id, int pid, bool monitored) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return false;
  it->second.record.monitor_pid = pid;
  it->second.record.monitored = monitored;
  return true;
}

bool Store::count_monitor_event(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return false;
  ++it->second.record.monitor_events;
  return true;
}

std::optional<ContainerRecord> Store::get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  ContainerRecord r = it->second.record;
  r.record_json = it->second.record_json;
  return r;
}

std::vector<ContainerRecord> Store::list(bool include_deleted, const std::string& ns) const {
  std::vector<ContainerRecord> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : records_) {
      if (!include_deleted && e.record.state == "deleted") continue;
      if (!ns.empty() && e.record.k8s_namespace != ns) continue;
      out.push_back(e.record);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    return a.decided_at_ns != b.decided_at_ns ? a.decided_at_ns < b.decided_at_ns : a.id < b.id;
  });
  return out;
}

std::vector<Store::Live> Store::live() const {
  std::vector<Live> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : records_) {
    if (e.record.state == "created") out.push_back(Live{id, e.record.monitor_pid, e.record.learned_at_ns});
  }
  return out;
}

Store::Counts Store::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counts c;
  c.created = created_;
  c.denied = denied_;
  c.deleted = deleted_;
  for (const auto& [id, e] : records_) c.monitored += e.record.state == "created" && e.record.monitored;
  return c;
}

}  // namespace runguard::agent
