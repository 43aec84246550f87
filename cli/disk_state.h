// What runguardctl can learn from the node's files when runguardd is not running: the decision
// records under stateDir (<stateDir>/<id>/decision.json, written by `runguard create`), the
// monitor pid in resources.json, and the decision events in the events file.
//
// Every file is read bounded (kMaxRecordBytes); a record that does not parse is reported as a
// warning and skipped, never fatal for the others.
//
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "records.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::cli {

inline constexpr size_t kMaxRecordBytes = 16u << 20;

struct DiskRecord {
  std::string id;
  std::string dir;        // <stateDir>/<id>
  Json record;            // decision.json
  int monitor_pid = 0;    // resources.json monitorPid, 0 when none
};

struct StateScan {
  std::vector<DiskRecord> records;    // sorted by decision time, then id
  std::vector<std::string> warnings;  // records that could not be read, one line each
};

// Every <stateDir>/<id>/decision.json. A missing stateDir is an empty scan (nothing created yet).
Result<StateScan> scan_state_dir(const std::string& state_dir);

// <stateDir>/<id>/decision.json of one container; kNotFound when there is none. `id` must be a
// plain name (no '/', not "." or "..").
Result<DiskRecord> read_disk_record(const std::string& state_dir, const std::string& id);

// "yes" (pid is a live runguard-monitor), "dead" (gone, or another program now), "no" (pid 0).
std::string monitor_liveness(int pid, const std::string& proc_root = "/proc");

// A ps row from a record on disk: state "created", monitor from its pid.
ContainerRow row_from_disk(const DiskRecord& r, const std::string& proc_root = "/proc");

// The newest decision event for container `id` in the events file, read backwards from its end
// (at most `max_scan_bytes`). nullopt when there is none in that range; kNotFound when the file
// does not exist.
Result<std::optional<Json>> last_decision_event(const std::string& events_path, const std::string& id,
                                                size_t max_scan_bytes);

// How much of the events file's end `ps --all` searches for refusals without the agent: as much
// as runguardd replays at start (docs/agent.md "Start"), so both answers see the same lines.
inline constexpr size_t kDeniedScanBytes = 16u << 20;
// At most this many refusals are listed, the newest; runguardd keeps as many denied records.
inline constexpr size_t kMaxDeniedRows = 1000;

struct DeniedScan {
  std::vector<ContainerRow> rows;  // state "denied", oldest decision first
  bool scan_limit_reached = false; // older lines were not searched
};

// The containers refused according to the decision events in the last `max_scan_bytes` of the
// events file: for each container id its newest decision event, when that one is a refusal and
// the id has no state directory under `state_dir` (a later create made it live). A missing file
// is an empty answer. Lines that do not parse, or are not decision events, are skipped.
Result<DeniedScan> denied_from_events(const std::string& events_path, const std::string& state_dir,
                                      size_t max_scan_bytes = kDeniedScanBytes, size_t max_rows = kMaxDeniedRows);

// "sha256:<hex>" of `bytes`.
std::string sha256_digest(const std::string& bytes);

// 1536 -> "1.5 KiB", 0 -> "0 B".
std::string human_size(uint64_t bytes);

}  // namespace runguard::cli
