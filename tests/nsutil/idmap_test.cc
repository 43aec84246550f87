#include "runguard/nsutil/idmap.h"

#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <sstream>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/mountinfo.h"

namespace runguard::nsutil {
namespace {

constexpr uint32_t kBase = 200000;  // host id that container root maps to in these tests
const std::vector<IdMap> kMaps = {{0, kBase, 65536}};

// ---- pure ------------------------------------------------------------------------------------

TEST(Idmap, MapToHost) {
  std::vector<IdMap> maps = {{0, 100000, 1000}, {5000, 300000, 10}};
  EXPECT_EQ(map_to_host(maps, 0), 100000u);
  EXPECT_EQ(map_to_host(maps, 999), 100999u);
  EXPECT_EQ(map_to_host(maps, 1000), std::nullopt);
  EXPECT_EQ(map_to_host(maps, 5009), 300009u);
  EXPECT_EQ(map_to_host(maps, 5010), std::nullopt);
  EXPECT_EQ(map_to_host({}, 0), std::nullopt);
  EXPECT_EQ(map_to_host({{4294967290u, 10, 4}}, 4294967293u), 13u);
}

TEST(Idmap, OpenUsernsRejectsBadMapsBeforeAnySideEffect) {
  std::vector<IdMap> ok = {{0, 100000, 65536}};
  auto expect_bad = [&](const std::vector<IdMap>& uids, const std::vector<IdMap>& gids, const char* needle) {
    auto r = open_userns(uids, gids);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_bad({}, ok, "uid map is empty");
  expect_bad(ok, {}, "gid map is empty");
  expect_bad({{0, 1, 0}}, ok, "size is 0");
  expect_bad({{4294967000u, 1, 1000}}, ok, "runs past");
  expect_bad(ok, {{0, 4294967000u, 1000}}, "runs past");
  expect_bad({{0, 100000, 10}, {5, 200000, 10}}, ok, "overlaps");
  expect_bad({{0, 100000, 10}, {100, 100005, 10}}, ok, "overlaps");
  std::vector<IdMap> many;
  for (uint32_t i = 0; i < 341; ++i) many.push_back({i, 100000 + i, 1});
  expect_bad(many, ok, "at most 340");
}

TEST(Idmap, JsonRoundTripAndErrors) {
  IdmappedRootfs r{"/run/c/rootfs", "copy", 1ull << 40, "/run/c/copy"};
  auto back = idmapped_rootfs_from_json(idmapped_rootfs_to_json(r));
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(back->target, r.target);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->mount_id, r.mount_id);
  EXPECT_EQ(back->copy_dir, r.copy_dir);
  EXPECT_FALSE(idmapped_rootfs_from_json(Json::array()));
  EXPECT_FALSE(idmapped_rootfs_from_json(Json{{"target", "/x"}, {"kind", "zfs"}, {"mountId", 1}}));
  EXPECT_FALSE(idmapped_rootfs_from_json(Json{{"target", "/x"}, {"kind", "bind"}, {"mountId", -1}}));
  EXPECT_FALSE(idmapped_rootfs_from_json(Json{{"target", "/x"}, {"kind", "copy"}, {"mountId", 1}}));
  EXPECT_FALSE(idmapped_rootfs_from_json(Json{{"kind", "bind"}, {"mountId", 1}}));
}

TEST(Idmap, RelativeRootfsIsRejected) {
  auto r = idmap_rootfs("rootfs", kMaps, kMaps, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

// ---- root-only: real namespaces and mounts -----------------------------------------------------

bool is_root() { return ::geteuid() == 0; }

// Runs `fn` in a child with all ids set to `id`; returns the child's exit status (0 = fn true).
int as_user(uint32_t id, const std::function<bool()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) ::_exit(2);
    ::_exit(fn() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

bool create_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, "x", 1) == 1;
  ::close(fd);
  return ok;
}

uid_t owner(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return static_cast<uid_t>(-1);
  return st.st_uid;
}
gid_t group(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return static_cast<gid_t>(-1);
  return st.st_gid;
}

// Mounts under the test directories (/tmp/rg-idmap-*): other processes on the machine mount and
// unmount concurrently (containers of other test suites), so the whole table is not stable.
size_t mount_count() {
  auto m = read_mountinfo();
  if (!m) return 0;
  size_t n = 0;
  for (const auto& mi : *m) n += mi.mount_point.rfind("/tmp/rg-idmap-", 0) == 0 ? 1 : 0;
  return n;
}

// Runs `fn` in a forked child (so seccomp filters and personality changes stay there); returns its
// exit code, or 100 + signal if it was killed.
int in_child(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// In the calling process (a child): each system call `nr` fails with its errno, as on a kernel
// that lacks it (ENOSYS) or refuses it (EINVAL). x86-64/aarch64 test hosts: no arch check.
bool fail_syscalls(const std::vector<std::pair<long, int>>& rules) {
  std::vector<sock_filter> prog;
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (const auto& [nr, err] : rules) {
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA)));
  }
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == 0;
}

bool contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return true;
  std::fprintf(stderr, "\"%s\" not in: %s\n", needle.c_str(), haystack.c_str());
  return false;
}

