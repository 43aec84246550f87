// Event output: one Falco-compatible JSON object per line, and the appender that writes it.
//
// A line carries Falco's json_output fields (time RFC3339 with nanoseconds UTC, rule, priority,
// source "syscall", hostname, output, output_fields, tags) plus runguard.action ("alert",
// "block", or "would-block" when a block rule matched but blocking is off) and runguard.container.
// `output` is prefixed like Falco's: "<HH:MM:SS.nnnnnnnnn>: <Priority> <rendered output>".
//
// EventsFile appends each line with ONE write(2) on an O_APPEND fd, so several monitors appending
// to the same file never interleave partial lines. It never blocks on anything but the local
// file system.
//
// Thread-safety: format_event_line is pure; an EventsFile is owned by one thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "runguard/common/status.h"
#include "runguard/monitor/eval.h"
#include "runguard/nsutil/fd.h"
#include "config.h"

namespace runguard::monitord {

struct OutputContext {
  std::string hostname;
  struct timespec time = {};  // CLOCK_REALTIME of the notification
  ContainerIdentity container;
};

// "2026-11-29T06:21:58.123456789Z"
std::string rfc3339_nanos(const struct timespec& ts);

// "alert" | "block" | "would-block" for a match under this configuration.
const char* decision_name(monitor::RuleAction action, bool enforce_blocks);

// One JSON line, '\n'-terminated.
std::string format_event_line(const monitor::Match& match, const OutputContext& ctx, const char* decision);

class EventsFile {
 public:
  // Opens (creating 0640, and the parent directory 0750 if missing) for appending.
  static Result<EventsFile> open(const std::string& path);
  // Appends `line` with a single write(). A short write is reported (the line may be cut).
  Status append(const std::string& line) const;

 private:
  explicit EventsFile(nsutil::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  nsutil::UniqueFd fd_;
  std::string path_;
};

}  // namespace runguard::monitord
