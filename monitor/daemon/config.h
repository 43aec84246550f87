// MonitorConfig: the per-container configuration runguard create writes for runguard-monitor
// (<stateDir>/<id>/monitor.json), and its validating parser.
//
// Format (version 1; unknown keys are errors so a typo cannot silently change behaviour):
//   { "version": 1,
//     "socket": abs path,            the listener socket to create (runc's listenerPath)
//     "events": abs path,            JSONL events file, appended
//     "log": abs path,               the daemon's own log (stdout/stderr go there)
//     "rules": [abs path, ...],      rule files in order; empty = the embedded defaults
//     "block": bool,                 true: runguard.action: block rules answer EPERM
//     "action": "enforce"|"audit",   audit forces block=false semantics ("would-block")
//     "container": {"id","name","image","namespace","pod","bundle"} (strings; id required),
//     "connectTimeoutSeconds": int   1..3600, default 30,
//     "agentSocket": abs path        optional: runguardd's internal socket (docs/agent.md); events
//                                    and notify round-trip stats are offered to it, never waited on }
// Limits: the file is at most kMaxConfigBytes.
//
// Thread-safety: pure functions over plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::monitord {

inline constexpr size_t kMaxConfigBytes = 1 << 20;

struct ContainerIdentity {
  std::string id, name, image, k8s_namespace, pod, bundle;
  // The host path of the rootfs overlay's upper (writable) layer, "" when the rootfs is not an
  // overlay: an executed file present there was written (or modified) by the container.
  std::string upper_dir;
};

struct MonitorConfig {
  std::string socket_path;
  std::string events_path;
  std::string log_path;
  std::vector<std::string> rule_files;
  bool block = false;
  bool audit = false;  // action "audit": block rules are reported as "would-block" and never enforced
  ContainerIdentity container;
  int connect_timeout_seconds = 30;
  std::string agent_socket;  // "" = do not talk to the agent

  // True when a matching block rule must be answered with EPERM.
  bool enforces_blocks() const { return block && !audit; }
};

// Parses and validates monitor.json text; `source` names it in messages ("monitor.json: field
// \"socket\": must be an absolute path").
Result<MonitorConfig> parse_monitor_config(std::string_view text, const std::string& source);

// Reads (bounded) and parses the file at `path`.
Result<MonitorConfig> load_monitor_config(const std::string& path);

}  // namespace runguard::monitord