std::string uname_release() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.release : "";
}

// Pids whose parent is this process, from /proc (works without CONFIG_PROC_CHILDREN).
std::vector<pid_t> children_of_self() {
  std::vector<pid_t> out;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), &::closedir);
  if (!proc) return out;
  while (dirent* e = ::readdir(proc.get())) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == ::getpid()) out.push_back(pid);
  }
  return out;
}

void write_file(const std::string& path, uid_t uid, gid_t gid, mode_t mode = 0644) {
  ASSERT_TRUE(create_file(path)) << path;
  ASSERT_EQ(::chown(path.c_str(), uid, gid), 0);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

void make_dir(const std::string& path) {
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
}

// A temp directory under /tmp (ext4 here); teardown detaches every mount under it, deepest and
// newest first, then removes it.
class IdmapRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (user namespaces with arbitrary maps, mounts)";
    char tmpl[] = "/tmp/rg-idmap-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    before_ = mount_count();
  }
  void TearDown() override {
    if (dir_.empty()) return;
    // Independent of the parser under test: a broken parser must not leak mounts.
    for (int pass = 0; pass < 16; ++pass) {
      std::vector<std::string> points = raw_mount_points();
      bool any = false;
      for (auto it = points.rbegin(); it != points.rend(); ++it) {
        if (it->rfind(dir_ + "/", 0) == 0) {
          any = true;
          (void)::umount2(it->c_str(), MNT_DETACH);
        }
      }
      if (!any) break;
    }
    EXPECT_TRUE(remove_tree(dir_));
  }
  // Field 5 of each mountinfo line, with the kernel's octal escapes undone.
  static std::vector<std::string> raw_mount_points() {
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string f;
      for (int i = 0; i < 5 && fields >> f; ++i) {
      }
      std::string decoded;
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '\\' && i + 3 < f.size()) {
          decoded.push_back(static_cast<char>(std::stoi(f.substr(i + 1, 3), nullptr, 8)));
          i += 3;
        } else {
          decoded.push_back(f[i]);
        }
      }
      out.push_back(decoded);
    }
    return out;
  }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }

  void mount_overlay(const std::string& data) {
    ASSERT_EQ(::mount("overlay", path("rootfs").c_str(), "overlay", 0, data.c_str()), 0) << std::strerror(errno);
  }
  // l1 (top) and l2 lower layers, upper/work under ov/, merged at rootfs.
  void build_overlay() {
    for (const char* d : {"l1", "l2", "ov", "ov/upper", "ov/work", "rootfs", "scratch"}) make_dir(path(d));
    write_file(path("l1/a"), 0, 0);
    write_file(path("l2/b"), 0, 0);
    write_file(path("l2/c"), 1000, 1000);
    write_file(path("l2/shadowed"), 7, 7);
    write_file(path("l1/shadowed"), 0, 0);
    mount_overlay("lowerdir=" + path("l1") + ":" + path("l2") + ",upperdir=" + path("ov/upper") +
                  ",workdir=" + path("ov/work"));
  }
  IdmapOptions options() const { return IdmapOptions{path("scratch"), false, path("copy"), ""}; }

  std::string dir_;
  size_t before_ = 0;
};

