// Store: what the agent knows about each container on the node, keyed by container id.
//
// Records come from the runtime's `decision` frames and from the decision records it leaves in
// `<stateDir>/<id>/decision.json` (read at start and by every reconcile), shaped by
// record_from_json(). A record's state is "created" (allowed; its state directory exists),
// "denied" (refused; runguard created nothing) or "deleted" (its state directory is gone).
//
// Bounds: live ("created") records are not capped (a node runs a few hundred containers, and
// each has a state directory); at most `max_denied` denied and `max_deleted` deleted records are
// kept, and their decision records (record_json) take at most `max_archived_bytes` together. The
// oldest (by when they entered that state) are dropped first, so a crash-looping pod or a
// hostile flood of refusals cannot grow the agent without bound.
//
// Secrets: decision records carry every OCI annotation's value (policy::context_to_json), and
// the agent serves record_json to operators. Only the values of keys the engines set themselves
// (annotation_value_kept) are kept; every other value is replaced by kRedacted, in records from
// frames and from disk alike.
//
// Thread-safety: every method may be called from any thread; records are returned by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::agent {

struct FindingInfo {
  std::string id, control, severity, action, message, pointer;
  std::vector<std::string> benchmarks;
};

struct MutationInfo {
  std::string id, control, op, pointer;
  std::string value_json;  // the new value as compact JSON; "" for "remove"
  bool applied = false;
};

struct ContainerRecord {
  std::string id;
  std::string image, image_digest, engine;
  // Kubernetes identity (decision record's context)
  std::string k8s_namespace, pod, container_name, sandbox_id, container_type;
  std::string state;  // "created" | "denied" | "deleted"
  bool allowed = false;
  std::string mode;            // "enforce" | "audit"
  std::string override_name;   // the override that matched, or ""
  std::vector<FindingInfo> findings;
  std::vector<MutationInfo> mutations;
  int64_t decided_at_ns = 0;   // the record's "time" (Unix ns), 0 when unknown
  std::string policy_source;
  std::string command;         // "create" | "run" | "restore"
  std::string attestation_verdict;  // record.attestation.verdict, "" when absent
  bool monitored = false;
  int monitor_pid = 0;         // from resources.json, 0 when none is known
  uint64_t monitor_events = 0;
  std::string record_json;     // the decision record as the runtime wrote it
  int64_t state_since_ns = 0;  // when the agent saw it enter `state` (Unix ns)
  int64_t learned_at_ns = 0;   // when the agent first learned of this record (Unix ns)

  // The ids of the findings that refused the container (action "deny") when it was denied.
  std::vector<std::string> denying_controls() const;
};

inline constexpr const char* kRedacted = "<redacted>";

// Whether an annotation's value stays in a served decision record: keys starting with
// io.kubernetes.cri., io.kubernetes.cri-o., io.containerd., org.opencontainers.image. or
// io.podman.annotations., except the pod-annotation copies io.kubernetes.cri.pod-annotations and
// io.kubernetes.cri-o.Annotations.
bool annotation_value_kept(const std::string& key);

// The CIS / PSS items of a finding ("CIS 5.5", "PSS baseline: Privileged Containers") from the
// policy catalog, by finding id (or its id family, or its control name); empty when unknown.
std::vector<std::string> finding_benchmarks(const std::string& id, const std::string& control);

// A record from a decision record object (decision.json, or a `decision` frame's "record").
// `text` is kept as record_json (empty: the compact dump of `record`) unless annotation values
// were redacted or it is not valid UTF-8 (then `record` is serialised again, indented like the
// runtime writes decision.json when `text` was given). Findings without benchmarks get the
// catalog's (finding_benchmarks). The id must satisfy
// runc's id rule (it names a directory under stateDir). kInvalidArgument naming the field.
Result<ContainerRecord> record_from_json(const Json& record, std::string text);

// A denied container's record rebuilt from its decision event line (events file replay after a
// restart: refusals leave no state directory); record_json is the line. kInvalidArgument when
// the line is not a denied decision with a valid container id.
Result<ContainerRecord> record_from_decision_event(const Json& line);

class Store {
 public:
  explicit Store(size_t max_denied = 1000, size_t max_deleted = 1000, size_t max_archived_bytes = 64u << 20);

  // Adds or replaces the record for r.id; monitor_events carries over when the container is the
  // same one (same decided_at). Stamps state_since/learned_at when they are 0.
  void put(ContainerRecord r);
  // put() only when the id is unknown. True when added.
  bool put_if_absent(ContainerRecord r);
  // Removes the record for `id` if it is in `state`. True when removed.
  bool erase_if(const std::string& id, const std::string& state);
  // "created" -> "deleted". False when unknown or not "created".
  bool mark_deleted(const std::string& id, int64_t now_ns);
  // Sets the monitor pid and whether it is alive. False when unknown.
  bool set_monitor(const std::string& id, int pid, bool monitored);
  // One more event from this container's monitor. False when unknown.
  bool count_monitor_event(const std::string& id);

  // The record, record_json included.
  std::optional<ContainerRecord> get(const std::string& id) const;
  // Records not deleted (or all with include_deleted), in a Kubernetes namespace when `ns` is
  // not empty; ordered by decided_at, then id. Without record_json (ListContainers leaves it
  // out; GetContainer has it), so a listing copies each record once and no decision record.
  std::vector<ContainerRecord> list(bool include_deleted, const std::string& ns) const;
  // The records in state "created": what reconcile checks.
  struct Live {
    std::string id;
    int monitor_pid = 0;
    int64_t learned_at_ns = 0;
  };
  std::vector<Live> live() const;

  struct Counts {
    size_t created = 0, denied = 0, deleted = 0, monitored = 0;
    size_t known() const { return created + denied; }
  };
  Counts counts() const;

 private:
  struct Entry {
    ContainerRecord record;   // record.record_json is empty: it lives beside it
    std::string record_json;
    uint64_t generation = 0;  // which put() made it; tells stale eviction entries apart
  };
  void put_locked(ContainerRecord r);
  void enter_state_locked(Entry& e);
  void leave_state_locked(const Entry& e);
  using Order = std::deque<std::pair<std::string, uint64_t>>;
  bool current_locked(const std::pair<std::string, uint64_t>& entry, const std::string& state) const;
  void drop_stale_locked(Order& order, const std::string& state);
  void evict_locked();

  size_t max_denied_, max_deleted_, max_archived_bytes_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> records_;
  uint64_t generation_ = 0;
  // (id, generation) in the order records entered the state; entries may be stale.
  Order denied_order_, deleted_order_;
  size_t denied_ = 0, deleted_ = 0, created_ = 0;
  size_t archived_bytes_ = 0;  // record_json of denied and deleted records
};

}  // namespace runguard::agent
