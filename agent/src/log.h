// The agent's own log: one line per message on a file descriptor (stderr for runguardd), each
// line "<RFC 3339 UTC time> <level> runguardd: <message>", written with a single write(2) so
// lines from different threads never interleave.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

namespace runguard::agent {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug" | "info" | "warning" | "error"; nullopt-like false for anything else.
bool parse_log_level(std::string_view text, LogLevel& out);

class Logger {
 public:
  // Messages below `min` are dropped. `fd` is not owned; -1 drops everything.
  explicit Logger(LogLevel min = LogLevel::kInfo, int fd = 2) : min_(static_cast<int>(min)), fd_(fd) {}

  void set_level(LogLevel min) { min_.store(static_cast<int>(min)); }
  bool enabled(LogLevel level) const { return static_cast<int>(level) >= min_.load(); }

  void log(LogLevel level, std::string_view message) const;
  void debug(std::string_view m) const { log(LogLevel::kDebug, m); }
  void info(std::string_view m) const { log(LogLevel::kInfo, m); }
  void warning(std::string_view m) const { log(LogLevel::kWarning, m); }
  void error(std::string_view m) const { log(LogLevel::kError, m); }

 private:
  std::atomic<int> min_;
  int fd_;
};

}  // namespace runguard::agent
