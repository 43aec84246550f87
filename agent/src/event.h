// The agent's event model: what one line of the events file (docs/agent.md#event-lines) means to
// WatchEvents, plus the few lines the agent makes itself (lifecycle, dropped).
//
// Three producers write event lines: the runtime (decisions, nested `"runguard": {"kind":
// "decision", "container", "action", ...}`), the monitors (Falco-shaped lines with the flat keys
// `"runguard.action"` and `"runguard.container": {"id", ...}`, docs/monitor.md) and the agent
// (lifecycle). event_from_line() reads both shapes; a missing kind is "monitor" (older lines).
//
// Falco priorities, most severe first: Emergency, Alert, Critical, Error, Warning, Notice,
// Informational (also spelled "Info"), Debug. Matching is case-insensitive.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::agent {

enum class EventKind { kMonitor, kDecision, kLifecycle, kDropped };
const char* event_kind_name(EventKind kind);
// "monitor" | "decision" | "lifecycle" | "dropped".
std::optional<EventKind> parse_event_kind(std::string_view text);

// 0 (Emergency) .. 7 (Debug); nullopt for anything that is not a Falco priority.
std::optional<int> priority_rank(std::string_view priority);

// RFC 3339 ("2026-11-29T08:00:00.123456789Z", "...+02:00") to Unix nanoseconds; nullopt if
// malformed or outside what int64 nanoseconds hold (before 1970, after 2262-04-11T23:47:16.854775807Z).
std::optional<int64_t> parse_rfc3339_ns(std::string_view text);
// Unix nanoseconds to "2026-11-29T08:00:00.123456789Z".
std::string format_rfc3339_ns(int64_t unix_ns);
int64_t unix_now_ns();

struct Event {
  uint64_t seq = 0;      // assigned by the ring
  int64_t time_ns = 0;   // the line's "time" (Unix ns); the arrival time when it has none
  EventKind kind = EventKind::kMonitor;
  std::string container;
  std::string rule;
  std::string priority;
  std::string action;
  std::string output;
  std::string json;      // the line as written to the events file, without the newline

  // What the event costs the ring, roughly: the strings' capacities (what the heap holds, not
  // their lengths) plus a fixed overhead. Stable once the event is published (it is const then).
  size_t bytes() const;
};

// Reads one event line object. `text` is the line exactly as written (kept verbatim in
// Event::json); empty: the compact dump of `line`. `now_ns` stands in for a missing or
// malformed "time". kInvalidArgument when `line` is not an object or names an unknown kind.
Result<Event> event_from_line(const Json& line, std::string text, int64_t now_ns);

// A lifecycle line the agent makes when it notices a container's state directory is gone
// (action "deleted"). Never written to the events file (only the runtime and monitors write it).
Event lifecycle_event(const std::string& container, const std::string& action, int64_t now_ns, const std::string& hostname);

// What a watcher that fell behind is told: `count` events were dropped, the last of them `seq`.
Event dropped_event(uint64_t count, uint64_t seq, int64_t now_ns);

// WatchEvents' filter. Dropped events always pass: a watcher must learn what it missed.
struct EventFilter {
  std::string container;              // "" = every container
  std::string rule;                   // exact; "" = every rule
  std::optional<int> min_priority;    // rank: events at this rank or more severe
  std::set<EventKind> kinds;          // empty = every kind

  bool matches(const Event& e) const;
};

}  // namespace runguard::agent
