// ProcReader::user_name reads the container's /etc/passwd, which the image (or the container
// itself, in a writable rootfs) shapes: it must resolve inside the process's root and never
// follow a link onto the host's files, nor block on a FIFO. (A fake /proc: <dir>/<pid>/root is a
// plain directory standing in for the magic link.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "daemon_test_util.h"
#include "proc_reader.h"

namespace runguard::monitord {
namespace {

class ProcReaderPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir / "7/root/etc");
    std::filesystem::create_directories(dir / "host");
    host_passwd = dir / "host/passwd";
    rgmond::write_text(host_passwd, "hostleak:x:0:0::/:/bin/sh\nhostuser:x:1000:1000::/:/bin/sh\n");
  }
  rgmond::TempDir dir;
  std::string host_passwd;
};

TEST_F(ProcReaderPaths, AbsoluteSymlinkedPasswdResolvesInsideTheContainerRoot) {
  std::filesystem::create_symlink(host_passwd, dir / "7/root/etc/passwd");
  ProcReader missing(dir.path);
  // Inside the root the link's target does not exist: no name (root's default), never the host's.
  EXPECT_EQ(missing.user_name(7, 1000), "");
  EXPECT_EQ(missing.user_name(7, 0), "root");
  std::filesystem::create_directories(dir / ("7/root" + dir.path + "/host"));
  rgmond::write_text(dir / ("7/root" + host_passwd), "inroot:x:1000:1000::/:/bin/sh\n");
  ProcReader reader(dir.path);
  EXPECT_EQ(reader.user_name(7, 1000), "inroot");
}

TEST_F(ProcReaderPaths, DotDotChainStopsAtTheContainerRoot) {
  // <dir>/7/root/etc/../../../host/passwd is the "host" file; inside the root ".." stops at it.
  std::filesystem::create_symlink("../../../host/passwd", dir / "7/root/etc/passwd");
  ProcReader reader(dir.path);
  EXPECT_EQ(reader.user_name(7, 1000), "");
  std::filesystem::create_directories(dir / "7/root/host");
  rgmond::write_text(dir / "7/root/host/passwd", "inroot:x:1000:1000::/:/bin/sh\n");
  ProcReader again(dir.path);
  EXPECT_EQ(again.user_name(7, 1000), "inroot");
}

TEST_F(ProcReaderPaths, FifoPasswdIsNotOpened) {
  // No writer: a blocking open would stall the monitor loop, and with it every watched syscall.
  ASSERT_EQ(::mkfifo((dir / "7/root/etc/passwd").c_str(), 0644), 0);
  ProcReader reader(dir.path);
  EXPECT_EQ(reader.user_name(7, 0), "root");
}

TEST_F(ProcReaderPaths, PlainPasswdStillWorks) {
  rgmond::write_text(dir / "7/root/etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n");
  ProcReader reader(dir.path);
  EXPECT_EQ(reader.user_name(7, 1000), "app");
}

}  // namespace
}  // namespace runguard::monitord
