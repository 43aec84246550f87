#include "runguard/nsutil/idmap.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/mountinfo.h"

namespace runguard::nsutil {
namespace {

// The kernel's limit on lines in uid_map/gid_map (since linux 4.15).
constexpr size_t kMaxMapLines = 340;
// STATX_MNT_ID_UNIQUE (linux 6.8): a 64-bit mount id that is never reused, unlike STATX_MNT_ID.
constexpr unsigned kStatxMntIdUnique = 0x4000U;
// Overlay's mount data must fit in one page including the NUL.
constexpr size_t kMaxMountData = 4095;

int sys_open_tree(int dfd, const char* path, unsigned flags) {
  return static_cast<int>(::syscall(SYS_open_tree, dfd, path, flags));
}
int sys_mount_setattr(int dfd, const char* path, unsigned flags, struct mount_attr* attr) {
  return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr)));
}
int sys_move_mount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
  return static_cast<int>(::syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}

// ---- user namespaces --------------------------------------------------------------------------

Status validate_maps(const std::vector<IdMap>& maps, const char* which) {
  const std::string name = which;
  if (maps.empty()) return invalid(name + " map is empty; give at least one \"container host size\" range");
  if (maps.size() > kMaxMapLines) {
    return invalid(name + " map has " + std::to_string(maps.size()) + " ranges; the kernel allows at most 340");
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    const IdMap& m = maps[i];
    const std::string where = name + " map range " + std::to_string(i) + " (" + std::to_string(m.container_id) +
                              " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + ")";
    if (m.size == 0) return invalid(where + ": size is 0; give a positive size");
    if (uint64_t{m.container_id} + m.size > UINT32_MAX || uint64_t{m.host_id} + m.size > UINT32_MAX) {
      return invalid(where + ": the range runs past id 4294967294; shrink it");
    }
    for (size_t j = 0; j < i; ++j) {
      const IdMap& o = maps[j];
      bool c = m.container_id < uint64_t{o.container_id} + o.size && o.container_id < uint64_t{m.container_id} + m.size;
      bool h = m.host_id < uint64_t{o.host_id} + o.size && o.host_id < uint64_t{m.host_id} + m.size;
      if (c || h) return invalid(where + ": overlaps range " + std::to_string(j) + "; ranges must be disjoint");
    }
  }
  return Status::ok();
}

std::string map_text(const std::vector<IdMap>& maps) {
  std::string out;
  for (const IdMap& m : maps) {
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  }
  return out;
}

Status write_proc_file(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open " + path, errno);
  ssize_t n = ::write(fd.get(), content.data(), content.size());
  if (n < 0) return io_error("write " + path, errno);
  if (static_cast<size_t>(n) != content.size()) return io_error("write " + path + " (short write)", EIO);
  return Status::ok();
}

// The helper that holds a fresh user namespace until we have an fd for it. Destruction lets it
// exit and reaps it, on every path.
class NsHelper {
 public:
  NsHelper() = default;
  NsHelper(const NsHelper&) = delete;
  NsHelper& operator=(const NsHelper&) = delete;
  ~NsHelper() {
    if (stack_ != nullptr && pid_ <= 0) ::munmap(stack_, kStackSize);
    if (pid_ <= 0) return;
    char c = 0;
    if (go_.valid()) (void)!::write(go_.get(), &c, 1);
    go_.reset();
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    ::munmap(stack_, kStackSize);  // only once the child, which ran on it, is gone
  }

  // Starts the helper, born in a new user namespace. It shares our memory (CLONE_VM: no page
  // tables are copied, which cost a fork of the runtime ~1-3 ms on a loaded node) and runs on its
  // own small stack, blocked on a pipe until the destructor lets it exit, or until we die: the
  // child gets a copy of our fd table (no CLONE_FILES) and closes its copy of the write end first,
  // so ours is the only one and our death (SIGKILL between clone and the destructor) is EOF to it.
  // Returns the errno of clone (0 on success).
  Result<int> start() {
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0) return io_error("pipe2", errno);
    UniqueFd go_r(go[0]), go_w(go[1]);
    void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return io_error("mmap (user namespace helper stack)", errno);
    stack_ = stack;
    read_fd_ = go_r.get();
    write_fd_ = go_w.get();
    pid_t pid = ::clone(&NsHelper::run_child, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_NEWUSER | SIGCHLD, this);
    if (pid < 0) return errno;
    pid_ = pid;
    go_ = std::move(go_w);
    return 0;
  }
  pid_t pid() const { return pid_; }

 private:
  static constexpr size_t kStackSize = 64 * 1024;

  // Runs in the child, on the shared address space and the parent's thread-local storage: raw
  // system calls only, no allocation, no errno-dependent loop. Woken early (a signal), it exits and
  // the parent's write of uid_map fails cleanly; it never loops.
  static int run_child(void* arg) {
    const NsHelper* self = static_cast<const NsHelper*>(arg);
    (void)::syscall(SYS_close, self->write_fd_);  // our copy only: the parent's stays open
    char c;
    (void)::syscall(SYS_read, self->read_fd_, &c, 1);
    return 0;
  }

  void* stack_ = nullptr;
  int read_fd_ = -1;
  int write_fd_ = -1;  // the number the child closes in its copy of the fd table
  pid_t pid_ = -1;
  UniqueFd go_;
};