TEST_F(IdmapRoot, OpenUsernsGivesAUserNamespaceWithTheMaps) {
  std::vector<IdMap> uids = {{0, 300000, 1000}, {1000, 400000, 5}};
  std::vector<IdMap> gids = {{0, 500000, 65536}};
  auto ns = open_userns(uids, gids);
  ASSERT_TRUE(ns) << ns.status().to_string();
  char link[128] = {};
  std::string fdpath = "/proc/self/fd/" + std::to_string(ns->get());
  ASSERT_GT(::readlink(fdpath.c_str(), link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link).rfind("user:[", 0), 0u) << link;
  EXPECT_NE(::fcntl(ns->get(), F_GETFD) & FD_CLOEXEC, 0);
  // Join it in a child and read the maps back from the inside.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(ns->get(), CLONE_NEWUSER) != 0) ::_exit(2);
    std::ifstream u("/proc/self/uid_map"), g("/proc/self/gid_map");
    std::stringstream us, gs;
    us << u.rdbuf();
    gs << g.rdbuf();
    unsigned a, b, c, d, e, f, x, y, z;
    bool ok = std::sscanf(us.str().c_str(), "%u %u %u %u %u %u", &a, &b, &c, &d, &e, &f) == 6 && a == 0 &&
              b == 300000 && c == 1000 && d == 1000 && e == 400000 && f == 5 &&
              std::sscanf(gs.str().c_str(), "%u %u %u", &x, &y, &z) == 3 && x == 0 && y == 500000 && z == 65536;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The helper was reaped: no zombie children left behind.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// Regression: the helper's copy of the pipe's write end kept it blocked forever when runguard was
// killed between clone and the helper's release. A subreaper inherits the orphaned helpers of a
// process killed at varying points inside open_userns; every one of them must exit by itself.
TEST_F(IdmapRoot, UsernsHelperExitsWhenItsCreatorIsKilled) {
  int rc = in_child([] {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return 2;
    // A kill lands between clone and the release about one time in four: 24 trials miss the
    // window every time with a probability near 0.1%.
    constexpr int kTrials = 24;
    int stuck = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
      pid_t p = ::fork();
      if (p == 0) {
        for (;;) {
          if (!open_userns(kMaps, kMaps)) ::_exit(3);
        }
      }
      ::usleep(static_cast<useconds_t>(1000 + (trial * 7919) % 4000));
      ::kill(p, SIGKILL);
      while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
      }
      // Orphaned helpers are now ours: each must exit on its own, promptly.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      bool clean = false;
      while (std::chrono::steady_clock::now() < deadline) {
        pid_t w = ::waitpid(-1, nullptr, WNOHANG);
        if (w < 0 && errno == ECHILD) {
          clean = true;
          break;
        }
        if (w == 0) ::usleep(1000);
      }
      if (!clean) {
        ++stuck;
        for (pid_t c : children_of_self()) ::kill(c, SIGKILL);
        while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
      }
    }
    if (stuck) std::fprintf(stderr, "%d of %d kills left a user namespace helper blocked\n", stuck, kTrials);
    return stuck == 0 ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

TEST_F(IdmapRoot, BindShowsHostIdsAndWritesLandUnmapped) {
  make_dir(path("rootfs"));
  make_dir(path("rootfs/etc"));
  write_file(path("rootfs/etc/passwd"), 0, 0);
  write_file(path("rootfs/user"), 1000, 1001);
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->kind, "bind");
  EXPECT_EQ(r->target, path("rootfs"));
  EXPECT_NE(r->mount_id, 0u);
  EXPECT_EQ(mount_count(), before_ + 1);
  EXPECT_EQ(owner(path("rootfs/etc/passwd")), kBase);
  EXPECT_EQ(owner(path("rootfs/user")), kBase + 1000);
  EXPECT_EQ(group(path("rootfs/user")), kBase + 1001);
  // Container root (host id kBase) writes through the idmapped mount.
  EXPECT_EQ(as_user(kBase, [&] { return create_file(path("rootfs/etc/new")); }), 0);
  EXPECT_EQ(owner(path("rootfs/etc/new")), kBase);
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  EXPECT_EQ(mount_count(), before_);
  EXPECT_EQ(owner(path("rootfs/etc/new")), 0u);  // on disk: unmapped
  EXPECT_EQ(group(path("rootfs/etc/new")), 0u);
  EXPECT_EQ(owner(path("rootfs/user")), 1000u);
}

TEST_F(IdmapRoot, UndoIsIdempotent) {
  make_dir(path("rootfs"));
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  EXPECT_EQ(mount_count(), before_);
  // And a record whose target is gone altogether.
  ASSERT_EQ(::rmdir(path("rootfs").c_str()), 0);
  EXPECT_TRUE(undo_idmapped_rootfs(*r));
}

TEST_F(IdmapRoot, UndoLeavesAForeignMountOnTop) {
  make_dir(path("rootfs"));
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(::mount("tmpfs", path("rootfs").c_str(), "tmpfs", 0, "size=1m"), 0);
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  auto mounts = read_mountinfo();
  ASSERT_TRUE(mounts);
  auto top = top_mount_at(*mounts, path("rootfs"));
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->fstype, "tmpfs");
  EXPECT_EQ(mount_count(), before_ + 2);  // ours is still under the tmpfs, untouched
}

