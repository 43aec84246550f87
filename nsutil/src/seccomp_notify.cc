#include "runguard/nsutil/seccomp_notify.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace runguard::nsutil {
namespace {

// Older uapi headers lack these (kernel 6.6, commit 48a1084a8b74); the values are ABI.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

// Kernel structs beyond this size are refused at adopt() rather than overflowing a stack buffer.
// (Today: seccomp_notif 80, seccomp_notif_resp 24.)
constexpr size_t kMaxStructBytes = 512;

using Buffer = std::array<unsigned char, kMaxStructBytes>;

}  // namespace

Result<NotifSizes> query_notif_sizes() {
  struct seccomp_notif_sizes s = {};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) != 0) {
    return io_error("seccomp(SECCOMP_GET_NOTIF_SIZES) (seccomp user notification needs Linux >= 5.0)", errno);
  }
  return NotifSizes{s.seccomp_notif, s.seccomp_notif_resp, s.seccomp_data};
}

Result<NotifyFd> NotifyFd::adopt(UniqueFd fd) {
  if (!fd.valid() || ::fcntl(fd.get(), F_GETFD) < 0) return invalid("seccomp notify: not an open fd");
  RG_ASSIGN_OR_RETURN(NotifSizes sizes, query_notif_sizes());
  if (sizes.notif > kMaxStructBytes || sizes.notif_resp > kMaxStructBytes) {
    return Status(Code::kInternal, "seccomp notify: kernel struct sizes (" + std::to_string(sizes.notif) + ", " +
                                       std::to_string(sizes.notif_resp) + ") exceed the supported " +
                                       std::to_string(kMaxStructBytes) + " bytes");
  }
  if (sizes.notif < sizeof(struct seccomp_notif) || sizes.notif_resp < sizeof(struct seccomp_notif_resp)) {
    return Status(Code::kInternal, "seccomp notify: kernel structs smaller than the uapi header's");
  }
  return NotifyFd(std::move(fd), sizes);
}

Result<std::optional<Notification>> NotifyFd::recv() const {
  Buffer buf{};  // must be zeroed: the kernel returns EINVAL otherwise (since 5.5)
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, buf.data()) != 0) {
    if (errno == EINTR || errno == ENOENT) return std::optional<Notification>();
    return io_error("seccomp notify: SECCOMP_IOCTL_NOTIF_RECV", errno);
  }
  struct seccomp_notif raw;
  std::memcpy(&raw, buf.data(), sizeof raw);
  Notification n;
  n.id = raw.id;
  n.pid = raw.pid;
  n.flags = raw.flags;
  n.nr = raw.data.nr;
  n.arch = raw.data.arch;
  n.instruction_pointer = raw.data.instruction_pointer;
  std::copy(std::begin(raw.data.args), std::end(raw.data.args), n.args.begin());
  return std::optional<Notification>(n);
}

Result<NotifyFd::Answer> NotifyFd::send(uint64_t id, int64_t val, int32_t error, uint32_t flags) const {
  Buffer buf{};
  struct seccomp_notif_resp resp = {};
  resp.id = id;
  resp.val = val;
  resp.error = error;
  resp.flags = flags;
  std::memcpy(buf.data(), &resp, sizeof resp);
  while (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, buf.data()) != 0) {
    if (errno == EINTR) continue;
    if (errno == ENOENT) return Answer::kGone;
    return io_error("seccomp notify: SECCOMP_IOCTL_NOTIF_SEND for id " + std::to_string(id), errno);
  }
  return Answer::kAnswered;
}

Result<NotifyFd::Answer> NotifyFd::respond_continue(uint64_t id) const {
  return send(id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

Result<NotifyFd::Answer> NotifyFd::respond_errno(uint64_t id, int err) const {
  if (err <= 0 || err > 4095) return invalid("seccomp notify: errno answer must be in 1..4095, got " + std::to_string(err));
  return send(id, 0, -err, 0);
}

Result<NotifyFd::Answer> NotifyFd::respond_value(uint64_t id, int64_t value) const {
  return send(id, value, 0, 0);
}

Result<bool> NotifyFd::id_valid(uint64_t id) const {
  uint64_t cookie = id;
  while (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &cookie) != 0) {
    if (errno == EINTR) continue;
    if (errno == ENOENT) return false;
    return io_error("seccomp notify: SECCOMP_IOCTL_NOTIF_ID_VALID", errno);
  }
  return true;
}

Result<bool> NotifyFd::set_sync_wakeup() const {
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, static_cast<unsigned long>(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)) == 0) {
    return true;
  }
  if (errno == EINVAL || errno == ENOTTY) return false;  // a kernel before 6.6 rejects the ioctl
  return io_error("seccomp notify: SECCOMP_IOCTL_NOTIF_SET_FLAGS(SYNC_WAKE_UP)", errno);
}

bool is_gone(const Status& status) {
  return status.code() == Code::kNotFound && (status.error_number() == ENOENT || status.error_number() == ESRCH);
}

}  // namespace runguard::nsutil
