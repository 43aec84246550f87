#include "output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "runguard/common/json.h"

namespace runguard::monitord {

std::string rfc3339_nanos(const struct timespec& ts) {
  struct tm tm = {};
  time_t secs = ts.tv_sec;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(ts.tv_nsec));
  return buf;
}

const char* decision_name(monitor::RuleAction action, bool enforce_blocks) {
  if (action != monitor::RuleAction::kBlock) return "alert";
  return enforce_blocks ? "block" : "would-block";
}

namespace {

// Falco's text prefix: local wall-clock time of day is what Falco prints; we print UTC so the
// line and `time` agree.
std::string output_prefix(const struct timespec& ts, monitor::Priority p) {
  struct tm tm = {};
  time_t secs = ts.tv_sec;
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%09ld: ", tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(ts.tv_nsec));
  return std::string(buf) + monitor::priority_name(p) + " ";
}

}  // namespace

std::string format_event_line(const monitor::Match& match, const OutputContext& ctx, const char* decision) {
  Json fields = Json::object();
  for (const auto& [name, value] : match.output_fields) fields[name] = value;
  Json container = {{"id", ctx.container.id},
                    {"name", ctx.container.name},
                    {"image", ctx.container.image},
                    {"namespace", ctx.container.k8s_namespace},
                    {"pod", ctx.container.pod}};
  Json line = {{"time", rfc3339_nanos(ctx.time)},
               {"rule", match.rule_name},
               {"priority", monitor::priority_name(match.priority)},
               {"source", "syscall"},
               {"hostname", ctx.hostname},
               {"output", output_prefix(ctx.time, match.priority) + match.output},
               {"output_fields", std::move(fields)},
               {"tags", match.tags},
               {"runguard.action", decision},
               {"runguard.container", std::move(container)}};
  return dump_json(line) + "\n";
}

Result<EventsFile> EventsFile::open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return io_error("creating events directory " + parent.string(), ec.value());
    std::filesystem::permissions(parent, std::filesystem::perms(0750), ec);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return io_error("opening events file " + path, errno);
  return EventsFile(nsutil::UniqueFd(fd), path);
}

Status EventsFile::append(const std::string& line) const {
  ssize_t n;
  do {
    n = ::write(fd_.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return io_error("appending to " + path_, errno);
  if (static_cast<size_t>(n) != line.size()) {
    return Status(Code::kIo, "appending to " + path_ + ": short write (" + std::to_string(n) + " of " +
                                 std::to_string(line.size()) + " bytes)");
  }
  return Status::ok();
}

}  // namespace runguard::monitord
