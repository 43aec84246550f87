// Seccomp user notification end to end, without containers: a forked child sets no_new_privs,
// installs a filter with SECCOMP_RET_USER_NOTIF and a new listener, hands the listener fd to the
// parent the way runc does (a runc-like JSON state message over a stream socket with SCM_RIGHTS,
// > 4 KiB, in several chunks), then makes the notified syscall; the parent is the monitor.
#include "runguard/nsutil/seccomp_notify.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "runguard/nsutil/listener.h"
#include "runguard/nsutil/proc_info.h"
#include "runguard/nsutil/target_memory.h"

namespace runguard::nsutil {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
#error "add the AUDIT_ARCH_ for this architecture"
#endif

// Installs "notify on `nrs`, allow the rest" with a new listener; returns the listener fd or -1.
int install_notify_filter(const std::vector<int>& nrs) {
  std::vector<sock_filter> prog;
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
  for (size_t i = 0; i < nrs.size(); ++i) {
    // jump to the final "notify" on a match: skip the remaining compares and the allow
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nrs[i]),
                            static_cast<uint8_t>(nrs.size() - i), 0));
  }
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  struct sock_fprog fprog = {static_cast<unsigned short>(prog.size()), prog.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog));
}

// runc 1.1's state message for `pid`, padded with annotations past 4 KiB.
std::string state_message(pid_t pid) {
  std::string ann = R"("io.kubernetes.pod.namespace":"shop","io.kubernetes.cri.container-name":"api")";
  for (int i = 0; ann.size() < 6000; ++i) ann += ",\"example.com/k" + std::to_string(i) + "\":\"" + std::string(90, 'a') + "\"";
  return R"({"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":)" + std::to_string(pid) +
         R"(,"metadata":"m","state":{"ociVersion":"1.0.2-dev","id":"test","status":"creating","pid":)" +
         std::to_string(pid) + R"(,"bundle":"/tmp/b","annotations":{)" + ann + "}}}";
}

