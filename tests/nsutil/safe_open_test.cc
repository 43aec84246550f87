// nsutil/safe_open.h: resolution that cannot leave a container's root or runguard's directory,
// and reads that refuse FIFOs, devices and links where a file is expected without blocking.
// Each case builds its own tree in a temporary directory; "host" files sit beside the fake root
// so that a resolution that escapes would find them.

#include "runguard/nsutil/safe_open.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace runguard::nsutil {
namespace {

namespace fs = std::filesystem;

void spit(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

class SafeOpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-safe-open-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ + "/root";
    host_ = tmp_ + "/host";
    fs::create_directories(root_ + "/etc");
    spit(host_ + "/passwd", "host-secret:x:0:0::/:/bin/sh\n");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  std::string tmp_, root_, host_;
};

TEST_F(SafeOpenTest, InRootAbsoluteSymlinkStaysInsideTheRoot) {
  // An image whose /etc/passwd points at a host path: resolved in the root, never on the host.
  fs::create_symlink(host_ + "/passwd", root_ + "/etc/passwd");
  auto missing = read_regular_below(root_, "etc/passwd", Scope::kInRoot, 4096);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().to_string();
  spit(root_ + host_ + "/passwd", "inside:x:0:0::/:/bin/sh\n");
  auto text = read_regular_below(root_, "/etc/passwd", Scope::kInRoot, 4096);
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(*text, "inside:x:0:0::/:/bin/sh\n");
}

TEST_F(SafeOpenTest, InRootDotDotStopsAtTheRoot) {
  spit(root_ + "/host/passwd", "inside\n");
  // Outside the root, <root>/etc/../../host/passwd and <root>/../host/passwd are the host file.
  fs::create_symlink("../../host/passwd", root_ + "/etc/up");
  auto via_link = read_regular_below(root_, "etc/up", Scope::kInRoot, 4096);
  ASSERT_TRUE(via_link.is_ok()) << via_link.status().to_string();
  EXPECT_EQ(*via_link, "inside\n");
  auto via_path = read_regular_below(root_, "../host/passwd", Scope::kInRoot, 4096);
  ASSERT_TRUE(via_path.is_ok()) << via_path.status().to_string();
  EXPECT_EQ(*via_path, "inside\n");
}

TEST_F(SafeOpenTest, InRootFollowsRelativeLinksLikeKubeletsAtomicWriter) {
  // token -> ..data/token, ..data -> ..2026_11_29: the projected volume layout.
  spit(root_ + "/..2026_11_29/token", "a.b.c");
  fs::create_directory_symlink("..2026_11_29", root_ + "/..data");
  fs::create_symlink("..data/token", root_ + "/token");
  auto text = read_regular_below(root_, "token", Scope::kInRoot, 4096);
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(*text, "a.b.c");
}

TEST_F(SafeOpenTest, MagicLinksAreRefused) {
  // /proc/self/root is a magic link: through it any path of the caller's root is reachable.
  auto r = read_regular_below("/", "proc/self/root/etc/hostname", Scope::kInRoot, 4096);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().to_string();
}

TEST_F(SafeOpenTest, FifoSocketDeviceAndDirectoryAreRefusedWithoutBlocking) {
  // Opening a FIFO with no writer for reading would block forever; opening a device runs its
  // driver's open. Neither may happen.
  ASSERT_EQ(::mkfifo((root_ + "/etc/fifo").c_str(), 0644), 0);
  auto fifo = read_regular_below(root_, "etc/fifo", Scope::kInRoot, 4096);
  ASSERT_FALSE(fifo.is_ok());
  EXPECT_EQ(fifo.status().code(), Code::kInvalidArgument);
  EXPECT_NE(fifo.status().message().find("a FIFO, not a regular file"), std::string::npos) << fifo.status().message();
  fs::create_symlink("/dev/null", root_ + "/etc/null");
  auto dev = read_regular_file_nofollow("/dev/null", 4096);
  ASSERT_FALSE(dev.is_ok());
  EXPECT_NE(dev.status().message().find("a character device"), std::string::npos) << dev.status().message();
  auto dir = read_regular_below(root_, "etc", Scope::kInRoot, 4096);
  ASSERT_FALSE(dir.is_ok());
  EXPECT_NE(dir.status().message().find("a directory"), std::string::npos);
}

TEST_F(SafeOpenTest, SizeLimitIsEnforced) {
  spit(root_ + "/etc/big", std::string(5000, 'x'));
  auto r = read_regular_below(root_, "etc/big", Scope::kBeneath, 4096);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("5000 bytes (at most 4096)"), std::string::npos) << r.status().message();
  auto ok = read_regular_below(root_, "etc/big", Scope::kBeneath, 5000);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->size(), 5000u);
}

