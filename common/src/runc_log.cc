#include "runguard/common/runc_log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "runguard/common/json.h"

namespace runguard {

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

void RuncLog::write(const std::string& level, const std::string& msg) const {
  if (path_.empty()) return;
  std::string line;
  if (format_ == LogFormat::kJson) {
    Json j;
    j["level"] = level;
    j["msg"] = msg;
    j["time"] = now_rfc3339();
    line = dump_json(j) + "\n";
  } else {
    line = "time=\"" + now_rfc3339() + "\" level=" + level + " msg=" + dump_json(Json(msg)) + "\n";
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
  ::close(fd);
}

}  // namespace runguard