bool send_chunk(int sock, const char* data, size_t len, int fd) {
  struct iovec iov = {const_cast<char*>(data), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
}

// A forked target. The child installs the filter, sends the listener fd like runc (fd with the
// first chunk, the JSON in four chunks, connection left open), closes its own copy, runs `body`
// and exits with its return value. The parent gets the notify fd through our listener code.
class Target {
 public:
  Target(const std::vector<int>& nrs, std::function<int(int sock)> body) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(sv[0]);
      int listener = install_notify_filter(nrs);
      if (listener < 0) ::_exit(100);
      std::string msg = state_message(::getpid());
      size_t quarter = msg.size() / 4;
      for (size_t at = 0, i = 0; at < msg.size(); at += quarter, ++i) {
        if (!send_chunk(sv[1], msg.data() + at, std::min(quarter, msg.size() - at), i == 0 ? listener : -1)) ::_exit(101);
        ::usleep(1000);
      }
      ::close(listener);  // the parent's copy is now the only one
      ::_exit(body(sv[1]));
    }
    ::close(sv[1]);
    sock_.reset(sv[0]);
    if (pid_ < 0) return;
    auto msg = receive_listener_message(sock_.get(), std::chrono::seconds(10));
    if (!msg.is_ok()) {
      error_ = msg.status().to_string();
      return;
    }
    state_ = msg->state;
    auto fd = NotifyFd::adopt(std::move(msg->seccomp_fd));
    if (!fd.is_ok()) {
      error_ = fd.status().to_string();
      return;
    }
    notify_.emplace(std::move(*fd));
  }
  ~Target() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Exit code of the child (128+signal if killed).
  int wait() {
    int status = 0;
    pid_t p = ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (p < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool ready() const { return notify_.has_value(); }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }
  const NotifyFd& notify() const { return *notify_; }
  void close_notify() { notify_.reset(); }
  const ContainerProcessState& state() const { return state_; }
  int sock() const { return sock_.get(); }

  // Waits (poll) for the next notification.
  std::optional<Notification> next(int timeout_ms = 10000) {
    struct pollfd p = {notify_->fd(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1 || !(p.revents & POLLIN)) return std::nullopt;
    auto n = notify_->recv();
    if (!n.is_ok()) return std::nullopt;
    return *n;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd sock_;
  std::optional<NotifyFd> notify_;
  ContainerProcessState state_;
  std::string error_;
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rg-notify-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

int mkdirat_errno(const std::string& path) {
  return ::syscall(SYS_mkdirat, AT_FDCWD, path.c_str(), 0700) == 0 ? 0 : errno;
}

TEST(SeccompNotify, SizesFromKernel) {
  auto sizes = query_notif_sizes();
  ASSERT_TRUE(sizes.is_ok()) << sizes.status().to_string();
  EXPECT_GE(sizes->notif, sizeof(struct seccomp_notif));
  EXPECT_GE(sizes->notif_resp, sizeof(struct seccomp_notif_resp));
}

TEST(SeccompNotify, AdoptRejectsABadFd) {
  EXPECT_FALSE(NotifyFd::adopt(UniqueFd()).is_ok());
  EXPECT_FALSE(NotifyFd::adopt(UniqueFd(9999)).is_ok());
}

TEST(SeccompNotify, ContinueLetsMkdiratRun) {
  TempDir dir;
  std::string path = dir.path + "/allowed";
  Target t({SYS_mkdirat}, [&](int) { return mkdirat_errno(path); });
  ASSERT_TRUE(t.ready()) << t.error();
  EXPECT_EQ(t.state().pid, t.pid());  // the listener message named the child
  EXPECT_EQ(t.state().state.annotations.at("io.kubernetes.pod.namespace"), "shop");

  auto n = t.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->nr, SYS_mkdirat);
  EXPECT_EQ(n->arch, kArch);
  EXPECT_EQ(static_cast<pid_t>(n->pid), t.pid());
  auto check = notification_check(t.notify(), n->id);
  auto arg = read_string(static_cast<pid_t>(n->pid), n->args[1], kMaxPathBytes, check);
  ASSERT_TRUE(arg.is_ok()) << arg.status().to_string();
  EXPECT_EQ(arg->value, path);
  EXPECT_FALSE(arg->truncated);
  EXPECT_TRUE(*t.notify().id_valid(n->id));
  EXPECT_FALSE(std::filesystem::exists(path));  // not run yet: the child is blocked

  auto answer = t.notify().respond_continue(n->id);
  ASSERT_TRUE(answer.is_ok()) << answer.status().to_string();
  EXPECT_EQ(*answer, NotifyFd::Answer::kAnswered);
  EXPECT_EQ(t.wait(), 0);
  EXPECT_TRUE(std::filesystem::is_directory(path));
  // Answering twice is an error the kernel reports (the id is no longer pending).
  auto again = t.notify().respond_continue(n->id);
  EXPECT_TRUE(!again.is_ok() || *again == NotifyFd::Answer::kGone);
}

TEST(SeccompNotify, ErrnoAnswerBlocksMkdirat) {
  TempDir dir;
  std::string path = dir.path + "/blocked";
  Target t({SYS_mkdirat}, [&](int) { return mkdirat_errno(path); });
  ASSERT_TRUE(t.ready()) << t.error();
  auto n = t.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*t.notify().respond_errno(n->id, EPERM), NotifyFd::Answer::kAnswered);
  EXPECT_EQ(t.wait(), EPERM);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(t.notify().respond_errno(n->id, 0).is_ok());  // 0 is not an errno
}

TEST(SeccompNotify, ExecveFilenameAndArgvThenBlockOrContinue) {
  for (bool allow : {false, true}) {
    Target t({SYS_execve}, [](int) {
      char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>("hello"),
                      const_cast<char*>("two words"), const_cast<char*>(""), nullptr};
      char* envp[] = {nullptr};
      ::execve("/bin/true", argv, envp);
      return errno;
    });
    ASSERT_TRUE(t.ready()) << t.error();
    auto n = t.next();
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->nr, SYS_execve);
    pid_t pid = static_cast<pid_t>(n->pid);
    auto check = notification_check(t.notify(), n->id);
    auto file = read_string(pid, n->args[0], kMaxPathBytes, check);
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_EQ(file->value, "/bin/true");
    auto argv = read_argv(pid, n->args[1], kMaxArgs, kMaxArgvBytes, check, pointer_size_for_arch(n->arch));
    ASSERT_TRUE(argv.is_ok()) << argv.status().to_string();
    EXPECT_EQ(argv->args, (std::vector<std::string>{"/bin/true", "hello", "two words", ""}));
    EXPECT_FALSE(argv->truncated);
    auto limited = read_argv(pid, n->args[1], 2, kMaxArgvBytes, check);
    ASSERT_TRUE(limited.is_ok());
    EXPECT_EQ(limited->args.size(), 2u);
    EXPECT_TRUE(limited->truncated);
    auto envp = read_argv(pid, n->args[2], kMaxArgs, kMaxArgvBytes, check);
    ASSERT_TRUE(envp.is_ok());
    EXPECT_TRUE(envp->args.empty());
    // The caller's process facts, for the event model.
    EXPECT_TRUE(read_proc_exe(pid).has_value());
    auto status = read_proc_status(pid);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->ppid, ::getpid());

    if (allow) {
      EXPECT_EQ(*t.notify().respond_continue(n->id), NotifyFd::Answer::kAnswered);
      EXPECT_EQ(t.wait(), 0) << "/bin/true ran";
    } else {
      EXPECT_EQ(*t.notify().respond_errno(n->id, EPERM), NotifyFd::Answer::kAnswered);
      EXPECT_EQ(t.wait(), EPERM);
    }
  }
}

