// The runguardd binary: flags, exit codes, signals (SIGHUP reload, SIGTERM graceful stop) and
// refusing to start next to another agent. Runs the real binary on a temp dir's policy.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "agent_test_util.h"
#include "runguard/nsutil/fs.h"

namespace {

using namespace rgagent_test;
using namespace std::chrono_literals;
namespace frame = runguard::frame;

// A child process running runguardd with `args`; stdout+stderr go to `log`.
struct Daemon {
  pid_t pid = -1;
  Daemon(std::vector<std::string> args, const std::string& log) {
    // Everything the child needs is built before fork: only async-signal-safe calls after it.
    args.insert(args.begin(), RUNGUARD_AGENT_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  // The exit status, or -1 if it has not exited within `timeout`.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  ~Daemon() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

class RunguarddTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("NOTIFY_SOCKET");
    write_text(policy(), policy_yaml(dir));
  }
  std::string policy() const { return dir / "etc/policy.yaml"; }
  std::string log() const { return dir / "runguardd.log"; }
  bool ping(std::chrono::milliseconds within = 5s) {
    auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      FrameClient c(dir / "run/internal.sock");
      if (c.connected() && c.send(frame::message("ping")) && c.read(500ms)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  TempDir dir;
};

TEST_F(RunguarddTest, VersionHelpAndUsage) {
  Daemon v({"--version"}, log());
  EXPECT_EQ(v.wait_exit(5s), 0);
  EXPECT_NE(read_text(log()).find("runguardd " RUNGUARD_VERSION), std::string::npos);
  Daemon h({"--help"}, log());
  EXPECT_EQ(h.wait_exit(5s), 0);
  EXPECT_NE(read_text(log()).find("--log-level"), std::string::npos);
  Daemon bad({"--frobnicate"}, log());
  EXPECT_EQ(bad.wait_exit(5s), 2);
  Daemon level({"--log-level", "loud"}, log());
  EXPECT_EQ(level.wait_exit(5s), 2);
}

TEST_F(RunguarddTest, BadPolicyExitsOne) {
  write_text(policy(), "mode: sometimes\n");
  Daemon d({"--config", policy()}, log());
  EXPECT_EQ(d.wait_exit(5s), 1);
  EXPECT_NE(read_text(log()).find("cannot start"), std::string::npos) << read_text(log());
  EXPECT_NE(read_text(log()).find(policy()), std::string::npos) << read_text(log());
}

TEST_F(RunguarddTest, SignalsReloadAndStop) {
  Daemon d({"--config=" + policy()}, log());
  ASSERT_TRUE(ping()) << read_text(log());
  // A second agent on the same paths refuses to start and leaves the first alone.
  Daemon second({"--config", policy()}, dir / "second.log");
  EXPECT_EQ(second.wait_exit(5s), 1);
  EXPECT_NE(read_text(dir / "second.log").find("already"), std::string::npos) << read_text(dir / "second.log");
  EXPECT_TRUE(ping(1s));

  write_text(policy(), policy_yaml(dir) + "mode: audit\n");
  ASSERT_EQ(::kill(d.pid, SIGHUP), 0);
  for (int i = 0; i < 100 && read_text(log()).find("changed)") == std::string::npos; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_NE(read_text(log()).find("changed)"), std::string::npos) << read_text(log());
  EXPECT_TRUE(ping(1s));

  ASSERT_EQ(::kill(d.pid, SIGTERM), 0);
  EXPECT_EQ(d.wait_exit(3s), 0) << read_text(log());
  EXPECT_FALSE(runguard::nsutil::path_exists(dir / "run/internal.sock"));
  EXPECT_FALSE(runguard::nsutil::path_exists(dir / "run/agent.sock"));
  EXPECT_NE(read_text(log()).find("stopped"), std::string::npos);
}

TEST_F(RunguarddTest, ConfigFromTheEnvironment) {
  ::setenv("RUNGUARD_CONFIG", policy().c_str(), 1);
  Daemon d({}, log());
  ::unsetenv("RUNGUARD_CONFIG");
  ASSERT_TRUE(ping()) << read_text(log());
  ASSERT_EQ(::kill(d.pid, SIGINT), 0);
  EXPECT_EQ(d.wait_exit(3s), 0);
}

TEST_F(RunguarddTest, NotifiesSystemd) {
  std::string path = dir / "notify.sock";
  int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto next = [s]() -> std::string {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "";
    char buf[256];
    ssize_t n = ::recv(s, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  };
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  Daemon d({"--config", policy()}, log());
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(next(), "READY=1") << read_text(log());
  EXPECT_TRUE(ping(1s));
  ::kill(d.pid, SIGHUP);
  EXPECT_EQ(next(), "RELOADING=1");
  EXPECT_EQ(next(), "READY=1");
  ::kill(d.pid, SIGTERM);
  EXPECT_EQ(next(), "STOPPING=1");
  EXPECT_EQ(d.wait_exit(3s), 0);
  ::close(s);
}

}  // namespace
