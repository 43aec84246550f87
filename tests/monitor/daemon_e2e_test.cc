// runguard-monitor end to end, without runc: the real binary is started through the ready-fd
// protocol; a forked "container init" installs a seccomp filter with a new listener, sends the
// fd to the monitor's socket like runc 1.1 (state JSON > 4 KiB + SCM_RIGHTS, connection left
// open) and then makes notified syscalls.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>

#include <functional>
#include <iostream>
#include <regex>

#include "daemon_test_util.h"
#include "runguard/common/json.h"

namespace rgmond {
namespace {

const std::string kBin = RUNGUARD_MONITOR_BIN;
const std::string kId = "0123456789abcdef";

const char* kRules = R"yaml(
- rule: Block UTS unshare
  desc: test block rule
  condition: evt.type = unshare and evt.arg.flags contains CLONE_NEWUTS
  output: "unshare blocked (flags=%evt.arg.flags proc=%proc.name container=%container.id)"
  priority: CRITICAL
  tags: [test, namespace]
  runguard.action: block
- rule: Interactive shell
  desc: test alert rule
  condition: evt.type = execve and proc.name = sh and proc.args contains "-i"
  output: "shell %proc.cmdline (parent=%proc.pname exepath=%proc.exepath)"
  priority: WARNING
  tags: [shell]
)yaml";

int64_t now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A forked target: installs the filter, hands the listener to `socket`, closes its copy, waits
// for go(), runs `body` (which may write a report) and exits with its return value.
class Target {
 public:
  Target(const std::string& socket, const std::vector<int>& nrs, std::function<int(int report)> body) {
    int go[2], report[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(go[1]);
      ::close(report[0]);
      int listener = install_notify_filter(nrs);
      if (listener < 0) ::_exit(100);
      int sock = send_listener_fd(socket, listener, kId);
      if (sock < 0) ::_exit(101);
      ::close(listener);
      char b;
      if (::read(go[0], &b, 1) != 1) ::_exit(102);
      ::_exit(body(report[1]));
    }
    ::close(go[0]);
    ::close(report[1]);
    go_ = go[1];
    report_ = report[0];
  }
  ~Target() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (go_ >= 0) ::close(go_);
    if (report_ >= 0) ::close(report_);
  }
  pid_t pid() const { return pid_; }
  void go() { ASSERT_EQ(::write(go_, "g", 1), 1); }
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string report() {
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(report_, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1, report_ = -1;
};

struct Monitor {
  TempDir dir;
  pid_t pid = 0;
  std::string ready;
  int status = -1;
  void start(bool block, const std::string& rules_text, int timeout = 30) {
    std::string rules;
    if (!rules_text.empty()) {
      rules = dir / "rules.yaml";
      write_text(rules, rules_text);
    }
    write_text(dir / "monitor.json", monitor_config(dir, block, rules, timeout));
    ready = start_monitor(kBin, dir / "monitor.json", &status);
    ASSERT_TRUE(std::regex_match(ready, std::regex("[0-9]+\n"))) << ready << read_text(dir / "monitor.log");
    pid = std::stoi(ready);
  }
  std::string socket() const { return dir / "monitor.sock"; }
  std::string log() const { return read_text(dir / "monitor.log"); }
  std::vector<std::string> events() const { return lines_of(read_text(dir / "events/events.jsonl")); }
  ~Monitor() {
    if (pid > 0 && ::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
  }
};

long rss_kib(pid_t pid) {
  for (const auto& l : lines_of(read_text("/proc/" + std::to_string(pid) + "/status"))) {
    if (l.rfind("VmRSS:", 0) == 0) return std::stol(l.substr(6));
  }
  return -1;
}

TEST(MonitorDaemonE2E, BlocksAlertsAndExitsWithInit) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (reads target memory of a no_new_privs child)";
  Monitor m;
  m.start(true, kRules);
  EXPECT_EQ(m.status, 0);  // the intermediate exits 0 once the daemon is detached
  struct stat st = {};
  ASSERT_EQ(::stat(m.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_NE(::getsid(m.pid), ::getsid(0));  // its own session

  Target t(m.socket(), {SYS_unshare, SYS_execve}, [](int) {
    int result = 0;
    errno = 0;
    if (!(::syscall(SYS_unshare, CLONE_NEWUTS) == -1 && errno == EPERM)) result |= 1;
    if (::syscall(SYS_unshare, 0) != 0) result |= 2;
    pid_t g = ::fork();
    if (g == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);  // sh -i complains about the missing tty
      ::execl("/bin/sh", "sh", "-i", "-c", "exit 7", nullptr);
      ::_exit(99);
    }
    int status = 0;
    ::waitpid(g, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) result |= 4;
    return result;
  });
  ::usleep(200 * 1000);
  std::cout << "idle monitor VmRSS: " << rss_kib(m.pid) << " KiB\n";
  t.go();
  EXPECT_EQ(t.wait(), 0) << "1: unshare not blocked, 2: unshare(0) failed, 4: sh -i failed\n" << m.log();
  ASSERT_TRUE(wait_gone(m.pid, 5000)) << "monitor did not exit with its init\n" << m.log();
  EXPECT_FALSE(std::filesystem::exists(m.socket()));
  std::string log = m.log();
  EXPECT_NE(log.find("exiting: container init exited"), std::string::npos) << log;
  EXPECT_NE(log.find("notifications=3 continues=2 blocks=1"), std::string::npos) << log;

  auto lines = m.events();
  ASSERT_EQ(lines.size(), 2u) << read_text(m.dir / "events/events.jsonl");
  auto block = runguard::parse_json(lines[0], "events[0]");
  auto shell = runguard::parse_json(lines[1], "events[1]");
  ASSERT_TRUE(block.is_ok() && shell.is_ok());
  EXPECT_EQ((*block)["rule"], "Block UTS unshare");
  EXPECT_EQ((*block)["runguard.action"], "block");
  EXPECT_EQ((*block)["priority"], "Critical");
  EXPECT_EQ((*block)["source"], "syscall");
  EXPECT_EQ((*block)["output_fields"]["evt.arg.flags"], "CLONE_NEWUTS");
  EXPECT_EQ((*block)["output_fields"]["container.id"], "0123456789ab");
  EXPECT_EQ((*block)["runguard.container"]["pod"], "web-0");
  EXPECT_EQ((*block)["tags"], runguard::Json({"test", "namespace"}));
  EXPECT_TRUE(std::regex_match((*block)["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")));
  EXPECT_EQ((*shell)["rule"], "Interactive shell");
  EXPECT_EQ((*shell)["runguard.action"], "alert");
  EXPECT_EQ((*shell)["output_fields"]["proc.cmdline"], "sh -i -c exit 7");
  EXPECT_EQ((*shell)["output_fields"]["proc.exepath"], "/bin/sh");
  EXPECT_NE((*shell)["output"].get<std::string>().find("Warning shell sh -i -c exit 7"), std::string::npos);
}

TEST(MonitorDaemonE2E, AuditModeOnlyAlerts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Monitor m;
  m.start(false, kRules);
  Target t(m.socket(), {SYS_unshare}, [](int) { return ::syscall(SYS_unshare, CLONE_NEWUTS) == 0 ? 0 : 1; });
  t.go();
  EXPECT_EQ(t.wait(), 0) << m.log();
  ASSERT_TRUE(wait_gone(m.pid, 5000));
  auto lines = m.events();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(R"("runguard.action":"would-block")"), std::string::npos) << lines[0];
}

TEST(MonitorDaemonE2E, KilledMonitorFailsNotifiedSyscallsWithEnosys) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Monitor m;
  m.start(true, kRules);
  Target t(m.socket(), {SYS_unshare}, [](int) {
    errno = 0;
    return ::syscall(SYS_unshare, 0) == -1 && errno == ENOSYS ? 0 : 1;
  });
  // Let the monitor adopt the fd before it dies (otherwise the fd dies with the unread message).
  for (int i = 0; i < 100 && m.log().find("monitoring pid") == std::string::npos; ++i) ::usleep(20 * 1000);
  ASSERT_EQ(::kill(m.pid, SIGKILL), 0);
  ASSERT_TRUE(wait_gone(m.pid, 5000));
  t.go();
  EXPECT_EQ(t.wait(), 0) << "the notified syscall did not fail with ENOSYS";
}

TEST(MonitorDaemonE2E, NoLossUnderLoad) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  constexpr int kCalls = 20000;
  Monitor m;
  m.start(true, "- rule: Any unshare\n  desc: d\n  condition: evt.type = unshare\n  output: 'unshare %evt.arg.flags'\n  priority: NOTICE\n");
  Target t(m.socket(), {SYS_unshare}, [](int report) {
    int64_t start = now_ns();
    for (int i = 0; i < kCalls; ++i) {
      if (::syscall(SYS_unshare, 0) != 0) return 1;
    }
    std::string r = std::to_string((now_ns() - start) / kCalls);
    return ::write(report, r.data(), r.size()) > 0 ? 0 : 2;
  });
  t.go();
  EXPECT_EQ(t.wait(), 0) << m.log();
  int64_t start = now_ns();
  for (int i = 0; i < kCalls; ++i) (void)::syscall(SYS_unshare, 0);
  int64_t plain = (now_ns() - start) / kCalls;
  std::cout << "unshare(0): " << t.report() << " ns/call notified+evaluated+event written, " << plain
            << " ns/call plain\n";
  ASSERT_TRUE(wait_gone(m.pid, 10000)) << m.log();
  EXPECT_NE(m.log().find("notifications=20000 continues=20000 blocks=0 gone=0 build_failures=0 events=20000"),
            std::string::npos)
      << m.log();
  EXPECT_EQ(m.events().size(), static_cast<size_t>(kCalls));
}