TEST(SeccompNotify, TargetKilledWhilePendingIsGoneNotAnError) {
  Target t({SYS_getppid}, [](int) { return ::syscall(SYS_getppid) >= 0 ? 0 : errno; });
  ASSERT_TRUE(t.ready()) << t.error();
  auto n = t.next();
  ASSERT_TRUE(n.has_value());
  pid_t pid = static_cast<pid_t>(n->pid);
  ::kill(t.pid(), SIGKILL);
  EXPECT_EQ(t.wait(), 128 + SIGKILL);

  auto valid = t.notify().id_valid(n->id);
  ASSERT_TRUE(valid.is_ok());
  EXPECT_FALSE(*valid);
  auto answer = t.notify().respond_continue(n->id);
  ASSERT_TRUE(answer.is_ok()) << answer.status().to_string();
  EXPECT_EQ(*answer, NotifyFd::Answer::kGone);
  auto mem = read_string(pid, n->args[0] ? n->args[0] : 0x1000, 16, notification_check(t.notify(), n->id));
  ASSERT_FALSE(mem.is_ok());
  EXPECT_TRUE(is_gone(mem.status())) << mem.status().to_string();
  EXPECT_FALSE(read_proc_status(pid).has_value());  // "not available", not a crash
  EXPECT_FALSE(read_proc_cmdline(pid).has_value());
  // With the target gone the fd reports POLLHUP: the monitor's signal to drop it.
  struct pollfd p = {t.notify().fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_TRUE(p.revents & POLLHUP);
}

// The fail-closed property (DESIGN.md "Runtime monitoring"): if the monitor dies, the notify fd's
// last copy closes, the pending notified syscall fails with ENOSYS, and so does every later one.
// The syscall never runs unsupervised.
TEST(SeccompNotify, ClosedNotifyFdFailsNotifiedSyscallsWithEnosys) {
  TempDir dir;
  std::string pending = dir.path + "/pending", later = dir.path + "/later";
  Target t({SYS_mkdirat}, [&](int) {
    int first = mkdirat_errno(pending);
    int second = mkdirat_errno(later);
    int other = ::syscall(SYS_getppid) > 0 ? 0 : errno;  // not notified: unaffected
    return (first == ENOSYS ? 0 : 1) | (second == ENOSYS ? 0 : 2) | (other == 0 ? 0 : 4);
  });
  ASSERT_TRUE(t.ready()) << t.error();
  auto n = t.next();
  ASSERT_TRUE(n.has_value());
  t.close_notify();  // the monitor "dies" without answering
  EXPECT_EQ(t.wait(), 0) << "bit 1: pending call not ENOSYS, bit 2: later call not ENOSYS, bit 4: unnotified call failed";
  EXPECT_FALSE(std::filesystem::exists(pending));
  EXPECT_FALSE(std::filesystem::exists(later));
}

TEST(SeccompNotify, SyncWakeupFlag) {
  Target t({SYS_getppid}, [](int) { return ::syscall(SYS_getppid) == ::getppid() ? 0 : 1; });
  ASSERT_TRUE(t.ready()) << t.error();
  auto set = t.notify().set_sync_wakeup();
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  if (!*set) GTEST_SKIP() << "kernel lacks SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (needs Linux >= 6.6)";
  auto n = t.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*t.notify().respond_continue(n->id), NotifyFd::Answer::kAnswered);
  // The first getppid is notified (we answered); the comparison's glibc getppid() is notified too.
  auto n2 = t.next();
  ASSERT_TRUE(n2.has_value());
  EXPECT_EQ(*t.notify().respond_continue(n2->id), NotifyFd::Answer::kAnswered);
  EXPECT_EQ(t.wait(), 0);
}