TEST_F(IdmapRoot, BindWithSubmountsUndoesCompletely) {
  make_dir(path("rootfs"));
  make_dir(path("rootfs/sub"));
  ASSERT_EQ(::mount("tmpfs", path("rootfs/sub").c_str(), "tmpfs", 0, "size=1m"), 0);
  size_t with_sub = mount_count();
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(mount_count(), with_sub + 2);  // the clone and its submount
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  EXPECT_EQ(mount_count(), with_sub);
}

TEST_F(IdmapRoot, OverlayShowsHostIdsAndWritesLandUnmappedInUpper) {
  build_overlay();
  auto mounts = read_mountinfo();
  ASSERT_TRUE(mounts);
  auto original = top_mount_at(*mounts, path("rootfs"));
  ASSERT_TRUE(original.has_value());
  size_t with_overlay = mount_count();

  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->kind, "overlay");
  EXPECT_EQ(mount_count(), with_overlay + 1);  // scratch clones are detached again
  struct stat st {};
  EXPECT_EQ(::stat(path("scratch/0").c_str(), &st), -1);  // scratch emptied
  EXPECT_EQ(owner(path("rootfs/a")), kBase);
  EXPECT_EQ(owner(path("rootfs/b")), kBase);
  EXPECT_EQ(owner(path("rootfs/c")), kBase + 1000);
  EXPECT_EQ(owner(path("rootfs/shadowed")), kBase);  // l1 wins over l2
  EXPECT_EQ(as_user(kBase, [&] { return create_file(path("rootfs/new")); }), 0);
  // Copy-up of a lower file by the container.
  EXPECT_EQ(as_user(kBase, [&] {
              int fd = ::open(path("rootfs/b").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
              bool ok = fd >= 0 && ::write(fd, "y", 1) == 1;
              if (fd >= 0) ::close(fd);
              return ok;
            }),
            0);
  EXPECT_EQ(owner(path("rootfs/new")), kBase);
  EXPECT_EQ(owner(path("ov/upper/new")), 0u);
  EXPECT_EQ(group(path("ov/upper/new")), 0u);
  EXPECT_EQ(owner(path("ov/upper/b")), 0u);

  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  EXPECT_EQ(mount_count(), with_overlay);
  auto after = read_mountinfo();
  ASSERT_TRUE(after);
  auto top = top_mount_at(*after, path("rootfs"));
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->id, original->id);
  EXPECT_EQ(owner(path("rootfs/a")), 0u);
  EXPECT_EQ(owner(path("rootfs/new")), 0u);  // the engine's overlay sees the container's file
  ASSERT_EQ(::umount2(path("rootfs").c_str(), 0), 0);
  EXPECT_EQ(mount_count(), before_);
}

TEST_F(IdmapRoot, ReadOnlyOverlay) {
  for (const char* d : {"l1", "l2", "rootfs", "scratch"}) make_dir(path(d));
  write_file(path("l2/b"), 5, 5);
  ASSERT_EQ(::mount("overlay", path("rootfs").c_str(), "overlay", MS_RDONLY,
                    ("lowerdir=" + path("l1") + ":" + path("l2")).c_str()),
            0);
  size_t with_overlay = mount_count();
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(owner(path("rootfs/b")), kBase + 5);
  EXPECT_FALSE(create_file(path("rootfs/x")));
  EXPECT_EQ(errno, EROFS);
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
  EXPECT_EQ(mount_count(), with_overlay);
}

TEST_F(IdmapRoot, OverlayLayerPathsWithSpecialCharacters) {
  for (const char* d : {"l,1", "l:2", "o v", "o v/up,per", "o v/wo:rk", "rootfs", "scratch"}) make_dir(path(d));
  write_file(path("l:2/f"), 0, 0);
  mount_overlay("lowerdir=" + path("l\\,1") + ":" + path("l\\:2") + ",upperdir=" + path("o v/up\\,per") +
                ",workdir=" + path("o v/wo\\:rk"));
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(owner(path("rootfs/f")), kBase);
  EXPECT_EQ(as_user(kBase, [&] { return create_file(path("rootfs/g")); }), 0);
  EXPECT_EQ(owner(path("o v/up,per/g")), 0u);
  ASSERT_TRUE(undo_idmapped_rootfs(*r));
}

