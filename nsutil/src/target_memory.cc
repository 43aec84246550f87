#include "runguard/nsutil/target_memory.h"

#include <linux/audit.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runguard/nsutil/seccomp_notify.h"

namespace runguard::nsutil {
namespace {

constexpr uint64_t kPage = 4096;  // chunking only; a larger real page size is still correct

Status gone(pid_t pid) {
  return Status(Code::kNotFound, "notification for pid " + std::to_string(pid) + " no longer valid", ENOENT);
}

// Bytes from addr to the end of its (4 KiB) page: reading no further never faults on a page the
// string does not reach.
size_t to_page_end(uint64_t addr) { return static_cast<size_t>(kPage - (addr % kPage)); }

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

StillValid notification_check(const NotifyFd& fd, uint64_t id) {
  return [&fd, id]() {
    auto valid = fd.id_valid(id);
    return valid.is_ok() && *valid;
  };
}

size_t pointer_size_for_arch(uint32_t arch) {
  return (arch & __AUDIT_ARCH_64BIT) ? 8 : 4;
}

Result<size_t> read_memory(pid_t pid, uint64_t addr, void* out, size_t len, const StillValid& still_valid) {
  if (len == 0) return size_t{0};
  if (addr == 0) return io_error("reading memory of pid " + std::to_string(pid) + " at address 0", EFAULT);
  struct iovec local = {out, len};
  struct iovec remote = {reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
  ssize_t n;
  do {
    n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  if (!still_valid()) return gone(pid);
  if (n < 0) {
    if (err == ESRCH) return gone(pid);
    return io_error("reading memory of pid " + std::to_string(pid) + " at " + hex(addr), err);
  }
  return static_cast<size_t>(n);
}

Result<TargetString> read_string(pid_t pid, uint64_t addr, size_t max, const StillValid& still_valid) {
  TargetString out;
  char chunk[kPage];
  while (out.value.size() < max) {
    uint64_t at = addr + out.value.size();
    if (at < addr) return io_error("reading a string of pid " + std::to_string(pid) + ": address overflow", EFAULT);
    size_t want = std::min({to_page_end(at), max - out.value.size(), sizeof chunk});
    RG_ASSIGN_OR_RETURN(size_t got, read_memory(pid, at, chunk, want, still_valid));
    if (got == 0) return io_error("reading a string of pid " + std::to_string(pid) + ": unterminated before unmapped memory", EFAULT);
    const char* nul = static_cast<const char*>(std::memchr(chunk, '\0', got));
    if (nul != nullptr) {
      out.value.append(chunk, static_cast<size_t>(nul - chunk));
      return out;
    }
    out.value.append(chunk, got);
  }
  out.truncated = true;
  return out;
}

Result<TargetArgv> read_argv(pid_t pid, uint64_t argv_addr, size_t max_args, size_t max_total,
                             const StillValid& still_valid, size_t pointer_size) {
  if (pointer_size != 4 && pointer_size != 8) return invalid("read_argv: pointer size must be 4 or 8");
  TargetArgv out;
  if (argv_addr == 0) return out;
  size_t total = 0;
  unsigned char ptrs[kPage];
  size_t have = 0, used = 0;  // pointer bytes in `ptrs`, and consumed
  for (size_t i = 0;; ++i) {
    if (i == max_args) {
      out.truncated = true;  // there may be more; we do not look
      return out;
    }
    if (used == have) {  // next chunk of the pointer array, up to the page end
      uint64_t at = argv_addr + i * pointer_size;
      size_t want = std::min(to_page_end(at), (max_args - i) * pointer_size);
      want = std::max(want - want % pointer_size, pointer_size);  // a pointer straddling pages
      RG_ASSIGN_OR_RETURN(have, read_memory(pid, at, ptrs, std::min(want, sizeof ptrs), still_valid));
      have -= have % pointer_size;
      used = 0;
      if (have == 0) return io_error("reading argv of pid " + std::to_string(pid) + " at " + hex(at), EFAULT);
    }
    uint64_t ptr = 0;
    if (pointer_size == 8) {
      std::memcpy(&ptr, ptrs + used, 8);
    } else {
      uint32_t p32;
      std::memcpy(&p32, ptrs + used, 4);
      ptr = p32;
    }
    used += pointer_size;
    if (ptr == 0) return out;
    if (total >= max_total) {
      out.truncated = true;
      return out;
    }
    RG_ASSIGN_OR_RETURN(TargetString s, read_string(pid, ptr, max_total - total, still_valid));
    total += s.value.size() + 1;
    out.args.push_back(std::move(s.value));
    if (s.truncated) {
      out.truncated = true;
      return out;
    }
  }
}

}  // namespace runguard::nsutil
