#include "log.h"

#include <unistd.h>

#include <cerrno>

#include "runguard/common/runc_log.h"

namespace runguard::agent {

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug") out = LogLevel::kDebug;
  else if (text == "info") out = LogLevel::kInfo;
  else if (text == "warning" || text == "warn") out = LogLevel::kWarning;
  else if (text == "error") out = LogLevel::kError;
  else return false;
  return true;
}

namespace {

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void Logger::log(LogLevel level, std::string_view message) const {
  if (fd_ < 0 || !enabled(level)) return;
  std::string line = now_rfc3339() + " " + level_name(level) + " runguardd: ";
  // One message, one line: embedded newlines (from a peer's text) would forge log lines.
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a log that cannot be written must not stop the agent
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace runguard::agent