TEST(Pidfd, PollsReadableWhenTheProcessExits) {
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[1]);
    char c;
    (void)::read(pipefd[0], &c, 1);
    ::_exit(0);
  }
  ::close(pipefd[0]);
  auto pidfd = open_pidfd(child);
  ASSERT_TRUE(pidfd.is_ok()) << pidfd.status().to_string();
  struct pollfd p = {pidfd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // alive
  ::close(pipefd[1]);              // lets it exit
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  ::waitpid(child, nullptr, 0);
  auto gone = open_pidfd(child);
  ASSERT_FALSE(gone.is_ok());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_FALSE(open_pidfd(0).is_ok());
}

// Round trip of a notified getppid answered CONTINUE vs an unnotified getpid, with and without
// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP. Run with:
//   nsutil_unit_tests --gtest_also_run_disabled_tests --gtest_filter='*RoundTrip*'
// The child times each call with clock_gettime (vDSO); the parent serves with blocking RECV.
TEST(SeccompNotifyBench, DISABLED_RoundTrip) {
  constexpr int kCalls = 20000;
  auto median_us = [](std::vector<int64_t> ns) {
    std::nth_element(ns.begin(), ns.begin() + ns.size() / 2, ns.end());
    return ns[ns.size() / 2] / 1000.0;
  };
  for (bool sync : {false, true}) {
    Target t({SYS_getppid}, [](int sock) {
      std::vector<int64_t> times(2 * kCalls);
      auto now = [] {
        struct timespec ts;
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
      };
      for (int i = 0; i < kCalls; ++i) {
        int64_t t0 = now();
        ::syscall(SYS_getpid);
        int64_t t1 = now();
        ::syscall(SYS_getppid);
        int64_t t2 = now();
        times[i] = t1 - t0;
        times[kCalls + i] = t2 - t1;
      }
      const char* p = reinterpret_cast<const char*>(times.data());
      size_t left = times.size() * sizeof(int64_t);
      while (left > 0) {
        ssize_t n = ::write(sock, p, left);
        if (n <= 0) return 1;
        p += n;
        left -= static_cast<size_t>(n);
      }
      return 0;
    });
    ASSERT_TRUE(t.ready()) << t.error();
    if (sync) {
      auto set = t.notify().set_sync_wakeup();
      ASSERT_TRUE(set.is_ok());
      if (!*set) GTEST_SKIP() << "kernel lacks SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP";
    }
    for (int i = 0; i < kCalls; ++i) {
      auto n = t.notify().recv();
      ASSERT_TRUE(n.is_ok() && n->has_value());
      ASSERT_EQ(*t.notify().respond_continue((*n)->id), NotifyFd::Answer::kAnswered);
    }
    std::vector<int64_t> times(2 * kCalls);
    char* p = reinterpret_cast<char*>(times.data());
    size_t left = times.size() * sizeof(int64_t);
    while (left > 0) {
      ssize_t n = ::read(t.sock(), p, left);
      ASSERT_GT(n, 0);
      p += n;
      left -= static_cast<size_t>(n);
    }
    EXPECT_EQ(t.wait(), 0);
    std::vector<int64_t> plain(times.begin(), times.begin() + kCalls), notified(times.begin() + kCalls, times.end());
    std::cout << "round trip (" << (sync ? "sync wake-up" : "default wake-up") << ", " << kCalls
              << " calls, median): unnotified getpid " << median_us(plain) << " us, notified getppid + CONTINUE "
              << median_us(notified) << " us\n";
  }
}

}  // namespace
}  // namespace runguard::nsutil