TEST_F(IdmapRoot, OverlayWithoutScratchDirFailsLeavingNothing) {
  build_overlay();
  size_t with_overlay = mount_count();
  IdmapOptions opts = options();
  opts.scratch_dir.clear();
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("scratch"), std::string::npos);
  EXPECT_EQ(mount_count(), with_overlay);
}

TEST_F(IdmapRoot, OverlayFailureMidwayUndoesScratchMountsAndRestoresCwd) {
  build_overlay();
  size_t with_overlay = mount_count();
  // A leftover in the scratch directory makes the second layer's mkdir fail.
  make_dir(path("scratch/1"));
  char cwd_before[4096];
  ASSERT_NE(::getcwd(cwd_before, sizeof(cwd_before)), nullptr);
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("scratch/1"), std::string::npos) << r.status().message();
  EXPECT_EQ(mount_count(), with_overlay);
  struct stat st {};
  EXPECT_EQ(::stat(path("scratch/0").c_str(), &st), -1);
  char cwd_after[4096];
  ASSERT_NE(::getcwd(cwd_after, sizeof(cwd_after)), nullptr);
  EXPECT_STREQ(cwd_before, cwd_after);
}

TEST_F(IdmapRoot, UnidmappableFilesystemIsAnErrorNamingIt) {
  make_dir(path("rootfs"));
  ASSERT_EQ(::mount("ramfs", path("rootfs").c_str(), "ramfs", 0, nullptr), 0);
  size_t with_ramfs = mount_count();
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("ramfs filesystem cannot be idmapped"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("fallback: chown"), std::string::npos);
  EXPECT_NE(r.status().message().find(path("rootfs")), std::string::npos);
  EXPECT_EQ(mount_count(), with_ramfs);
  struct stat st {};
  EXPECT_EQ(::stat(path("copy").c_str(), &st), -1);
}

