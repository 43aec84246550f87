// Reading the events file (events.path, one JSON object per line) without the agent: the last
// matching lines, found by reading backwards from the end, and following lines as they are
// appended, across truncation and rotation.
//
// Limits: a tail scans at most `max_scan_bytes` from the end (the file can be gigabytes); a line
// longer than kMaxEventLineBytes is skipped (no event is that large; a file that is not an
// events file does not exhaust memory). Only complete lines count: a last line without its
// '\n' is still being written and is left for the follower.
//
// Thread-safety: tail_lines is a free function; an EventsFollower is owned by one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::cli {

inline constexpr size_t kMaxEventLineBytes = 1u << 20;
inline constexpr size_t kDefaultTailScanBytes = 64u << 20;

struct Tail {
  std::vector<std::string> lines;  // oldest first, without '\n'
  uint64_t end_offset = 0;         // just past the last complete line: where following starts
  dev_t dev = 0;                   // the file that was read (to notice a rotation later)
  ino_t ino = 0;
  bool scan_limit_reached = false; // stopped at max_scan_bytes before finding `n` lines
};

// The last `n` complete lines of `path` for which `keep` is true (every line when `keep` is
// empty), oldest first. kNotFound when the file does not exist.
Result<Tail> tail_lines(const std::string& path, size_t n, const std::function<bool(std::string_view)>& keep,
                        size_t max_scan_bytes = kDefaultTailScanBytes);

// Hands out the lines appended to `path` after a starting point. Call poll() periodically.
//   - truncated in place (size below what was read): starts again from its beginning
//   - rotated (`path` now names another file): reads what is left of the old file, then the
//     new one from its beginning
//   - missing for a while (rotated, new file not created yet): keeps waiting for it
class EventsFollower {
 public:
  // Starts at `offset` of the file `tail` read (dev/ino), or at the end of the current file
  // when it has been replaced since.
  EventsFollower(std::string path, const Tail& tail);

  // The complete lines appended since the last call (at most `max_bytes` worth per call).
  Result<std::vector<std::string>> poll(size_t max_bytes = 16u << 20);

 private:
  Status reopen(bool from_start);
  Status read_available(std::vector<std::string>& out, size_t max_bytes);

  std::string path_;
  nsutil::UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t offset_ = 0;
  std::string partial_;  // an incomplete last line
  bool skipping_ = false;  // inside an overlong line: drop bytes until its '\n'
};

}  // namespace runguard::cli
