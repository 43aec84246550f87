// zero_and_unlink_files against a directory whose owner swaps entries while it runs (the secrets
// tmpfs's root belongs to the container's user): a regular file replaced by a FIFO between the
// type check and the open must not block the delete on a FIFO with no reader.
//
// The wipe runs in a child process, so a wipe stuck in open(2) can be killed and reported instead
// of hanging the test binary; three threads of the parent keep swapping FIFOs in for files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runguard/nsutil/private_files.h"

namespace runguard::nsutil {
namespace {

TEST(PrivateFilesRace, FifoSwappedInForAFileNeverBlocksTheWipe) {
  char tmpl[] = "/tmp/rg-wipe-race-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  constexpr int kWipeSeconds = 4;
  // Forked before any thread exists (the child may then use malloc freely).
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(kWipeSeconds);
    while (std::chrono::steady_clock::now() < end) (void)zero_and_unlink_files(dir);
    ::_exit(0);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> swappers;
  for (int k = 0; k < 3; ++k) {
    swappers.emplace_back([&, k] {
      std::string reg = dir + "/.r" + std::to_string(k), fifo = dir + "/.f" + std::to_string(k);
      std::string x = dir + "/x" + std::to_string(k);
      while (!stop) {
        std::ofstream(reg) << "secret";
        ::mkfifo(fifo.c_str(), 0600);
        ::rename(reg.c_str(), x.c_str());
        std::this_thread::sleep_for(std::chrono::microseconds(20));  // a file long enough to be seen as one
        ::rename(fifo.c_str(), x.c_str());  // x is now a FIFO, right after it was a file
      }
    });
  }
  bool blocked = true;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kWipeSeconds + 10);
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
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(blocked) << "zero_and_unlink_files blocked opening a FIFO swapped in for a regular file";
  EXPECT_TRUE(blocked || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace
}  // namespace runguard::nsutil