// The bare round trip: a notified syscall that no rule watches is answered without an event.
TEST(MonitorDaemonE2E, UnwatchedNotificationsAreAnsweredWithoutBuildingEvents) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  constexpr int kCalls = 20000;
  Monitor m;
  m.start(true, kRules);  // rules for unshare and execve; getppid is notified but unwatched
  Target t(m.socket(), {SYS_getppid}, [](int report) {
    int64_t start = now_ns();
    for (int i = 0; i < kCalls; ++i) (void)::syscall(SYS_getppid);
    std::string r = std::to_string((now_ns() - start) / kCalls);
    return ::write(report, r.data(), r.size()) > 0 ? 0 : 2;
  });
  t.go();
  EXPECT_EQ(t.wait(), 0) << m.log();
  std::cout << "getppid: " << t.report() << " ns/call notified, no rule watching it\n";
  ASSERT_TRUE(wait_gone(m.pid, 10000)) << m.log();
  EXPECT_NE(m.log().find("notifications=20000 continues=20000 blocks=0 gone=0 build_failures=0 events=0"),
            std::string::npos)
      << m.log();
}

TEST(MonitorDaemonE2E, ExitsWithoutConnectionAndOnSigterm) {
  Monitor idle;
  idle.start(true, kRules, 1);
  EXPECT_TRUE(wait_gone(idle.pid, 5000)) << idle.log();
  EXPECT_FALSE(std::filesystem::exists(idle.socket()));
  EXPECT_NE(idle.log().find("no listener connection within 1s"), std::string::npos) << idle.log();

  Monitor term;
  term.start(true, "");  // embedded default rules
  EXPECT_NE(term.log().find("from the embedded defaults"), std::string::npos) << term.log();
  ASSERT_EQ(::kill(term.pid, SIGUSR1), 0);  // summary on demand, and it keeps running
  for (int i = 0; i < 100 && term.log().find("summary:") == std::string::npos; ++i) ::usleep(10 * 1000);
  EXPECT_NE(term.log().find("summary: notifications=0"), std::string::npos) << term.log();
  EXPECT_EQ(::kill(term.pid, 0), 0);
  ASSERT_EQ(::kill(term.pid, SIGTERM), 0);
  EXPECT_TRUE(wait_gone(term.pid, 5000));
  EXPECT_FALSE(std::filesystem::exists(term.socket()));
  EXPECT_NE(term.log().find("summary: notifications=0"), std::string::npos) << term.log();
}

TEST(MonitorDaemonE2E, StartupErrorsArriveOnTheReadyFd) {
  TempDir dir;
  write_text(dir / "monitor.json", R"({"version":1,"events":"/tmp/e","log":"/tmp/l","container":{"id":"x"}})");
  int status = 0;
  std::string out = start_monitor(kBin, dir / "monitor.json", &status);
  EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
  EXPECT_NE(out.find("\"socket\""), std::string::npos) << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);

  write_text(dir / "bad.yaml", "- rule: r\n  condition: evt.type = execve and\n");
  write_text(dir / "monitor.json", monitor_config(dir, true, dir / "bad.yaml"));
  out = start_monitor(kBin, dir / "monitor.json", &status);
  EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
  EXPECT_NE(out.find("bad.yaml"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "monitor.sock"));
}

}  // namespace
}  // namespace rgmond
