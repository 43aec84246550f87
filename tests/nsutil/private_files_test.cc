// nsutil/private_files.h: the per-container secrets tmpfs (real mounts: root only, skipped with a
// message otherwise), atomic owned files, zeroing before unlink, and reads that cannot leave a
// directory. Every mount a test makes is detached in TearDown, also when the test failed.

#include "runguard/nsutil/private_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runguard/nsutil/mountinfo.h"

namespace runguard::nsutil {
namespace {

bool is_root() { return ::geteuid() == 0; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::set<std::string> list_dir(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

std::optional<MountInfo> mount_at(const std::string& path) {
  auto mounts = read_mountinfo();
  if (!mounts.is_ok()) {
    ADD_FAILURE() << mounts.status().to_string();
    return std::nullopt;
  }
  return top_mount_at(*mounts, path);
}

bool has_option(const std::string& options, const std::string& opt) {
  std::stringstream ss(options);
  std::string o;
  while (std::getline(ss, o, ',')) {
    if (o == opt) return true;
  }
  return false;
}

class PrivateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-private-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    // Detach whatever a test left mounted below root_, deepest first, before removing it.
    for (int round = 0; round < 8; ++round) {
      auto mounts = read_mountinfo();
      if (!mounts.is_ok()) break;
      auto below = mounts_under(*mounts, root_);
      if (below.empty()) break;
      for (const auto& m : below) ::umount2(m.mount_point.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string make_dir(const std::string& name, mode_t mode = 0700) {
    std::string d = root_ + "/" + name;
    EXPECT_EQ(::mkdir(d.c_str(), mode), 0) << d << ": " << std::strerror(errno);
    return d;
  }
  std::string root_;
};

#define REQUIRE_ROOT() \
  if (!is_root()) GTEST_SKIP() << "needs root (mounts a tmpfs)"

TEST_F(PrivateFiles, MountTmpfsIsInertSizedAndOwned) {
  REQUIRE_ROOT();
  std::string dir = make_dir("secrets");
  ASSERT_TRUE(mount_tmpfs(dir, 64 << 10, 0500, 4242, 4343).is_ok());
  auto m = mount_at(dir);
  ASSERT_TRUE(m.has_value()) << dir << " is not a mount point";
  EXPECT_EQ(m->fstype, "tmpfs");
  for (const char* o : {"nosuid", "nodev", "noexec"}) EXPECT_TRUE(has_option(m->options, o)) << o << " missing: " << m->options;
  EXPECT_TRUE(has_option(m->options, "rw")) << m->options;
  EXPECT_TRUE(has_option(m->super_options, "size=64k")) << m->super_options;
  EXPECT_TRUE(has_option(m->super_options, "mode=500")) << m->super_options;
  EXPECT_TRUE(has_option(m->super_options, "uid=4242")) << m->super_options;
  EXPECT_TRUE(has_option(m->super_options, "gid=4343")) << m->super_options;
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0500u);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4343u);
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.c_str(), &fs), 0);
  EXPECT_EQ(static_cast<uint64_t>(fs.f_blocks) * fs.f_bsize, 64u << 10);
  EXPECT_TRUE(list_dir(dir).empty()) << "a fresh tmpfs";
}

TEST_F(PrivateFiles, MountTmpfsOnAMissingDirectoryFails) {
  REQUIRE_ROOT();
  Status s = mount_tmpfs(root_ + "/nope", 64 << 10, 0500, 0, 0);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(root_ + "/nope"), std::string::npos) << s.message();
}

TEST_F(PrivateFiles, UnmountIsIdempotent) {
  REQUIRE_ROOT();
  std::string dir = make_dir("secrets");
  ASSERT_TRUE(mount_tmpfs(dir, 16 << 10, 0500, 0, 0).is_ok());
  ASSERT_TRUE(mount_at(dir).has_value());
  ASSERT_TRUE(unmount(dir).is_ok());
  EXPECT_FALSE(mount_at(dir).has_value());
  EXPECT_TRUE(unmount(dir).is_ok()) << "not mounted: success";
  EXPECT_TRUE(unmount(root_ + "/never-existed").is_ok()) << "missing: success";
}

// unmount never follows a symlink: a link planted where the tmpfs was expected does not make
// runguard detach something else.
TEST_F(PrivateFiles, UnmountDoesNotFollowASymlink) {
  REQUIRE_ROOT();
  std::string dir = make_dir("secrets");
  ASSERT_TRUE(mount_tmpfs(dir, 16 << 10, 0500, 0, 0).is_ok());
  std::string link = root_ + "/link";
  ASSERT_EQ(::symlink(dir.c_str(), link.c_str()), 0);
  EXPECT_TRUE(unmount(link).is_ok());
  EXPECT_TRUE(mount_at(dir).has_value()) << "unmount followed the symlink";
}

