#include "runguard/common/status.h"

#include <cerrno>
#include <cstring>

namespace runguard {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kDenied: return "denied";
    case Code::kIo: return "i/o error";
    case Code::kUnavailable: return "unavailable";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  if (errno_ == 0) return message_;
  return message_ + ": " + std::strerror(errno_);
}

Status io_error(const std::string& what, int err) {
  return Status(err == ENOENT ? Code::kNotFound : Code::kIo, what, err);
}

Status invalid(const std::string& message) { return Status(Code::kInvalidArgument, message); }

}  // namespace runguard
