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

// run_captured_line: a helper that printed its answer but is slow to exit is not reported as
// timed out, and its answer is kept (regression: the whole budget was waited for, then the line
// was thrown away as a timeout).
TEST(RunCapturedLine, AnswerThenSlowExitKeepsTheLine) {
  auto start = Clock::now();
  // No second line: one written after the reader closed its end would kill the shell with SIGPIPE
  // first (exit 141), a race with the kill this test is about ("the first line only" is
  // PromptExitKeepsItsStatus's).
  auto r = run_captured_line("/bin/sh", {"sh", "-c", "echo '{\"digest\":\"x\"}'; exec sleep 30"}, milliseconds(2000));
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FALSE(r->timed_out);
  EXPECT_TRUE(r->killed_after_line);
  EXPECT_EQ(r->exit_code, 128 + 9);
  EXPECT_EQ(r->output, "{\"digest\":\"x\"}\n");
  EXPECT_LT(ms, 1000) << "killed shortly after its line, not at the deadline";
}

TEST(RunCapturedLine, PromptExitKeepsItsStatus) {
  auto r = run_captured_line("/bin/sh", {"sh", "-c", "printf 'one\\ntwo\\n'; exit 1"}, milliseconds(2000));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->output, "one\n");
  EXPECT_FALSE(r->timed_out);
  if (!r->killed_after_line) {
    EXPECT_EQ(r->exit_code, 1);  // exited within the grace (the usual case)
  }
}

TEST(RunCapturedLine, NoLineBeforeTheDeadlineIsATimeout) {
  auto r = run_captured_line("/bin/sh", {"sh", "-c", "printf 'partial'; exec sleep 30"}, milliseconds(150));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->killed_after_line);
  EXPECT_EQ(r->output, "partial");
}

TEST(RunCapturedLine, LineWithoutNewlineAtExit) {
  auto r = run_captured_line("/bin/sh", {"sh", "-c", "printf '{}'"}, milliseconds(2000));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->output, "{}");
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out || r->killed_after_line);
}

TEST(RunCapturedLine, OverlongLineIsCut) {
  auto r = run_captured_line("/bin/sh", {"sh", "-c", "head -c 100000 /dev/zero; exec sleep 30"}, milliseconds(2000), 1000);
  ASSERT_TRUE(r.is_ok());
  EXPECT_LE(r->output.size(), 1000u);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 128 + 9);
}

}  // namespace
}  // namespace runguard::nsutil