TEST_F(SafeOpenTest, BeneathRefusesSymlinksDotDotAndAbsolutePaths) {
  spit(root_ + "/etc/plain", "plain");
  fs::create_symlink("plain", root_ + "/etc/link");
  fs::create_directory_symlink(host_, root_ + "/linkdir");
  auto plain = read_regular_below(root_, "etc/plain", Scope::kBeneath, 4096);
  ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
  for (const char* bad : {"etc/link", "linkdir/passwd", "../host/passwd", "/etc/plain"}) {
    auto r = read_regular_below(root_, bad, Scope::kBeneath, 4096);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad << ": " << r.status().to_string();
  }
  // Nothing is created through a symlinked directory either.
  auto created = open_below(UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY)).get(), root_, "linkdir/new",
                            O_WRONLY | O_CREAT | O_EXCL, Scope::kBeneath, 0600);
  EXPECT_FALSE(created.is_ok());
  EXPECT_FALSE(fs::exists(host_ + "/new"));
}

TEST_F(SafeOpenTest, NoFollowReadRefusesALinkInTheLastComponentOnly) {
  spit(tmp_ + "/bundle/config.json", "{}");
  fs::create_directory_symlink(tmp_ + "/bundle", tmp_ + "/bundle-link");
  fs::create_symlink(host_ + "/passwd", tmp_ + "/bundle/linked.json");
  auto through_dir = read_regular_file_nofollow(tmp_ + "/bundle-link/config.json", 4096);
  ASSERT_TRUE(through_dir.is_ok()) << through_dir.status().to_string();
  EXPECT_EQ(*through_dir, "{}");
  auto link = read_regular_file_nofollow(tmp_ + "/bundle/linked.json", 4096);
  ASSERT_FALSE(link.is_ok());
  EXPECT_EQ(link.status().code(), Code::kInvalidArgument);
  EXPECT_NE(link.status().message().find("is a symlink, not a regular file"), std::string::npos) << link.status().message();
  auto missing = read_regular_file_nofollow(tmp_ + "/bundle/none.json", 4096);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST_F(SafeOpenTest, CheckNoSymlinksIsRuncsRootfsRule) {
  fs::create_directories(tmp_ + "/real/rootfs");
  fs::create_directory_symlink(tmp_ + "/real", tmp_ + "/alias");
  fs::create_directory_symlink(tmp_ + "/real/rootfs", tmp_ + "/real/rootfs-link");
  EXPECT_TRUE(check_no_symlinks(tmp_ + "/real/rootfs").is_ok());
  EXPECT_TRUE(check_no_symlinks(tmp_ + "/real/../real/rootfs").is_ok());  // ".." without links: runc takes it too
  Status in_dir = check_no_symlinks(tmp_ + "/alias/rootfs");
  EXPECT_EQ(in_dir.code(), Code::kInvalidArgument);
  EXPECT_NE(in_dir.message().find(tmp_ + "/alias is a symlink (to " + tmp_ + "/real)"), std::string::npos) << in_dir.message();
  Status last = check_no_symlinks(tmp_ + "/real/rootfs-link");
  EXPECT_EQ(last.code(), Code::kInvalidArgument);
  EXPECT_NE(last.message().find("rootfs-link is a symlink"), std::string::npos) << last.message();
  EXPECT_EQ(check_no_symlinks(tmp_ + "/real/none").code(), Code::kNotFound);
  EXPECT_EQ(check_no_symlinks("real/rootfs").code(), Code::kInvalidArgument);
}

// Whoever owns a file can hold a write lease on it (a container's root owns its own /etc/passwd);
// a blocking open then waits for the lease-break time (45 s by default). The read must fail at once
// instead: a child holds the lease for 10 s, and the read has to come back well before that.
TEST_F(SafeOpenTest, LeasedFileFailsAtOnceInsteadOfBlocking) {
  spit(root_ + "/etc/passwd", "root:x:0:0::/:/bin/sh\n");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    ::signal(SIGIO, SIG_IGN);  // the lease-break notice
    int fd = ::open((root_ + "/etc/passwd").c_str(), O_RDONLY);
    char ok = (fd >= 0 && ::fcntl(fd, F_SETLEASE, F_WRLCK) == 0) ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::sleep(10);
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  if (ok != 'y') {
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
    GTEST_SKIP() << "cannot take a write lease here (needs CAP_LEASE or the file's owner)";
  }
  auto start = std::chrono::steady_clock::now();
  auto got = read_regular_below(root_, "/etc/passwd", Scope::kInRoot, 1 << 20);
  auto took = std::chrono::steady_clock::now() - start;
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_LT(took, std::chrono::seconds(3)) << "the open waited for the lease holder";
  ASSERT_FALSE(got.is_ok());
  EXPECT_NE(got.status().message().find("passwd"), std::string::npos) << got.status().to_string();
}

}  // namespace
}  // namespace runguard::nsutil
