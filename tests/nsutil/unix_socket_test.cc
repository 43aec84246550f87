// Unix stream sockets with deadlines: nothing listening is kUnavailable at once, every wait ends
// at its deadline, a vanished peer is an error and never a SIGPIPE; and the events-file appender.
#include "runguard/nsutil/unix_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>

#include "runguard/nsutil/events_file.h"

namespace runguard::nsutil {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgsock.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// A bound socket at `path`; listening (backlog `backlog`) unless backlog < 0.
UniqueFd bind_at(const std::string& path, int backlog) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  if (backlog >= 0) {
    EXPECT_EQ(::listen(fd.get(), backlog), 0);
  }
  return fd;
}

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

TEST(UnixSocket, NoSocketFileIsNotListeningAtOnce) {
  TempDir dir;
  auto start = Clock::now();
  auto fd = connect_unix(dir / "absent.sock", deadline_after(milliseconds(2000)));
  ASSERT_FALSE(fd.is_ok());
  EXPECT_EQ(fd.status().code(), Code::kUnavailable);
  EXPECT_TRUE(is_not_listening(fd.status())) << fd.status().to_string();
  EXPECT_NE(fd.status().message().find(dir / "absent.sock"), std::string::npos);
  EXPECT_LT(ms_since(start), 50);
}

TEST(UnixSocket, StaleSocketFileIsNotListening) {
  TempDir dir;
  { UniqueFd bound = bind_at(dir / "stale.sock", -1); }  // bound, never listened on, closed
  auto fd = connect_unix(dir / "stale.sock", deadline_after(milliseconds(2000)));
  ASSERT_FALSE(fd.is_ok());
  EXPECT_TRUE(is_not_listening(fd.status())) << fd.status().to_string();
  auto again = try_connect_unix(dir / "stale.sock");
  EXPECT_TRUE(!again.is_ok() && is_not_listening(again.status()));
}

TEST(UnixSocket, PathTooLongIsInvalid) {
  auto fd = connect_unix("/" + std::string(200, 'x'), deadline_after(milliseconds(100)));
  ASSERT_FALSE(fd.is_ok());
  EXPECT_EQ(fd.status().code(), Code::kInvalidArgument);
}

// The kernel completes a unix connect into the backlog without the listener accepting; the
// reply then never comes, and the read must end at its deadline.
TEST(UnixSocket, ReadFromListenerThatNeverAnswersEndsAtDeadline) {
  TempDir dir;
  UniqueFd listener = bind_at(dir / "mute.sock", 8);
  auto fd = connect_unix(dir / "mute.sock", deadline_after(milliseconds(500)));
  ASSERT_TRUE(fd.is_ok()) << fd.status().to_string();
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
  ASSERT_TRUE(send_all(fd->get(), "hello", deadline_after(milliseconds(100)), "mute").is_ok());
  char buf[16];
  auto start = Clock::now();
  auto n = read_some(fd->get(), buf, sizeof buf, deadline_after(milliseconds(120)), "mute");
  ASSERT_FALSE(n.is_ok());
  EXPECT_TRUE(is_timeout(n.status())) << n.status().to_string();
  EXPECT_GE(ms_since(start), 110);
  EXPECT_LT(ms_since(start), 600);
}

// A full backlog makes a non-blocking unix connect fail with EAGAIN: retried until the deadline.
TEST(UnixSocket, FullBacklogEndsAtDeadline) {
  TempDir dir;
  UniqueFd listener = bind_at(dir / "busy.sock", 0);
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 8; ++i) {
    auto f = try_connect_unix(dir / "busy.sock");
    if (!f.is_ok()) break;
    fillers.push_back(std::move(*f));
  }
  auto start = Clock::now();
  auto fd = connect_unix(dir / "busy.sock", deadline_after(milliseconds(100)));
  ASSERT_FALSE(fd.is_ok());
  EXPECT_TRUE(is_timeout(fd.status())) << fd.status().to_string();
  EXPECT_GE(ms_since(start), 90);
  EXPECT_LT(ms_since(start), 600);
}

TEST(UnixSocket, SendToPeerThatNeverReadsEndsAtDeadline) {
  TempDir dir;
  UniqueFd listener = bind_at(dir / "slow.sock", 8);
  auto fd = connect_unix(dir / "slow.sock", deadline_after(milliseconds(500)));
  ASSERT_TRUE(fd.is_ok());
  std::string big(16u << 20, 'x');
  auto start = Clock::now();
  Status s = send_all(fd->get(), big, deadline_after(milliseconds(100)), "slow peer");
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(is_timeout(s)) << s.to_string();
  EXPECT_NE(s.message().find("slow peer"), std::string::npos);
  EXPECT_LT(ms_since(start), 600);
}

TEST(UnixSocket, PeerGoneIsAnErrorNotSigpipe) {
  TempDir dir;
  auto old = ::signal(SIGPIPE, SIG_DFL);  // a SIGPIPE would kill the test binary
  UniqueFd listener = bind_at(dir / "gone.sock", 8);
  auto fd = connect_unix(dir / "gone.sock", deadline_after(milliseconds(500)));
  ASSERT_TRUE(fd.is_ok());
  {
    UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted.valid());
  }
  auto n = send_some(fd->get(), "data", "gone peer");
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.status().code(), Code::kUnavailable);
  EXPECT_FALSE(send_all(fd->get(), "data", deadline_after(milliseconds(100)), "gone peer").is_ok());
  ::signal(SIGPIPE, old);
}

TEST(UnixSocket, ExchangeAndEndOfStream) {
  TempDir dir;
  UniqueFd listener = bind_at(dir / "echo.sock", 8);
  auto fd = connect_unix(dir / "echo.sock", deadline_after(milliseconds(500)));
  ASSERT_TRUE(fd.is_ok());
  UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(send_all(fd->get(), "ping", deadline_after(milliseconds(100)), "peer").is_ok());
  char buf[16] = {};
  ASSERT_EQ(::read(peer.get(), buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_EQ(::write(peer.get(), "pong", 4), 4);
  auto n = read_some(fd->get(), buf, sizeof buf, deadline_after(milliseconds(500)), "peer");
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(buf, *n), "pong");
  peer.reset();
  auto eof = read_some(fd->get(), buf, sizeof buf, deadline_after(milliseconds(500)), "peer");
  ASSERT_TRUE(eof.is_ok());
  EXPECT_EQ(*eof, 0u);
}

TEST(UnixSocket, PollTimeoutRoundsUpAndStopsAtZero) {
  EXPECT_EQ(poll_timeout_ms(Clock::now() - milliseconds(5)), 0);
  int t = poll_timeout_ms(deadline_after(milliseconds(50)));
  EXPECT_GE(t, 49);
  EXPECT_LE(t, 50);
}

TEST(EventsFile, CreatesParentAndFileWithTheirModes) {
  TempDir dir;
  std::string path = dir / "log/runguard/events.jsonl";
  mode_t old = ::umask(0);
  auto f = EventsFile::open(path);
  ::umask(old);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_TRUE(f->append("{\"a\":1}\n").is_ok());
  ASSERT_TRUE(f->append("{\"b\":2}\n").is_ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat((dir / "log/runguard").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_EQ(f->path(), path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[64] = {};
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "{\"a\":1}\n{\"b\":2}\n");
}

}  // namespace
}  // namespace runguard::nsutil
