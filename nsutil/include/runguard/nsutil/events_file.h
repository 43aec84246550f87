// EventsFile: the appender of the events file (events.path), shared by the runtime (decision
// events) and the monitors (rule matches). Part of nsutil.
//
// Each line is appended with ONE write(2) on an O_APPEND descriptor, so any number of processes
// appending to the same file never interleave partial lines. It never blocks on anything but the
// local file system. The parent directory is created 0750 when missing, the file 0640.
//
// Thread-safety: an EventsFile is owned by one thread; appends from several processes are safe.
#pragma once

#include <string>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

class EventsFile {
 public:
  // Opens (creating 0640, and the parent directory 0750 if missing) for appending.
  static Result<EventsFile> open(const std::string& path);
  // Appends `line` (which ends in '\n') with a single write(). A short write is reported (the
  // line may be cut).
  Status append(const std::string& line) const;
  const std::string& path() const { return path_; }

 private:
  explicit EventsFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

}  // namespace runguard::nsutil
