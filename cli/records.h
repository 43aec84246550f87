// What runguardctl's ps, explain and events show, computed from data: decision records
// (<stateDir>/<id>/decision.json, or the agent's copy), decision events and monitor event lines
// (docs/agent.md "Event lines", monitor/daemon/output.h). Pure functions over JSON values and
// strings: no files, no clock, no agent; the commands (agent_cmds.cc) fetch, these render.
//
// Input is never trusted to be well formed: a record or line of the wrong shape yields empty
// fields or nullopt, never an exception or a crash.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/json.h"

namespace runguard::cli {

// ---- text output ----

// `text` made safe to print on a terminal, for the text renderers below: container ids, images,
// pod names, process names, paths and argv in events and records are the container's (or its
// author's) to choose, and raw control characters would let them move the cursor, rewrite the
// screen or forge output lines. C0 controls (tab and newline included) and DEL become \xNN, as do
// bytes that are not UTF-8; C1 controls (U+0080..U+009F) and the bidirectional overrides and
// isolates (U+202A..U+202E, U+2066..U+2069) and line/paragraph separators (U+2028, U+2029)
// become \uNNNN. Everything else, including other UTF-8 text, is kept. JSON output needs none of
// this: the serialiser escapes control characters in strings.
std::string printable(std::string_view text);

// ---- ps ----

// One container as `runguardctl ps` lists it.
struct ContainerRow {
  std::string id;
  std::string image;
  std::string digest;          // "sha256:<hex>" or ""
  std::string k8s_namespace;
  std::string pod;
  std::string engine;
  std::string state;           // "created" | "denied" | "deleted"
  std::string mode;            // "enforce" | "audit"
  std::string time;            // when the decision was made (RFC 3339), "" when unknown
  bool allowed = true;
  size_t changes = 0;          // applied mutations
  size_t findings = 0;
  std::string monitor;         // "yes" | "no" | "dead" (its pid is gone) | "" (unknown)
  int monitor_pid = 0;         // from resources.json, on-disk rows only
};

// A row from a decision record (the decision.json layout: id, time, command, policy, context,
// decision). `state` is what the caller knows (a record on disk is "created"). nullopt when the
// value is not an object with an "id" string.
std::optional<ContainerRow> row_from_record(const Json& record, const std::string& state);

// "sha256:0123456789abcdef..." -> "0123456789ab"; other strings are cut to 12 characters.
std::string short_digest(const std::string& digest);

// The ps table: ID, IMAGE, DIGEST, NAMESPACE/POD, STATE, CHANGES, FINDINGS, MONITORED, columns
// padded to their widest cell, one header line. Empty cells print "-"; cells are printable().
std::string render_ps_table(const std::vector<ContainerRow>& rows);

Json row_to_json(const ContainerRow& row);

// ---- explain ----

// What is known about a container besides its decision record.
struct ExplainExtras {
  std::string state;                     // "created" | "denied" | "deleted" | ""
  std::optional<bool> monitored;         // nullopt: unknown
  std::optional<uint64_t> monitor_events;
  std::string origin;                    // "agent" | "disk" | "events": where the record came from
  std::string note;                      // said after the state ("its monitor (pid 42) is gone")
};

// The decision record for a humans: identity (image, digest, Kubernetes, engine), the policy and
// override, the verdict, what was denied and why, what was changed (each change with its control
// id and the CIS Docker Benchmark / Pod Security Standards items the control implements), and
// the audit-only findings. Every value from the record is printable().
std::string explain_text(const Json& record, const ExplainExtras& extras);

// The CIS / PSS items of a control, by control name ("capabilities" -> {"CIS 5.4", "CIS 5.23",
// "PSS baseline: Capabilities", ...}); empty for an unknown control.
std::vector<std::string> benchmark_refs(const std::string& control);

// A decision record rebuilt from a decision event line (runguard.kind "decision"): what the
// events file keeps of a container that was refused (it has no state directory). Reads the flat
// "runguard.<key>" members the runtime writes (docs/agent.md "Event lines"), else a nested
// "runguard" object (older lines); uses its record when the line carries one, else its decision
// with runguard.container and output_fields. nullopt when the line is not a decision event.
std::optional<Json> record_from_decision_event(const Json& event);

// ---- events ----

// Falco priorities, most severe first: Emergency=0 ... Debug=7. Case-insensitive; "Info" is
// accepted for Informational. nullopt for anything else.
std::optional<int> priority_rank(std::string_view name);
const std::vector<std::string>& priority_names();

// The fields of an event line runguardctl filters and prints.
struct EventLine {
  std::string kind;          // "monitor" (also when absent, as in older lines) | "decision" | ...
  std::string container_id;
  std::string rule;
  std::string priority;
  std::string output;
  std::string action;        // monitor: "alert"|"block"|"would-block"; decision: "allowed"|"denied"
};

// Parses one line of the events file; nullopt when it is not a JSON object with a rule or an
// output (something else written into the file).
std::optional<EventLine> parse_event_line(std::string_view line);

struct EventFilter {
  std::string container_id;           // "" = any
  std::string rule;                   // exact rule name; "" = any
  std::optional<int> max_rank;        // priority_rank() <= this (at least as severe); nullopt = any
  std::string kind;                   // "" = any
};

bool event_matches(const EventLine& e, const EventFilter& f);

// "<container id> <output>" (the id "-" when the line names none), both printable(): one line.
std::string format_event_text(const std::string& container_id, const std::string& output);

}  // namespace runguard::cli