TEST_F(IdmapRoot, ChownFallbackCopiesWithShiftedOwners) {
  make_dir(path("rootfs"));
  ASSERT_EQ(::mount("ramfs", path("rootfs").c_str(), "ramfs", 0, "mode=0755"), 0);
  size_t with_ramfs = mount_count();
  make_dir(path("rootfs/bin"));
  write_file(path("rootfs/bin/su"), 0, 0, 04755);
  write_file(path("rootfs/user"), 1000, 1000, 0640);
  write_file(path("rootfs/unmapped"), 70000, 70000);
  ASSERT_EQ(::symlink("/etc/shadow", path("rootfs/link").c_str()), 0);
  ASSERT_EQ(::mkfifo(path("rootfs/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mknod(path("rootfs/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::chmod(path("rootfs/null").c_str(), 0666), 0);
  ASSERT_EQ(::mkdir(path("rootfs/tmp").c_str(), 01777), 0);
  ASSERT_EQ(::chmod(path("rootfs/tmp").c_str(), 01777), 0);
  struct timespec times[2] = {{1000000, 0}, {1234567, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("rootfs/user").c_str(), times, 0), 0);

  IdmapOptions opts = options();
  opts.chown_fallback = true;
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, opts);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->kind, "copy");
  EXPECT_EQ(r->copy_dir, path("copy"));
  EXPECT_EQ(mount_count(), with_ramfs + 1);
  struct stat st {};
  ASSERT_EQ(::lstat(path("rootfs/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::lstat(path("rootfs/user").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase + 1000);
  EXPECT_EQ(st.st_gid, kBase + 1000);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567);
  EXPECT_EQ(owner(path("rootfs/unmapped")), 65534u);
  char link[64] = {};
  ASSERT_GT(::readlink(path("rootfs/link").c_str(), link, sizeof(link) - 1), 0);
  EXPECT_STREQ(link, "/etc/shadow");
  EXPECT_EQ(owner(path("rootfs/link")), kBase);
  ASSERT_EQ(::lstat(path("rootfs/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat(path("rootfs/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  ASSERT_EQ(::lstat(path("rootfs/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_EQ(owner(path("rootfs")), kBase);

  auto j = idmapped_rootfs_from_json(idmapped_rootfs_to_json(*r));
  ASSERT_TRUE(j);
  ASSERT_TRUE(undo_idmapped_rootfs(*j));
  EXPECT_EQ(mount_count(), with_ramfs);
  EXPECT_EQ(::lstat(path("copy").c_str(), &st), -1);
  EXPECT_EQ(owner(path("rootfs/user")), 1000u);  // the original is untouched
}

TEST_F(IdmapRoot, OverlayNeverFallsBack) {
  // An overlay whose layers sit on ramfs: its layers cannot be idmapped, and there is no copy.
  make_dir(path("ram"));
  ASSERT_EQ(::mount("ramfs", path("ram").c_str(), "ramfs", 0, "mode=0755"), 0);
  for (const char* d : {"ram/l", "ram/u", "ram/w", "rootfs", "scratch"}) make_dir(path(d));
  mount_overlay("lowerdir=" + path("ram/l") + ",upperdir=" + path("ram/u") + ",workdir=" + path("ram/w"));
  size_t with_overlay = mount_count();
  IdmapOptions opts = options();
  opts.chown_fallback = true;
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("ramfs"), std::string::npos) << r.status().message();
  EXPECT_EQ(mount_count(), with_overlay);
  struct stat st {};
  EXPECT_EQ(::lstat(path("copy").c_str(), &st), -1);
}

TEST_F(IdmapRoot, OverlayWithIndexOnIsRefusedClearly) {
  for (const char* d : {"l1", "ov", "ov/upper", "ov/work", "rootfs", "scratch"}) make_dir(path(d));
  mount_overlay("lowerdir=" + path("l1") + ",upperdir=" + path("ov/upper") + ",workdir=" + path("ov/work") +
                ",index=on");
  size_t with_overlay = mount_count();
  auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("index=on"), std::string::npos) << r.status().message();
  EXPECT_EQ(mount_count(), with_overlay);
}

// Kernels before 5.12 lack mount_setattr (and before 5.2 open_tree/move_mount): ENOSYS is the
// "cannot idmap" class with the kernel named, never a plain I/O error.
TEST_F(IdmapRoot, KernelWithoutTheMountApiIsTheCannotIdmapClass) {
  make_dir(path("rootfs"));
  size_t before = mount_count();
  const std::string release = uname_release();
  for (long nr : {long{SYS_open_tree}, long{SYS_mount_setattr}, long{SYS_move_mount}}) {
    int rc = in_child([&] {
      if (!fail_syscalls({{nr, ENOSYS}})) return 2;
      auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
      if (r) return 3;
      const std::string& msg = r.status().message();
      bool ok = contains(msg, path("rootfs")) &&
                contains(msg, "this kernel (" + release +
                                  ") does not support idmapped mounts (Linux 5.12+; overlay on idmapped layers 5.19+)");
      return ok && r.status().code() == Code::kUnavailable ? 0 : 1;
    });
    EXPECT_EQ(rc, 0) << "syscall " << nr;
  }
  EXPECT_EQ(mount_count(), before);
}

// On such a kernel the chown fallback still works for a plain directory, with a classic bind
// mount where open_tree/move_mount are missing too.
TEST_F(IdmapRoot, ChownFallbackWorksWithoutTheMountApi) {
  make_dir(path("rootfs"));
  write_file(path("rootfs/f"), 1000, 1000);
  size_t before = mount_count();
  std::vector<std::vector<std::pair<long, int>>> kernels = {
      {{SYS_mount_setattr, ENOSYS}},                                                    // 5.2 - 5.11
      {{SYS_open_tree, ENOSYS}, {SYS_mount_setattr, ENOSYS}, {SYS_move_mount, ENOSYS}},  // before 5.2
  };
  for (const auto& rules : kernels) {
    int rc = in_child([&] {
      if (!fail_syscalls(rules)) return 2;
      IdmapOptions opts = options();
      opts.chown_fallback = true;
      auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, opts);
      if (!r) {
        std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
        return 3;
      }
      if (r->kind != "copy" || owner(path("rootfs/f")) != kBase + 1000) return 4;
      return undo_idmapped_rootfs(*r) ? 0 : 5;
    });
    EXPECT_EQ(rc, 0) << rules.size() << " syscalls missing";
    EXPECT_EQ(mount_count(), before);
    EXPECT_FALSE(path_exists(path("copy")));
    EXPECT_EQ(owner(path("rootfs/f")), 1000u);
  }
}

// Before 5.19 overlayfs refuses idmapped layers with EINVAL (simulated: mount(2) fails with EINVAL;
// UNAME26 makes the kernel report an old release).
TEST_F(IdmapRoot, OverlayRefusingIdmappedLayersIsTheCannotIdmapClass) {
  build_overlay();
  size_t with_overlay = mount_count();
  const std::string release = uname_release();
  for (bool old_kernel : {true, false}) {
    int rc = in_child([&] {
      if (old_kernel && ::personality(static_cast<unsigned long>(PER_LINUX) | static_cast<unsigned long>(UNAME26)) < 0) return 2;
      if (!fail_syscalls({{SYS_mount, EINVAL}})) return 2;
      IdmapOptions opts = options();
      opts.chown_fallback = true;  // an overlay never falls back
      auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, opts);
      if (r) return 3;
      const std::string& msg = r.status().message();
      bool ok = contains(msg, path("rootfs")) &&
                (old_kernel ? contains(msg, "does not support idmapped mounts (Linux 5.12+; overlay on idmapped layers 5.19+)")
                            : contains(msg, "overlayfs on this kernel (" + release + ") refused the idmapped layers"));
      return ok && r.status().code() == Code::kUnavailable ? 0 : 1;
    });
    EXPECT_EQ(rc, 0) << (old_kernel ? "old kernel" : "this kernel");
    EXPECT_EQ(mount_count(), with_overlay);
    EXPECT_FALSE(path_exists(path("copy")));
    EXPECT_FALSE(path_exists(path("scratch/0")));
  }
}

// Data-only layers as ordinary lower layers would show their whole contents in the rootfs.
TEST_F(IdmapRoot, OverlayWithDataOnlyLayersIsRefused) {
  for (const char* d : {"l1", "data", "ov", "ov/upper", "ov/work", "rootfs", "scratch"}) make_dir(path(d));
  write_file(path("l1/a"), 0, 0);
  write_file(path("data/secret"), 0, 0);
  const std::string variants[] = {
      "lowerdir=" + path("l1") + "::" + path("data") + ",metacopy=on,redirect_dir=on",
      "lowerdir+=" + path("l1") + ",datadir+=" + path("data") + ",upperdir=" + path("ov/upper") +
          ",workdir=" + path("ov/work") + ",metacopy=on,redirect_dir=on",
  };
  for (const std::string& data : variants) {
    if (::mount("overlay", path("rootfs").c_str(), "overlay", 0, data.c_str()) != 0) {
      GTEST_SKIP() << "this kernel has no data-only overlay layers (" << std::strerror(errno) << ")";
    }
    size_t with_overlay = mount_count();
    auto r = idmap_rootfs(path("rootfs"), kMaps, kMaps, options());
    ASSERT_FALSE(r) << data;
    EXPECT_EQ(r.status().code(), Code::kUnavailable);
    EXPECT_NE(r.status().message().find("data-only lower layer"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(path("data")), std::string::npos) << r.status().message();
    EXPECT_EQ(mount_count(), with_overlay);
    EXPECT_FALSE(path_exists(path("rootfs/secret")));
    ASSERT_EQ(::umount2(path("rootfs").c_str(), 0), 0);
  }
}

// Cost of idmap_rootfs + undo; run with --gtest_also_run_disabled_tests.
TEST_F(IdmapRoot, DISABLED_Timing) {
  make_dir(path("plain"));
  write_file(path("plain/f"), 0, 0);
  build_overlay();
  for (const char* which : {"plain", "rootfs"}) {
    constexpr int kRounds = 200;
    std::chrono::nanoseconds in{0}, out{0};
    for (int i = 0; i < kRounds; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = idmap_rootfs(path(which), kMaps, kMaps, options());
      auto t1 = std::chrono::steady_clock::now();
      ASSERT_TRUE(r) << r.status().to_string();
      ASSERT_TRUE(undo_idmapped_rootfs(*r));
      out += std::chrono::steady_clock::now() - t1;
      in += t1 - t0;
    }
    auto us = [&](std::chrono::nanoseconds d) { return std::chrono::duration<double, std::micro>(d).count() / kRounds; };
    std::printf("%s: idmap_rootfs %.0f us, undo %.0f us (mean of %d)\n", which, us(in), us(out), kRounds);
  }
}

}  // namespace
}  // namespace runguard::nsutil
