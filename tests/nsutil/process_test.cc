// run_captured: the runtime's way to run a one-shot helper during create without handing it the
// container's stdio, and without waiting past a deadline.
#include "runguard/nsutil/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace runguard::nsutil {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Result<CapturedRun> sh(const std::string& script, milliseconds timeout = milliseconds(5000), size_t max = 64u << 10) {
  return run_captured("/bin/sh", {"sh", "-c", script}, timeout, max);
}

TEST(RunCaptured, CapturesStdoutAndExitCode) {
  auto r = sh("echo '{\"digest\":\"x\"}'; echo noise >&2; exit 3");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->output, "{\"digest\":\"x\"}\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(RunCaptured, StdinIsDevNullAndNoOtherFdsInherited) {
  // A descriptor without CLOEXEC (like a preserved container fd) must not reach the helper.
  int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  auto r = sh("read line; echo \"read=$?\"; ls /proc/self/fd | sort -n | tr '\\n' ' '; "
              "readlink /proc/self/fd/0; readlink /proc/self/fd/2");
  ::close(leaked);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->exit_code, 0);
  // read fails at EOF; ls sees 0 1 2 and its own directory fd (3) only.
  EXPECT_EQ(r->output, "read=1\n0 1 2 3 /dev/null\n/dev/null\n") << r->output;
}

TEST(RunCaptured, KilledAtTheDeadline) {
  auto start = Clock::now();
  auto r = sh("echo partial; exec sleep 30", milliseconds(150));
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, 128 + 9);
  EXPECT_EQ(r->output, "partial\n");
  EXPECT_GE(ms, 140);
  EXPECT_LT(ms, 1000);
}

// A grandchild holding stdout open cannot keep the caller past the deadline.
TEST(RunCaptured, GrandchildHoldingStdoutDoesNotHang) {
  auto start = Clock::now();
  auto r = sh("sleep 2 & echo done", milliseconds(200));
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->output, "done\n");
  EXPECT_LT(ms, 1000);
}

TEST(RunCaptured, OutputOverTheLimitIsCut) {
  auto r = sh("head -c 100000 /dev/zero", milliseconds(2000), 1000);
  ASSERT_TRUE(r.is_ok());
  EXPECT_LE(r->output.size(), 1000u);
  EXPECT_NE(r->exit_code, 0);
}

TEST(RunCaptured, MissingProgramExits127) {
  auto r = run_captured("/nonexistent/runguardctl", {"runguardctl"}, milliseconds(1000));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_TRUE(r->output.empty());
}

}  // namespace
}  // namespace runguard::nsutil
