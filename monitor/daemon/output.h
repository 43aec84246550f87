// Event output: one Falco-compatible JSON object per line, and the appender that writes it.
//
// A line carries Falco's json_output fields (time RFC3339 with nanoseconds UTC, rule, priority,
// source "syscall", hostname, output, output_fields, tags) plus runguard.action ("alert",
// "block", or "would-block" when a block rule matched but blocking is off), runguard.container and
// runguard.kind ("monitor"; the runtime's decision events say "decision", docs/agent.md "Event
// lines"). The runguard.* keys are flat, like Falco's output_fields.
// `output` is prefixed like Falco's: "<HH:MM:SS.nnnnnnnnn>: <Priority> <rendered output>".
//
// The appender is nsutil::EventsFile (shared with the runtime's decision events): ONE write(2)
// per line on an O_APPEND fd, so several monitors appending to the same file never interleave
// partial lines.
//
// Thread-safety: event_line_json / format_event_line are pure; an EventsFile is owned by one thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "runguard/common/event_time.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/monitor/eval.h"
#include "runguard/nsutil/events_file.h"
#include "config.h"

namespace runguard::monitord {

using nsutil::EventsFile;

struct OutputContext {
  std::string hostname;
  struct timespec time = {};  // CLOCK_REALTIME of the notification
  ContainerIdentity container;
};

// "alert" | "block" | "would-block" for a match under this configuration.
const char* decision_name(monitor::RuleAction action, bool enforce_blocks);

// The event line object (what the agent receives in an "event" frame).
Json event_line_json(const monitor::Match& match, const OutputContext& ctx, const char* decision);

// The same as one JSON line, '\n'-terminated.
std::string format_event_line(const monitor::Match& match, const OutputContext& ctx, const char* decision);

}  // namespace runguard::monitord
