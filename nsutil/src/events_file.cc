#include "runguard/nsutil/events_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace runguard::nsutil {

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
  return EventsFile(UniqueFd(fd), path);
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

}  // namespace runguard::nsutil