// ---- mount plumbing ---------------------------------------------------------------------------

struct MountId {
  uint64_t id = 0;
  bool unique = false;
};

// The id of the mount on top of `path`. `want_unique` asks for the never-reused id (linux 6.8);
// the result says which kind the kernel gave.
Result<MountId> mount_id_at(const std::string& path, bool want_unique) {
  struct statx stx {};
  unsigned mask = want_unique ? (kStatxMntIdUnique | STATX_MNT_ID) : STATX_MNT_ID;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, mask, &stx) != 0) {
    return io_error("statx " + path, errno);
  }
  if (want_unique && (stx.stx_mask & kStatxMntIdUnique)) return MountId{stx.stx_mnt_id, true};
  if (!(stx.stx_mask & STATX_MNT_ID)) {
    return Status(Code::kUnavailable, "statx " + path + ": no mount id from the kernel (needs linux 5.8 or later)");
  }
  // Asked for unique but got the old id: re-ask without it so the value is the plain id.
  if (want_unique) return mount_id_at(path, false);
  return MountId{stx.stx_mnt_id, false};
}

// A mount we attached at `path`, detached again unless released.
class MountGuard {
 public:
  explicit MountGuard(std::string path) : path_(std::move(path)) {}
  MountGuard(MountGuard&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() {
    if (!path_.empty()) (void)::umount2(path_.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

// A directory we created, removed again (if empty) on destruction.
class DirGuard {
 public:
  explicit DirGuard(std::string path) : path_(std::move(path)) {}
  DirGuard(DirGuard&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
  DirGuard(const DirGuard&) = delete;
  DirGuard& operator=(const DirGuard&) = delete;
  ~DirGuard() {
    if (!path_.empty()) (void)::rmdir(path_.c_str());
  }

 private:
  std::string path_;
};

std::string fstype_of(const std::string& path) {
  auto m = mount_of(path);
  return m ? m->fstype : std::string("unknown");
}

Status cannot_idmap(const std::string& rootfs, const std::string& layer, int err) {
  std::string what = rootfs == layer ? "rootfs " + rootfs : "rootfs " + rootfs + ": layer " + layer;
  return Status(Code::kUnavailable,
                what + ": the " + fstype_of(layer) + " filesystem cannot be idmapped on this kernel (" +
                    std::strerror(err) +
                    "); use a filesystem that supports idmapped mounts (ext4, xfs, btrfs, tmpfs >= 6.3, "
                    "overlay layers on those) or set userNamespace.fallback: chown",
                err);
}

std::string kernel_release() {
  struct utsname u {};
  if (::uname(&u) != 0) return "unknown";
  return u.release;
}

// Whether the running kernel's release is below major.minor; an unparsable release is not.
bool kernel_older_than(int major, int minor) {
  int ma = 0, mi = 0;
  if (std::sscanf(kernel_release().c_str(), "%d.%d", &ma, &mi) != 2) return false;
  return ma < major || (ma == major && mi < minor);
}

// The kernel lacks a call (ENOSYS: open_tree, move_mount before 5.2, mount_setattr before 5.12)
// or overlay refuses idmapped layers (before 5.19). The same class as cannot_idmap (kUnavailable),
// so a plain directory may still fall back to a chowned copy.
Status kernel_lacks_idmap(const std::string& rootfs, const std::string& what, int err) {
  return Status(Code::kUnavailable,
                "rootfs " + rootfs + ": " + what + ": this kernel (" + kernel_release() +
                    ") does not support idmapped mounts (Linux 5.12+; overlay on idmapped layers 5.19+); "
                    "upgrade the kernel, or for a plain directory rootfs set userNamespace.fallback: chown",
                err);
}

// A detached, idmapped clone of the mount tree at `path` (recursive: with its submounts).
Result<UniqueFd> idmapped_clone(const std::string& rootfs, const std::string& path, int userns_fd, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  UniqueFd tree(sys_open_tree(AT_FDCWD, path.c_str(), flags));
  if (!tree.valid()) {
    int err = errno;
    if (err == ENOSYS) return kernel_lacks_idmap(rootfs, "cloning " + path + " (open_tree)", err);
    return io_error("open_tree " + path, err);
  }
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (sys_mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr) != 0) {
    int err = errno;
    if (err == ENOSYS) return kernel_lacks_idmap(rootfs, "idmapping a clone of " + path + " (mount_setattr)", err);
    if (err == EINVAL || err == EOPNOTSUPP) return cannot_idmap(rootfs, path, err);
    return io_error("rootfs " + rootfs + ": idmapping a clone of " + path + " (mount_setattr)", err);
  }
  return tree;
}

Result<MountGuard> attach(const std::string& rootfs, UniqueFd& tree, const std::string& where) {
  if (sys_move_mount(tree.get(), "", AT_FDCWD, where.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    int err = errno;
    if (err == ENOSYS) return kernel_lacks_idmap(rootfs, "mounting onto " + where + " (move_mount)", err);
    return io_error("move_mount onto " + where, err);
  }
  return MountGuard(where);
}

// Records the mount now on top of `target` as ours. The id is the unique one when the kernel has
// it; undo asks the same kernel the same way, so both sides always compare the same kind of id
// (mounts do not survive the reboot that could change the kernel).
Result<IdmappedRootfs> record(const std::string& target, const std::string& kind, MountGuard& guard) {
  RG_ASSIGN_OR_RETURN(MountId id, mount_id_at(target, true));
  guard.release();
  IdmappedRootfs r;
  r.target = target;
  r.kind = kind;
  r.mount_id = id.id;
  return r;
}

Result<IdmappedRootfs> idmap_bind(const std::string& rootfs, const std::string& dest, int userns_fd) {
  RG_ASSIGN_OR_RETURN(UniqueFd tree, idmapped_clone(rootfs, rootfs, userns_fd, true));
  RG_ASSIGN_OR_RETURN(MountGuard guard, attach(rootfs, tree, dest));
  return record(dest, "bind", guard);
}

// ---- overlay ----------------------------------------------------------------------------------

// Backslash-escapes what overlayfs's option parser treats specially in a path.
std::string overlay_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ',' || c == ':') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::vector<std::string> path_parts(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    if (end > pos) parts.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return parts;
}

// The deepest directory above both `a` and `b`, and each one's path relative to it.
struct CommonParent {
  std::string parent;
  std::string rel_a;
  std::string rel_b;
};
CommonParent common_parent(const std::string& a, const std::string& b) {
  std::vector<std::string> pa = path_parts(a), pb = path_parts(b);
  size_t n = 0;
  size_t limit = std::min(pa.size(), pb.size());
  if (limit > 0) --limit;  // the parent must be strictly above both
  while (n < limit && pa[n] == pb[n]) ++n;
  CommonParent c;
  for (size_t i = 0; i < n; ++i) c.parent += "/" + pa[i];
  if (c.parent.empty()) c.parent = "/";
  for (size_t i = n; i < pa.size(); ++i) c.rel_a += (i > n ? "/" : "") + pa[i];
  for (size_t i = n; i < pb.size(); ++i) c.rel_b += (i > n ? "/" : "") + pb[i];
  return c;
}

// Per-mount flags of the engine's overlay, carried over to ours.
unsigned long mount_flags(const std::string& per_mount_options) {
  unsigned long flags = 0;
  size_t pos = 0;
  while (pos <= per_mount_options.size()) {
    size_t end = per_mount_options.find(',', pos);
    if (end == std::string::npos) end = per_mount_options.size();
    std::string o = per_mount_options.substr(pos, end - pos);
    pos = end + 1;
    if (o == "ro") flags |= MS_RDONLY;
    if (o == "nosuid") flags |= MS_NOSUID;
    if (o == "nodev") flags |= MS_NODEV;
    if (o == "noexec") flags |= MS_NOEXEC;
    if (o == "noatime") flags |= MS_NOATIME;
    if (o == "nodiratime") flags |= MS_NODIRATIME;
    if (o == "strictatime") flags |= MS_STRICTATIME;
  }
  return flags;
}

// The idmapped clones of an overlay's layers, attached under the scratch directory. Members are
// destroyed in reverse: scratch mounts detached, their directories removed, then the scratch
// directory itself if we created it.
struct ScratchLayers {
  std::optional<DirGuard> root;
  std::vector<DirGuard> dirs;
  std::vector<MountGuard> mounts;
  std::string data;  // overlay mount data, with paths relative to the scratch directory
};

Status attach_clone(const std::string& rootfs, const std::string& layer, const std::string& at, int userns_fd,
                    ScratchLayers& s) {
  if (::mkdir(at.c_str(), 0700) != 0) {
    return io_error("mkdir " + at + " (remove leftovers of an earlier run from the scratch directory)", errno);
  }
  s.dirs.emplace_back(at);
  RG_ASSIGN_OR_RETURN(UniqueFd tree, idmapped_clone(rootfs, layer, userns_fd, false));
  RG_ASSIGN_OR_RETURN(MountGuard guard, attach(rootfs, tree, at));
  s.mounts.push_back(std::move(guard));
  return Status::ok();
}

Result<ScratchLayers> mount_layers(const std::string& rootfs, const OverlayLayers& layers,
                                   const std::string& scratch, int userns_fd) {
  ScratchLayers s;
  if (!path_exists(scratch)) {
    RG_RETURN_IF_ERROR(make_dirs(scratch, 0700));
    s.root.emplace(scratch);
  }
  std::string lower;
  for (size_t i = 0; i < layers.lower.size(); ++i) {
    RG_RETURN_IF_ERROR(attach_clone(rootfs, layers.lower[i], scratch + "/" + std::to_string(i), userns_fd, s));
    lower += (i ? ":" : "") + std::to_string(i);
  }
  s.data = "lowerdir=" + lower;
  if (!layers.upper.empty()) {
    // overlayfs wants upperdir and workdir on one mount: clone their common parent once.
    CommonParent c = common_parent(layers.upper, layers.work);
    RG_RETURN_IF_ERROR(attach_clone(rootfs, c.parent, scratch + "/u", userns_fd, s));
    s.data += ",upperdir=u/" + overlay_escape(c.rel_a) + ",workdir=u/" + overlay_escape(c.rel_b);
  }
  for (const std::string& o : layers.other_options) {
    if (o == "rw" || o == "ro") continue;  // superblock flags, not overlay options
    s.data += "," + overlay_escape(o);
  }
  return s;
}

// Whose credentials the new overlay keeps for its own work in the layers (copy-up, whiteouts,
// the workdir): a host id inside the mapping, so that work goes through the idmapped layers to
// on-disk ids. Host root would have no mapping there and every write would fail with EOVERFLOW.
struct Creator {
  uint32_t uid = 0;
  uint32_t gid = 0;
};
uint32_t creator_id(const std::vector<IdMap>& maps) { return map_to_host(maps, 0).value_or(maps.front().host_id); }

// In the calling thread: fsuid/fsgid to the creator's, then the filesystem capabilities that
// change dropped are raised again (the overlay needs them for copy-up: chown, setuid bits).
// Async-signal-safe (raw syscalls only).
int become_creator(Creator c) {
  ::syscall(SYS_setfsgid, c.gid);
  ::syscall(SYS_setfsuid, c.uid);
  if (static_cast<uint32_t>(::syscall(SYS_setfsuid, -1)) != c.uid) return EPERM;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return errno;
  for (auto& d : data) d.effective = d.permitted;
  if (::syscall(SYS_capset, &hdr, data) != 0) return errno;
  return 0;
}

// Mounts overlay at `rootfs` from a child process that works in `scratch` (so the relative layer
// names resolve there) with the creator's credentials; the caller's cwd and ids never change.
// The child shares our mount namespace, so the mount is ours.
Status mount_overlay_as(const std::string& scratch, const std::string& rootfs, unsigned long flags,
                        const std::string& data, Creator creator) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return io_error("pipe2", errno);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return io_error("fork (overlay mount helper)", errno);
  if (pid == 0) {
    int err = 0;
    if (::chdir(scratch.c_str()) != 0) err = errno;
    if (err == 0) err = become_creator(creator);
    if (err == 0 && ::mount("overlay", rootfs.c_str(), "overlay", flags, data.c_str()) != 0) err = errno;
    (void)!::write(wr.get(), &err, sizeof(err));
    ::_exit(0);
  }
  wr.reset();
  int err = 0;
  ssize_t n;
  do {
    n = ::read(rd.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof(err))) return io_error("overlay mount helper died", EPIPE);
  if (err == EBUSY) {
    return Status(Code::kUnavailable,
                  "rootfs " + rootfs + ": overlayfs refused a second mount on the same upperdir (the engine's overlay "
                  "has index=on, which forbids it); mount the engine's overlays with index=off to idmap them",
                  err);
  }
  if (err == EINVAL) {
    // Before 5.19 overlayfs refuses idmapped layers with EINVAL; on a newer kernel it refused
    // these particular layers. Either way this overlay cannot be idmapped here.
    if (kernel_older_than(5, 19)) return kernel_lacks_idmap(rootfs, "mounting overlayfs on the idmapped layers", err);
    return Status(Code::kUnavailable,
                  "rootfs " + rootfs + ": overlayfs on this kernel (" + kernel_release() +
                      ") refused the idmapped layers (options \"" + data + "\", in " + scratch +
                      "); the overlay's layers cannot be idmapped here",
                  err);
  }
  if (err != 0) {
    return io_error("rootfs " + rootfs + ": mounting the idmapped overlay (options \"" + data + "\", in " + scratch + ")",
                    err);
  }
  return Status::ok();
}

Status check_layer_paths(const std::string& rootfs, const OverlayLayers& layers) {
  auto relative = [](const std::string& p) { return !p.empty() && p[0] != '/'; };
  bool bad = relative(layers.upper) || relative(layers.work);
  for (const std::string& l : layers.lower) bad = bad || relative(l);
  if (bad) {
    return invalid("rootfs " + rootfs +
                   ": the overlay was mounted with relative layer paths, which cannot be resolved again; "
                   "mount it with absolute lowerdir/upperdir/workdir");
  }
  return Status::ok();
}

// Data-only layers hold file data reached only through metacopy redirects of the layers above
// (composefs-style images). Rebuilding the overlay would have to pass them as data-only layers
// again; as ordinary lower layers their whole contents would appear in the container's rootfs.
Status check_no_data_only_layers(const std::string& rootfs, const OverlayLayers& layers) {
  if (layers.data_only.empty()) return Status::ok();
  return Status(Code::kUnavailable,
                "rootfs " + rootfs + ": the overlay has " + std::to_string(layers.data_only.size()) +
                    " data-only lower layer(s) (\"::\" in lowerdir or datadir+=, first " + layers.data_only.front() +
                    "), which runguard cannot idmap without exposing their contents as ordinary layers; "
                    "mount the image without data-only layers, or run the container without a user namespace");
}

Result<IdmappedRootfs> idmap_overlay(const std::string& rootfs, const std::string& dest, const MountInfo& top,
                                     int userns_fd, const std::string& scratch, Creator creator) {
  auto parsed = overlay_layers(top.super_options);
  if (!parsed) return std::move(parsed).take_status().with_context("rootfs " + rootfs);
  RG_RETURN_IF_ERROR(check_layer_paths(rootfs, *parsed));
  RG_RETURN_IF_ERROR(check_no_data_only_layers(rootfs, *parsed));
  if (scratch.empty() || scratch[0] != '/') {
    return invalid("rootfs " + rootfs + ": an overlay rootfs needs an absolute scratch directory (got \"" + scratch + "\")");
  }
  RG_ASSIGN_OR_RETURN(ScratchLayers s, mount_layers(rootfs, *parsed, scratch, userns_fd));
  if (s.data.size() > kMaxMountData) {
    return invalid("rootfs " + rootfs + ": overlay options are " + std::to_string(s.data.size()) +
                   " bytes, over the kernel's 4095; the image has too many layers to idmap");
  }
  RG_RETURN_IF_ERROR(mount_overlay_as(scratch, dest, mount_flags(top.options), s.data, creator));
  MountGuard overlay(dest);
  return record(dest, "overlay", overlay);
}

// ---- chown fallback ---------------------------------------------------------------------------

// The id files get when their container id has no mapping (the kernel's overflow id).
constexpr uint32_t kOverflowId = 65534;
// Deeper trees than this are not images; refuse instead of exhausting the stack.
constexpr int kMaxCopyDepth = 512;

struct CopyCtx {
  const std::vector<IdMap>& uids;
  const std::vector<IdMap>& gids;
};

Status copy_entry(int src_dir, int dst_dir, const char* name, const std::string& path, const CopyCtx& ctx,
                  int depth);

// Owner (shifted), then mode (chown clears setuid/setgid), then times, on an entry already created.
Status apply_meta(int dst_dir, const char* name, const struct stat& st, const std::string& path, const CopyCtx& ctx) {
  uid_t uid = map_to_host(ctx.uids, st.st_uid).value_or(kOverflowId);
  gid_t gid = map_to_host(ctx.gids, st.st_gid).value_or(kOverflowId);
  if (::fchownat(dst_dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return io_error("chown copy of " + path, errno);
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0) {
    return io_error("chmod copy of " + path, errno);
  }
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return io_error("set times on copy of " + path, errno);
  return Status::ok();
}

Status copy_file_data(int src_dir, int dst_dir, const char* name, const std::string& path) {
  // The entry was a regular file at the fstatat, but a process writing the same directory
  // (another container of this rootfs) may have swapped something else in since. An O_PATH handle
  // opens nothing: a FIFO's open would block, a device's would run its driver's open. Only a
  // regular file is then opened for reading, through the handle (same inode, no second lookup),
  // with O_NONBLOCK so a lease on it cannot hold the create.
  UniqueFd handle(::openat(src_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!handle.valid()) return io_error("open " + path, errno);
  struct stat opened {};
  if (::fstat(handle.get(), &opened) != 0) return io_error("stat " + path, errno);
  if (!S_ISREG(opened.st_mode)) return invalid(path + " stopped being a regular file while the rootfs was copied");
  std::string proc = "/proc/self/fd/" + std::to_string(handle.get());
  UniqueFd in(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!in.valid()) return io_error("open " + path, errno);
  UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return io_error("create copy of " + path, errno);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read " + path, errno);
    if (n == 0) return Status::ok();
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return io_error("write copy of " + path, errno);
      off += w;
    }
  }
}

Status copy_dir_contents(int src, int dst, const std::string& path, const CopyCtx& ctx, int depth) {
  if (depth > kMaxCopyDepth) return invalid(path + ": directories nest deeper than 512; not an image rootfs");
  int dup = ::fcntl(src, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return io_error("dup " + path, errno);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int err = errno;
    ::close(dup);
    return io_error("opendir " + path, err);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> dir(d, ::closedir);
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    RG_RETURN_IF_ERROR(copy_entry(src, dst, e->d_name, path + "/" + e->d_name, ctx, depth + 1));
  }
  return Status::ok();
}

Status copy_dir(int src_dir, int dst_dir, const char* name, const std::string& path, const CopyCtx& ctx, int depth) {
  if (::mkdirat(dst_dir, name, 0700) != 0) return io_error("mkdir copy of " + path, errno);
  UniqueFd src(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!src.valid()) return io_error("open " + path, errno);
  UniqueFd dst(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dst.valid()) return io_error("open copy of " + path, errno);
  return copy_dir_contents(src.get(), dst.get(), path, ctx, depth);
}

// Copies one entry of any type without following symlinks. Hard links become separate files.
Status copy_entry(int src_dir, int dst_dir, const char* name, const std::string& path, const CopyCtx& ctx,
                  int depth) {
  struct stat st {};
  if (::fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return io_error("stat " + path, errno);
  if (S_ISDIR(st.st_mode)) {
    RG_RETURN_IF_ERROR(copy_dir(src_dir, dst_dir, name, path, ctx, depth));
  } else if (S_ISREG(st.st_mode)) {
    RG_RETURN_IF_ERROR(copy_file_data(src_dir, dst_dir, name, path));
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
    ssize_t n = ::readlinkat(src_dir, name, target.data(), target.size());
    if (n < 0) return io_error("readlink " + path, errno);
    target.resize(static_cast<size_t>(n));
    if (::symlinkat(target.c_str(), dst_dir, name) != 0) return io_error("symlink copy of " + path, errno);
  } else {  // fifo, socket, character or block device
    if (::mknodat(dst_dir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
      return io_error("mknod copy of " + path, errno);
    }
  }
  return apply_meta(dst_dir, name, st, path, ctx);
}

// Copies the tree at `from` to the new directory `to` with every owner shifted through the maps.
Status copy_tree_shifted(const std::string& from, const std::string& to, const std::vector<IdMap>& uids,
                         const std::vector<IdMap>& gids) {
  std::string parent = to.substr(0, to.find_last_of('/'));
  if (parent.empty()) parent = "/";
  std::string leaf = to.substr(to.find_last_of('/') + 1);
  RG_RETURN_IF_ERROR(make_dirs(parent, 0700));
  UniqueFd dst_parent(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dst_parent.valid()) return io_error("open " + parent, errno);
  // The rootfs itself may be a symlink's resolved target; `from` is already a real path.
  CopyCtx ctx{uids, gids};
  std::string src_parent = from.substr(0, from.find_last_of('/'));
  if (src_parent.empty()) src_parent = "/";
  std::string src_leaf = from.substr(from.find_last_of('/') + 1);
  UniqueFd src_parent_fd(::open(src_parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src_parent_fd.valid()) return io_error("open " + src_parent, errno);
  struct stat st {};
  if (::fstatat(src_parent_fd.get(), src_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return io_error("stat " + from, errno);
  if (!S_ISDIR(st.st_mode)) return invalid(from + " is not a directory");
  UniqueFd src(::openat(src_parent_fd.get(), src_leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!src.valid()) return io_error("open " + from, errno);
  if (::mkdirat(dst_parent.get(), leaf.c_str(), 0700) != 0) return io_error("mkdir " + to, errno);
  UniqueFd dst(::openat(dst_parent.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dst.valid()) return io_error("open " + to, errno);
  RG_RETURN_IF_ERROR(copy_dir_contents(src.get(), dst.get(), from, ctx, 0));
  return apply_meta(dst_parent.get(), leaf.c_str(), st, from, ctx);
}

// A copy being made, removed unless released.
class CopyGuard {
 public:
  explicit CopyGuard(std::string path) : path_(std::move(path)) {}
  CopyGuard(const CopyGuard&) = delete;
  CopyGuard& operator=(const CopyGuard&) = delete;
  ~CopyGuard() {
    if (!path_.empty()) (void)remove_tree(path_);
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

// Binds the copy over `dest`. The fallback exists for kernels without idmapped mounts, so where
// the new mount API is missing too (ENOSYS) it uses a classic bind mount.
Result<MountGuard> bind_copy(const std::string& copy_dir, const std::string& dest) {
  UniqueFd tree(sys_open_tree(AT_FDCWD, copy_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree.valid()) {
    if (sys_move_mount(tree.get(), "", AT_FDCWD, dest.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0) return MountGuard(dest);
    if (errno != ENOSYS) return io_error("move_mount onto " + dest, errno);
  } else if (errno != ENOSYS) {
    return io_error("open_tree " + copy_dir, errno);
  }
  if (::mount(copy_dir.c_str(), dest.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return io_error("bind mount " + copy_dir + " onto " + dest, errno);
  }
  return MountGuard(dest);
}

Result<IdmappedRootfs> idmap_copy(const std::string& rootfs, const std::string& dest, const std::vector<IdMap>& uids,
                                  const std::vector<IdMap>& gids, const std::string& copy_dir) {
  if (copy_dir.empty() || copy_dir[0] != '/') {
    return invalid("rootfs " + rootfs + ": the chown fallback needs an absolute copy directory (got \"" + copy_dir + "\")");
  }
  struct stat st {};
  if (::lstat(copy_dir.c_str(), &st) == 0) {
    return invalid("rootfs " + rootfs + ": copy directory " + copy_dir + " already exists; remove it or pick another");
  }
  CopyGuard copy(copy_dir);
  RG_RETURN_IF_ERROR(copy_tree_shifted(rootfs, copy_dir, uids, gids).with_context("rootfs " + rootfs + ": chown fallback"));
  RG_ASSIGN_OR_RETURN(MountGuard guard, bind_copy(copy_dir, dest));
  RG_ASSIGN_OR_RETURN(IdmappedRootfs r, record(dest, "copy", guard));
  r.copy_dir = copy_dir;
  copy.release();
  return r;
}

}  // namespace

Result<UniqueFd> open_userns(const std::vector<IdMap>& uids, const std::vector<IdMap>& gids) {
  RG_RETURN_IF_ERROR(validate_maps(uids, "uid"));
  RG_RETURN_IF_ERROR(validate_maps(gids, "gid"));
  NsHelper helper;
  RG_ASSIGN_OR_RETURN(int child_errno, helper.start());
  if (child_errno != 0) return io_error("clone(CLONE_NEWUSER) for the user namespace helper", child_errno);
  const std::string proc = "/proc/" + std::to_string(helper.pid());
  RG_RETURN_IF_ERROR(write_proc_file(proc + "/uid_map", map_text(uids)));
  RG_RETURN_IF_ERROR(write_proc_file(proc + "/gid_map", map_text(gids)));
  UniqueFd ns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return io_error("open " + proc + "/ns/user", errno);
  return ns;
}

Json idmapped_rootfs_to_json(const IdmappedRootfs& r) {
  Json j = {{"target", r.target}, {"kind", r.kind}, {"mountId", r.mount_id}};
  if (!r.copy_dir.empty()) j["copyDir"] = r.copy_dir;
  return j;
}

Result<IdmappedRootfs> idmapped_rootfs_from_json(const Json& j) {
  if (!j.is_object()) return invalid(std::string("idmapped rootfs record: expected an object, got ") + json_type_name(j));
  IdmappedRootfs r;
  if (!j.contains("target") || !j["target"].is_string() || j["target"].get<std::string>().empty()) {
    return invalid("idmapped rootfs record: \"target\" must be a non-empty string");
  }
  r.target = j["target"].get<std::string>();
  if (!j.contains("kind") || !j["kind"].is_string()) return invalid("idmapped rootfs record: \"kind\" must be a string");
  r.kind = j["kind"].get<std::string>();
  if (r.kind != "bind" && r.kind != "overlay" && r.kind != "copy") {
    return invalid("idmapped rootfs record: unknown kind \"" + r.kind + "\" (expected bind, overlay or copy)");
  }
  if (!j.contains("mountId") || !j["mountId"].is_number_unsigned()) {
    return invalid("idmapped rootfs record: \"mountId\" must be a non-negative integer");
  }
  r.mount_id = j["mountId"].get<uint64_t>();
  if (j.contains("copyDir")) {
    if (!j["copyDir"].is_string()) return invalid("idmapped rootfs record: \"copyDir\" must be a string");
    r.copy_dir = j["copyDir"].get<std::string>();
  }
  if (r.kind == "copy" && r.copy_dir.empty()) return invalid("idmapped rootfs record: kind copy needs \"copyDir\"");
  return r;
}

Result<IdmappedRootfs> idmap_rootfs(const std::string& rootfs, const std::vector<IdMap>& uids,
                                    const std::vector<IdMap>& gids, const IdmapOptions& opts) {
  if (rootfs.empty() || rootfs[0] != '/') return invalid("rootfs \"" + rootfs + "\" must be an absolute path");
  RG_ASSIGN_OR_RETURN(std::string target, real_path(rootfs));
  std::string dest = target;
  if (!opts.mount_at.empty()) { RG_ASSIGN_OR_RETURN(dest, real_path(opts.mount_at)); }
  RG_ASSIGN_OR_RETURN(UniqueFd userns, open_userns(uids, gids));
  RG_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, read_mountinfo());
  std::optional<MountInfo> top = top_mount_at(mounts, target);
  if (top && top->fstype == "overlay") {
    Creator creator{creator_id(uids), creator_id(gids)};
    return idmap_overlay(target, dest, *top, userns.get(), opts.scratch_dir, creator);
  }
  auto bound = idmap_bind(target, dest, userns.get());
  if (bound || !opts.chown_fallback || bound.status().code() != Code::kUnavailable) return bound;
  return idmap_copy(target, dest, uids, gids, opts.copy_dir);
}

Status undo_idmapped_rootfs(const IdmappedRootfs& r) {
  auto now = mount_id_at(r.target, true);
  if (!now && now.status().error_number() != ENOENT) return now.status();
  if (now && now->id == r.mount_id) {
    if (::umount2(r.target.c_str(), UMOUNT_NOFOLLOW) != 0) {
      int err = errno;
      // Submounts (a recursive bind) or an open file keep it busy: detach it lazily instead.
      if (err != EBUSY || ::umount2(r.target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
        return io_error("unmount idmapped rootfs " + r.target, err == EBUSY ? errno : err);
      }
    }
  }
  if (r.kind == "copy" && !r.copy_dir.empty()) {
    RG_RETURN_IF_ERROR(remove_tree(r.copy_dir).with_context("remove rootfs copy of " + r.target));
  }
  return Status::ok();
}

}  // namespace runguard::nsutil
