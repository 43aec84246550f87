// Seccomp user notification: the supervisor side of a notify fd. Part of nsutil.
//
// Kernel API (seccomp_unotify(2), seccomp(2), include/uapi/linux/seccomp.h; summary with sources
// in ../shared/reference/runtime-monitoring.md section 2.1). Raw ioctls, no libseccomp: it adds
// nothing here, and the struct sizes come from seccomp(SECCOMP_GET_NOTIF_SIZES) so a kernel
// with larger structs than our headers never writes past our buffers.
//
// Outcomes a supervisor must treat as normal, not as failures:
//   - ENOENT from SEND/ID_VALID: the target was killed, or a signal interrupted the syscall (with
//     SA_RESTART the kernel restarts it and a NEW notification arrives for the same call). Reported
//     as Answer::kGone / false.
//   - ENOENT from RECV (crun#526) and EINTR: nothing to handle now; reported as nullopt.
// Fail-closed property (asserted in tests/nsutil/seccomp_notify_test.cc): when the last copy of
// the notify fd is closed (the monitor died), every pending and every later notified syscall of
// the target fails with ENOSYS; it is never run unsupervised. The fd cannot be re-obtained from
// runc, so whoever holds it must hold it robustly.
// TOCTOU: a CONTINUE decided from pointer arguments (paths, argv) can be raced by another thread
// of the target rewriting its memory after we read it; a block (errno answer) cannot, because the
// syscall never runs. Treat allow decisions on pointer arguments as advisory.
//
// RECV blocks even after the target died (seccomp_unotify(2) BUGS) and ignores O_NONBLOCK: call
// recv() only after poll() reported POLLIN. The fd reports POLLHUP once no task uses the filter.
//
// Thread-safety: every method is const apart from assignment and keeps no mutable state, so one
// NotifyFd may be used from several threads (e.g. recv in the loop, respond from workers).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

// One notification, copied out of the kernel's struct seccomp_notif.
struct Notification {
  uint64_t id = 0;          // cookie for respond/id_valid
  uint32_t pid = 0;         // TID of the target in the supervisor's pid namespace; 0 if unmapped
  uint32_t flags = 0;
  int32_t nr = 0;           // syscall number for `arch`
  uint32_t arch = 0;        // AUDIT_ARCH_*
  uint64_t instruction_pointer = 0;
  std::array<uint64_t, 6> args{};
};

// Struct sizes the running kernel uses (SECCOMP_GET_NOTIF_SIZES).
struct NotifSizes {
  uint16_t notif = 0, notif_resp = 0, data = 0;
};
Result<NotifSizes> query_notif_sizes();

class NotifyFd {
 public:
  // Whether an answer reached the target.
  enum class Answer {
    kAnswered,  // the kernel took the response
    kGone,      // ENOENT: the target died or was interrupted; nothing to do
  };

  // Takes ownership of a notify fd (from SECCOMP_FILTER_FLAG_NEW_LISTENER or the listener
  // message). Fails if the fd is invalid or the kernel's structs exceed what we support.
  static Result<NotifyFd> adopt(UniqueFd fd);

  NotifyFd(NotifyFd&&) = default;
  NotifyFd& operator=(NotifyFd&&) = default;

  int fd() const { return fd_.get(); }

  // SECCOMP_IOCTL_NOTIF_RECV into a zeroed buffer of the kernel's size. nullopt when there is
  // nothing to handle now (EINTR, ENOENT); call after poll() said POLLIN (see above).
  Result<std::optional<Notification>> recv() const;

  // Lets the syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE; kernel >= 5.5). See TOCTOU above.
  Result<Answer> respond_continue(uint64_t id) const;
  // Fails the syscall with `err` (a positive errno, e.g. EPERM) without running it.
  Result<Answer> respond_errno(uint64_t id, int err) const;
  // Fails nothing and runs nothing: the syscall "returns" `value` (spoofed success).
  Result<Answer> respond_value(uint64_t id, int64_t value) const;

  // SECCOMP_IOCTL_NOTIF_ID_VALID: true while the target is still blocked in notification `id`.
  // Call it after every read of target memory and before acting on what was read.
  Result<bool> id_valid(uint64_t id) const;

  // SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) (kernel >= 6.6): the kernel
  // wakes the supervisor on the target's CPU, cutting the round trip ~3x (runtime-monitoring.md
  // 2.5). Returns false when the kernel does not know the flag (EINVAL), true when set.
  Result<bool> set_sync_wakeup() const;

 private:
  NotifyFd(UniqueFd fd, NotifSizes sizes) : fd_(std::move(fd)), sizes_(sizes) {}
  Result<Answer> send(uint64_t id, int64_t val, int32_t error, uint32_t flags) const;

  UniqueFd fd_;
  NotifSizes sizes_;
};

// Convenience: true when `status` says the notification (or target) is gone, i.e. a failure the
// caller should drop silently (ENOENT / ESRCH with Code::kNotFound).
bool is_gone(const Status& status);

}  // namespace runguard::nsutil
