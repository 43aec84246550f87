// Writes diagnostics the way runc does, so engines show them to users.
//
// runc's `--log FILE --log-format json` produces one logrus JSON object per line:
// {"level":"error","msg":"...","time":"2024-05-01T10:00:00Z"}. containerd reads the file and
// shows the *last* error line ("OCI runtime create failed: <msg>"), so every line we append
// must be well-formed. With `--log-format text` lines are logrus text: time="..." level=error msg="...".
// The file is opened O_APPEND per write (several processes append to it). A missing --log path
// means nothing is written. Never writes to stdout: during create/exec fds 0-2 belong to the container.
//
// Thread-safety: each write is one write(2) of one line; safe from several processes.
#pragma once

#include <string>

namespace runguard {

enum class LogFormat { kJson, kText };

class RuncLog {
 public:
  RuncLog() = default;
  RuncLog(std::string path, LogFormat format) : path_(std::move(path)), format_(format) {}

  // Appends one line at `level` ("error", "warning", "info", "debug"). Failures are ignored:
  // logging must never turn a working create into a failing one.
  void write(const std::string& level, const std::string& msg) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  LogFormat format_ = LogFormat::kJson;
};

// Current time as RFC 3339 in UTC with nanoseconds, as logrus writes it.
std::string now_rfc3339();

}  // namespace runguard
