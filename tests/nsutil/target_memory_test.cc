// Target memory reads against our own process (process_vm_readv on self needs no privilege);
// the notified-child cases live in seccomp_notify_test.cc.
#include "runguard/nsutil/target_memory.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "runguard/nsutil/seccomp_notify.h"

namespace runguard::nsutil {
namespace {

const StillValid kAlways = [] { return true; };

uint64_t addr_of(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Two pages, the second unmapped: a string placed to end right at the boundary.
struct EdgeOfMapping {
  char* base = nullptr;
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  EdgeOfMapping() {
    void* p = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base = static_cast<char*>(p);
    ::munmap(base + page, page);
  }
  ~EdgeOfMapping() {
    if (base) ::munmap(base, page);
  }
  char* place(const char* s, size_t len_with_nul) {
    char* at = base + page - len_with_nul;
    std::memcpy(at, s, len_with_nul);
    return at;
  }
};

TEST(TargetMemory, StringEndingAtAnUnmappedPage) {
  EdgeOfMapping m;
  ASSERT_NE(m.base, nullptr);
  char* s = m.place("/usr/bin/sh", 12);
  auto got = read_string(::getpid(), addr_of(s), kMaxPathBytes, kAlways);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->value, "/usr/bin/sh");
  EXPECT_FALSE(got->truncated);

  // No NUL before the unmapped page: an error, not a read past the mapping.
  std::memset(m.base + m.page - 8, 'x', 8);
  auto bad = read_string(::getpid(), addr_of(m.base + m.page - 8), kMaxPathBytes, kAlways);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().error_number(), EFAULT);
}

TEST(TargetMemory, TruncatesAtMaxAndSpansPages) {
  std::string big(10000, 'a');
  auto got = read_string(::getpid(), addr_of(big.c_str()), 20000, kAlways);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->value, big);
  auto cut = read_string(::getpid(), addr_of(big.c_str()), 100, kAlways);
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(cut->value, std::string(100, 'a'));
  EXPECT_TRUE(cut->truncated);
}

TEST(TargetMemory, InvalidNotificationIsGoneAfterTheRead) {
  int checks = 0;
  StillValid invalid_after_first = [&] { return ++checks == 1; };
  std::string s(6000, 'b');  // two reads at least
  auto got = read_string(::getpid(), addr_of(s.c_str()), kMaxPathBytes * 2, invalid_after_first);
  ASSERT_FALSE(got.is_ok());
  EXPECT_TRUE(is_gone(got.status())) << got.status().to_string();
  EXPECT_EQ(checks, 2);  // checked after every read
}

TEST(TargetMemory, NullAndBadAddresses) {
  auto null_str = read_string(::getpid(), 0, 10, kAlways);
  ASSERT_FALSE(null_str.is_ok());
  EXPECT_EQ(null_str.status().error_number(), EFAULT);
  auto null_argv = read_argv(::getpid(), 0, kMaxArgs, kMaxArgvBytes, kAlways);
  ASSERT_TRUE(null_argv.is_ok());
  EXPECT_TRUE(null_argv->args.empty());
  EXPECT_FALSE(read_argv(::getpid(), 8, kMaxArgs, kMaxArgvBytes, kAlways).is_ok());
  EXPECT_FALSE(read_argv(::getpid(), 8, kMaxArgs, kMaxArgvBytes, kAlways, 3).is_ok());
}

TEST(TargetMemory, ArgvLimits) {
  const char* argv[] = {"sh", "-c", "echo hello; exit 3", nullptr};
  auto all = read_argv(::getpid(), addr_of(argv), kMaxArgs, kMaxArgvBytes, kAlways);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(all->args, (std::vector<std::string>{"sh", "-c", "echo hello; exit 3"}));
  EXPECT_FALSE(all->truncated);

  auto bytes = read_argv(::getpid(), addr_of(argv), kMaxArgs, 8, kAlways);  // "sh\0-c\0" = 6, then 2 of the third
  ASSERT_TRUE(bytes.is_ok());
  EXPECT_EQ(bytes->args, (std::vector<std::string>{"sh", "-c", "ec"}));
  EXPECT_TRUE(bytes->truncated);

  auto count = read_argv(::getpid(), addr_of(argv), 1, kMaxArgvBytes, kAlways);
  ASSERT_TRUE(count.is_ok());
  EXPECT_EQ(count->args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(count->truncated);
}

TEST(TargetMemory, ThirtyTwoBitPointerArrays) {
  // A page below 4 GiB so its addresses fit a 32-bit pointer.
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* p = ::mmap(reinterpret_cast<void*>(0x20000000), page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) GTEST_SKIP() << "cannot map a page below 4 GiB: " << std::strerror(errno);
  char* base = static_cast<char*>(p);
  std::memcpy(base + 64, "compat", 7);
  std::memcpy(base + 80, "two", 4);
  uint32_t arr[3] = {static_cast<uint32_t>(addr_of(base + 64)), static_cast<uint32_t>(addr_of(base + 80)), 0};
  std::memcpy(base, arr, sizeof arr);
  auto got = read_argv(::getpid(), addr_of(base), kMaxArgs, kMaxArgvBytes, kAlways, 4);
  ::munmap(p, page);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->args, (std::vector<std::string>{"compat", "two"}));
}

TEST(TargetMemory, PointerSizeForArch) {
  EXPECT_EQ(pointer_size_for_arch(AUDIT_ARCH_X86_64), 8u);
  EXPECT_EQ(pointer_size_for_arch(AUDIT_ARCH_I386), 4u);
  EXPECT_EQ(pointer_size_for_arch(AUDIT_ARCH_AARCH64), 8u);
  EXPECT_EQ(pointer_size_for_arch(AUDIT_ARCH_ARM), 4u);
}

}  // namespace
}  // namespace runguard::nsutil
