// The chown fallback copies a plain-directory rootfs that another container of the same rootfs
// may be writing: an entry swapped from a regular file to a FIFO between the copy's type check
// and its open must fail the copy (or be copied as what it was), never hang it on the FIFO.
//
// The copies run in a child process, so one stuck in open(2) can be killed and reported instead
// of hanging the test binary; threads of the parent keep swapping FIFOs in for files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/idmap.h"

namespace runguard::nsutil {
namespace {

TEST(IdmapCopyRace, FifoSwappedInDuringTheChownCopyNeverHangsIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ramfs mount, user namespaces)";
  char tmpl[] = "/tmp/rg-idmap-race-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, rootfs = dir + "/rootfs";
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(rootfs.c_str(), 0755), 0);
  // ramfs cannot be idmapped: idmap_rootfs takes the chown fallback and copies the tree.
  ASSERT_EQ(::mount("ramfs", rootfs.c_str(), "ramfs", 0, "mode=0755"), 0);
  constexpr int kFiles = 64, kSwapped = 3, kCopySeconds = 4;
  for (int i = 0; i < kFiles; ++i) std::ofstream(rootfs + "/f" + std::to_string(i)) << "data";
  ASSERT_EQ(::mkdir((dir + "/mnt").c_str(), 0700), 0);
  // Forked before any thread exists (the child may then use malloc freely).
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::vector<IdMap> maps = {{0, 300000, 65536}};
    // Mounted at a directory of its own, as runguard does (<stateDir>/<id>/mnt/rootfs): the
    // swappers keep writing into the original.
    IdmapOptions opts{dir + "/scratch", true, dir + "/copy", dir + "/mnt"};
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(kCopySeconds);
    while (std::chrono::steady_clock::now() < end) {
      auto r = idmap_rootfs(rootfs, maps, maps, opts);
      if (!r.is_ok()) continue;  // "stopped being a regular file": the copy gave up, cleanly
      if (Status u = undo_idmapped_rootfs(*r); !u.is_ok()) {
        std::fprintf(stderr, "undo: %s\n", u.to_string().c_str());
        ::_exit(2);
      }
    }
    ::_exit(0);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> swappers;
  for (int k = 0; k < kSwapped; ++k) {
    swappers.emplace_back([&, k] {
      std::string reg = rootfs + "/.r" + std::to_string(k), fifo = rootfs + "/.f" + std::to_string(k);
      std::string x = rootfs + "/f" + std::to_string(k * 7);
      while (!stop) {
        std::ofstream(reg) << "data";
        ::mkfifo(fifo.c_str(), 0600);
        ::rename(reg.c_str(), x.c_str());
        std::this_thread::sleep_for(std::chrono::microseconds(20));  // a file long enough to be seen as one
        ::rename(fifo.c_str(), x.c_str());
      }
    });
  }
  bool blocked = true;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kCopySeconds + 20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(child, &status, WNOHANG) == child) {
      blocked = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (blocked) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  stop = true;
  for (auto& t : swappers) t.join();
  // A killed child may leave its copy mounted; then the ramfs.
  while (::umount2((dir + "/mnt").c_str(), MNT_DETACH) == 0) {
  }
  while (::umount2(rootfs.c_str(), MNT_DETACH) == 0) {
  }
  (void)remove_tree(dir);
  EXPECT_FALSE(blocked) << "the chown fallback blocked opening a FIFO swapped in for a regular file";
  EXPECT_TRUE(blocked || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << "child status " << status;
}

}  // namespace
}  // namespace runguard::nsutil