TEST_F(PrivateFiles, UnmountOfAPlainDirectoryIsSuccess) {
  std::string dir = make_dir("plain");
  EXPECT_TRUE(unmount(dir).is_ok());
  EXPECT_TRUE(std::filesystem::exists(dir));
}

TEST_F(PrivateFiles, WriteOwnedFileAtomicModeAndOwner) {
  std::string dir = make_dir("d");
  uint32_t uid = is_root() ? 4242 : ::geteuid();
  uint32_t gid = is_root() ? 4343 : ::getegid();
  ASSERT_TRUE(write_owned_file_atomic(dir, "a", "alpha", 0440, uid, gid).is_ok());
  ASSERT_TRUE(write_owned_file_atomic(dir, "b", "", 0400, uid, gid).is_ok());
  struct stat st {};
  ASSERT_EQ(::lstat((dir + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(slurp(dir + "/a"), "alpha");
  ASSERT_EQ(::lstat((dir + "/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(list_dir(dir), (std::set<std::string>{"a", "b"}));
}

TEST_F(PrivateFiles, WriteOwnedFileAtomicRefusesNonNames) {
  std::string dir = make_dir("d");
  for (const char* name : {"", ".", "..", "a/b", "../escape", "/abs"}) {
    SCOPED_TRACE(name);
    Status s = write_owned_file_atomic(dir, name, "x", 0400, ::geteuid(), ::getegid());
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(list_dir(dir).empty());
  EXPECT_EQ(list_dir(root_), std::set<std::string>{"d"});
}

TEST_F(PrivateFiles, WriteOwnedFileAtomicRefusesASymlinkedDirectory) {
  std::string real = make_dir("real");
  ASSERT_EQ(::symlink(real.c_str(), (root_ + "/link").c_str()), 0);
  EXPECT_FALSE(write_owned_file_atomic(root_ + "/link", "a", "x", 0400, ::geteuid(), ::getegid()).is_ok());
  EXPECT_TRUE(list_dir(real).empty());
}

// A failed write leaves the old file and no temporary file: here the rename fails because the
// name is a non-empty directory (a mount point runguard made).
TEST_F(PrivateFiles, WriteOwnedFileAtomicFailureLeavesNoTemporary) {
  std::string dir = make_dir("d");
  ASSERT_EQ(::mkdir((dir + "/mp").c_str(), 0700), 0);
  spit(dir + "/mp/inside", "keep");
  Status s = write_owned_file_atomic(dir, "mp", "x", 0400, ::geteuid(), ::getegid());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(dir + "/mp"), std::string::npos) << s.message();
  EXPECT_EQ(list_dir(dir), std::set<std::string>{"mp"}) << "temporary file left behind";
  EXPECT_EQ(slurp(dir + "/mp/inside"), "keep");
}

TEST_F(PrivateFiles, FullTmpfsSaysSoAndKeepsTheOldFile) {
  REQUIRE_ROOT();
  std::string dir = make_dir("secrets");
  ASSERT_TRUE(mount_tmpfs(dir, 16 << 10, 0500, 0, 0).is_ok());
  ASSERT_TRUE(write_owned_file_atomic(dir, "db", "old-value", 0400, 0, 0).is_ok());
  Status s = write_owned_file_atomic(dir, "db", std::string(64 << 10, 'x'), 0400, 0, 0);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("the secrets tmpfs is full (raise secrets.size)"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find(dir + "/db"), std::string::npos) << s.message();
  EXPECT_EQ(slurp(dir + "/db"), "old-value");
  EXPECT_EQ(list_dir(dir), std::set<std::string>{"db"}) << "temporary file left behind";
}

TEST_F(PrivateFiles, ZeroAndUnlinkZeroesBeforeUnlinking) {
  std::string dir = make_dir("d");
  const std::string value(100000, 'S');
  spit(dir + "/big", value);
  spit(dir + "/small", "hunter2");
  spit(dir + "/.db.tmp-123", "leftover");
  int fd = ::open((dir + "/big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(zero_and_unlink_files(dir).is_ok());
  EXPECT_TRUE(list_dir(dir).empty());
  // The inode outlives the name while fd holds it: its pages must be zeros now.
  std::string after(value.size(), 'x');
  ssize_t n = ::pread(fd, after.data(), after.size(), 0);
  ::close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(value.size()));
  EXPECT_EQ(after, std::string(value.size(), '\0'));
}

// Mount points (directories) stay for the unmount; a symlink is unlinked, its target untouched.
TEST_F(PrivateFiles, ZeroAndUnlinkLeavesDirectoriesAndNeverFollowsSymlinks) {
  std::string dir = make_dir("d");
  std::string outside = root_ + "/outside";
  spit(outside, "do-not-zero");
  ASSERT_EQ(::symlink(outside.c_str(), (dir + "/link").c_str()), 0);
  ASSERT_EQ(::mkdir((dir + "/kubernetes.io").c_str(), 0555), 0);
  spit(dir + "/a", "1");
  ASSERT_TRUE(zero_and_unlink_files(dir).is_ok());
  EXPECT_EQ(list_dir(dir), std::set<std::string>{"kubernetes.io"});
  EXPECT_EQ(slurp(outside), "do-not-zero");
}

TEST_F(PrivateFiles, ZeroAndUnlinkMissingDirectoryIsSuccess) {
  EXPECT_TRUE(zero_and_unlink_files(root_ + "/nope").is_ok());
}

TEST_F(PrivateFiles, ZeroAndUnlinkRefusesASymlinkedDirectory) {
  std::string real = make_dir("real");
  spit(real + "/f", "keep-me");
  ASSERT_EQ(::symlink(real.c_str(), (root_ + "/link").c_str()), 0);
  EXPECT_FALSE(zero_and_unlink_files(root_ + "/link").is_ok());
  EXPECT_EQ(slurp(real + "/f"), "keep-me");
}

TEST_F(PrivateFiles, ZeroAndUnlinkInATmpfs) {
  REQUIRE_ROOT();
  std::string dir = make_dir("secrets");
  ASSERT_TRUE(mount_tmpfs(dir, 64 << 10, 0500, 4242, 4242).is_ok());
  ASSERT_TRUE(write_owned_file_atomic(dir, "a", "alpha", 0400, 4242, 4242).is_ok());
  ASSERT_TRUE(write_owned_file_atomic(dir, "b", "beta", 0400, 4242, 4242).is_ok());
  ASSERT_TRUE(zero_and_unlink_files(dir).is_ok());
  EXPECT_TRUE(list_dir(dir).empty());
  ASSERT_TRUE(unmount(dir).is_ok());
  EXPECT_FALSE(mount_at(dir).has_value());
}

class ReadBeneath : public PrivateFiles {
 protected:
  void SetUp() override {
    PrivateFiles::SetUp();
    dir_ = make_dir("secrets");
    make_dir("secrets/app");
    make_dir("other");
    spit(dir_ + "/pw", "hunter2");
    spit(dir_ + "/app/db", "db-secret");
    spit(dir_ + "/empty", "");
    spit(root_ + "/other/x", "outside-secret");
  }
  std::string dir_;
};

TEST_F(ReadBeneath, ReadsRegularFiles) {
  auto r = read_file_beneath(dir_, "pw", 1024);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, "hunter2");
  r = read_file_beneath(dir_, "app/db", 1024);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, "db-secret");
  r = read_file_beneath(dir_, "empty", 1024);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, "");
  // ".." that stays below the directory is harmless to openat2(RESOLVE_BENEATH).
  r = read_file_beneath(dir_, "app/../pw", 1024);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, "hunter2");
}

TEST_F(ReadBeneath, MissingIsNotFound) {
  auto r = read_file_beneath(dir_, "nope", 1024);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(dir_ + "/nope"), std::string::npos);
}

TEST_F(ReadBeneath, EscapesAreRefused) {
  ASSERT_EQ(::symlink((root_ + "/other/x").c_str(), (dir_ + "/abs-link").c_str()), 0);
  ASSERT_EQ(::symlink("../other/x", (dir_ + "/rel-link").c_str()), 0);
  ASSERT_EQ(::symlink("pw", (dir_ + "/inner-link").c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/other").c_str(), (dir_ + "/dir-link").c_str()), 0);
  ASSERT_EQ(::symlink("/proc/self/root", (dir_ + "/magic").c_str()), 0);
  for (const char* rel : {"../other/x", "app/../../other/x", "/etc/passwd", "abs-link", "rel-link", "inner-link", "dir-link/x",
                          "magic/etc/passwd"}) {
    SCOPED_TRACE(rel);
    auto r = read_file_beneath(dir_, rel, 1024);
    ASSERT_FALSE(r.is_ok()) << "read " << *r;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().to_string();
    EXPECT_NE(r.status().message().find("leads outside " + dir_ + " or through a symlink"), std::string::npos)
        << r.status().message();
  }
}

TEST_F(ReadBeneath, NonRegularFilesAreRefused) {
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  for (const char* rel : {"app", "fifo", "."}) {
    SCOPED_TRACE(rel);
    auto r = read_file_beneath(dir_, rel, 1024);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("is not a regular file"), std::string::npos) << r.status().message();
  }
}

TEST_F(ReadBeneath, SizeBound) {
  auto r = read_file_beneath(dir_, "pw", 7);
  ASSERT_TRUE(r.is_ok()) << "exactly max_bytes is fine";
  r = read_file_beneath(dir_, "pw", 6);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("is 7 bytes (at most 6)"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace runguard::nsutil
