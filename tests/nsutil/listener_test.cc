#include "runguard/nsutil/listener.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace runguard::nsutil {
namespace {

// What runc 1.1.15 json.Marshal's (field order of specs.ContainerProcessState), with
// `annotation_bytes` of annotations to push it past runc's example agent's 4 KiB buffer.
std::string runc_message(size_t annotation_bytes = 0, pid_t pid = 4242) {
  std::string ann = R"("io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-name":"web-0")";
  for (size_t i = 0; ann.size() < annotation_bytes; ++i) {
    ann += ",\"example.com/note-" + std::to_string(i) + "\":\"" + std::string(100, 'x') + " {not a brace} \\\"q\\\"\"";
  }
  return R"({"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":)" + std::to_string(pid) +
         R"(,"metadata":"team=payments","state":{"ociVersion":"1.0.2-dev","id":"c0ffee","status":"creating","pid":)" +
         std::to_string(pid) + R"(,"bundle":"/run/containerd/io.containerd.runtime.v2.task/k8s.io/c0ffee","annotations":{)" +
         ann + "}}}";
}

int count_open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (struct dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the DIR's own fd
}

// Sends `data` with `fds` attached (SCM_RIGHTS), like runc's utils.SendFds.
void send_with_fds(int sock, std::string_view data, const std::vector<int>& fds) {
  struct iovec iov = {const_cast<char*>(data.data()), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * std::max<size_t>(fds.size(), 1)));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(data.size())) << std::strerror(errno);
}

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) a.reset(sv[0]), b.reset(sv[1]);
  }
};

// ---- framing ----

TEST(ListenerMessageReader, FramesByteAtATimeWithoutEof) {
  std::string msg = runc_message(6000);
  ASSERT_GT(msg.size(), 4096u);
  ListenerMessageReader r;
  for (size_t i = 0; i < msg.size(); ++i) {
    ASSERT_FALSE(r.has_message()) << "complete early at byte " << i;
    ASSERT_TRUE(r.append(std::string_view(&msg[i], 1)).is_ok());
  }
  ASSERT_TRUE(r.has_message());
  EXPECT_EQ(r.take_message(), msg);
  EXPECT_TRUE(r.idle());
}

TEST(ListenerMessageReader, BracesAndEscapesInsideStrings) {
  std::string msg = R"({"a":"}}]]{\"\\","b":["\\\"}",{"c":"\\"}],"d":"\u007d"})";
  ListenerMessageReader r;
  ASSERT_TRUE(r.append(msg.substr(0, msg.size() - 1)).is_ok());
  EXPECT_FALSE(r.has_message());
  ASSERT_TRUE(r.append("}").is_ok());
  EXPECT_EQ(r.take_message(), msg);
}

TEST(ListenerMessageReader, WhitespaceAroundAndASecondObject) {
  ListenerMessageReader r;
  ASSERT_TRUE(r.append(" \r\n\t{\"a\":1}\n {\"b\":").is_ok());
  EXPECT_EQ(r.take_message(), "{\"a\":1}");
  EXPECT_FALSE(r.has_message());
  EXPECT_FALSE(r.idle());
  ASSERT_TRUE(r.append("2}  ").is_ok());
  EXPECT_EQ(r.take_message(), "{\"b\":2}");
  EXPECT_EQ(r.take_message(), std::nullopt);
  EXPECT_TRUE(r.idle());
}

TEST(ListenerMessageReader, GarbageIsAStickyError) {
  ListenerMessageReader r;
  Status st = r.append("HTTP/1.1 200 OK\r\n");
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("expected a JSON object, got 'H' at byte 0"), std::string::npos) << st.message();
  EXPECT_FALSE(r.append("{}").is_ok());
  EXPECT_FALSE(r.has_message());

  // Garbage after a complete object: the object is still taken; the garbage fails the next call.
  ListenerMessageReader after;
  EXPECT_TRUE(after.append("{}").is_ok());
  EXPECT_TRUE(after.append("\x01").is_ok());
  EXPECT_EQ(after.take_message(), "{}");
  EXPECT_FALSE(after.append("{}").is_ok());
  EXPECT_FALSE(after.has_message());
}

TEST(ListenerMessageReader, SizeCap) {
  ListenerMessageReader r(100);
  ASSERT_TRUE(r.append("{\"k\":\"" + std::string(80, 'v')).is_ok());
  Status st = r.append(std::string(40, 'v'));
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("larger than 100 bytes"), std::string::npos) << st.message();

  ListenerMessageReader exact(9);
  ASSERT_TRUE(exact.append("{\"k\":\"v\"}").is_ok());
  EXPECT_TRUE(exact.has_message());
}

// ---- parsing ----

TEST(ContainerProcessState, ParsesRuncMessage) {
  auto st = parse_container_process_state(runc_message(5000));
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ(st->oci_version, "1.0.2-dev");
  EXPECT_EQ(st->fds, std::vector<std::string>{"seccompFd"});
  EXPECT_EQ(st->seccomp_fd_index(), 0u);
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->metadata, "team=payments");
  EXPECT_EQ(st->state.id, "c0ffee");
  EXPECT_EQ(st->state.status, "creating");
  EXPECT_EQ(st->state.pid, 4242);
  EXPECT_EQ(st->state.bundle, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c0ffee");
  EXPECT_EQ(st->state.annotations.at("io.kubernetes.cri.sandbox-name"), "web-0");
  EXPECT_GT(st->state.annotations.size(), 30u);
}

TEST(ContainerProcessState, OmitemptyFieldsAndUnknownFields) {
  auto st = parse_container_process_state(
      R"({"ociVersion":"1.2.0","fds":["seccompFd"],"pid":7,"future":{"x":1},"state":{"ociVersion":"1.2.0","id":"a","status":"running","bundle":"/b"}})");
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ(st->metadata, "");
  EXPECT_EQ(st->state.pid, 0);
  EXPECT_TRUE(st->state.annotations.empty());
}

TEST(ContainerProcessState, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {R"([1])", "\"(top level)\" must be an object"},
      {R"({"fds":["seccompFd"],"pid":1,"state":{"id":"a","status":"s"}})", "missing field \"ociVersion\""},
      {R"({"ociVersion":"1","fds":"seccompFd","pid":1,"state":{"id":"a","status":"s"}})", "\"fds\" must be an array"},
      {R"({"ociVersion":"1","fds":[3],"pid":1,"state":{"id":"a","status":"s"}})", "\"fds[]\" must be a string"},
      {R"({"ociVersion":"1","fds":[],"pid":"1","state":{"id":"a","status":"s"}})", "\"pid\" must be an integer"},
      {R"({"ociVersion":"1","fds":[],"pid":-5,"state":{"id":"a","status":"s"}})", "not a valid pid: -5"},
      {R"({"ociVersion":"1","fds":[],"pid":1})", "missing field \"state\""},
      {R"({"ociVersion":"1","fds":[],"pid":1,"state":{"status":"s"}})", "missing field \"state.id\""},
      {R"({"ociVersion":"1","fds":[],"pid":1,"state":{"id":"a","status":"s","annotations":{"k":1}}})",
       "\"state.annotations.k\" must be a string"},
      {R"({"ociVersion":"1",)", "listener message"},
  };
  for (const auto& c : cases) {
    auto st = parse_container_process_state(c.json);
    ASSERT_FALSE(st.is_ok()) << c.json;
    EXPECT_NE(st.status().message().find(c.want), std::string::npos) << c.json << " -> " << st.status().message();
  }
}

// ---- receiving over a socket ----

TEST(ListenerConnection, FdWithFirstChunkRestInSeveralChunks) {
  SocketPair sp;
  ASSERT_TRUE(sp.a.valid());
  int fds_before = count_open_fds();
  std::string msg = runc_message(20000);
  UniqueFd payload(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::thread sender([&] {
    send_with_fds(sp.b.get(), std::string_view(msg).substr(0, 100), {payload.get()});
    for (size_t at = 100; at < msg.size(); at += 3000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      send_with_fds(sp.b.get(), std::string_view(msg).substr(at, 3000), {});
    }
  });
  auto got = receive_listener_message(sp.a.get(), std::chrono::seconds(5));
  sender.join();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->state.state.id, "c0ffee");
  ASSERT_TRUE(got->seccomp_fd.valid());
  EXPECT_EQ(::fcntl(got->seccomp_fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(got->fds.size(), 1u);
  EXPECT_FALSE(got->fds[0].valid());  // moved to seccomp_fd
  EXPECT_TRUE(sp.a.valid());          // the caller still owns the socket
  got = Status(Code::kInternal, "drop");
  EXPECT_EQ(count_open_fds(), fds_before + 1);  // only `payload` remains
}

TEST(ListenerConnection, EofBeforeCompleteClosesReceivedFds) {
  SocketPair sp;
  int fds_before = count_open_fds();
  {
    UniqueFd payload(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    send_with_fds(sp.b.get(), "{\"ociVersion\":\"1.0.2-dev\",", {payload.get()});
  }
  sp.b.reset();
  auto got = receive_listener_message(sp.a.get(), std::chrono::seconds(5));
  ASSERT_FALSE(got.is_ok());
  EXPECT_NE(got.status().message().find("before a complete JSON object"), std::string::npos) << got.status().message();
  EXPECT_EQ(count_open_fds(), fds_before - 1);  // sp.b closed; the received fd did not leak
}

TEST(ListenerConnection, FdCountMustMatchTheMessage) {
  SocketPair sp;
  int fds_before = count_open_fds();
  {
    UniqueFd p1(::open("/dev/null", O_RDONLY | O_CLOEXEC)), p2(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    send_with_fds(sp.b.get(), runc_message(), {p1.get(), p2.get()});
  }
  auto got = receive_listener_message(sp.a.get(), std::chrono::seconds(5));
  ASSERT_FALSE(got.is_ok());
  EXPECT_NE(got.status().message().find("names 1 fds but 2 were received"), std::string::npos) << got.status().message();
  EXPECT_EQ(count_open_fds(), fds_before);

  send_with_fds(sp.b.get(), runc_message(), {});  // no fd at all
  got = receive_listener_message(sp.a.get(), std::chrono::seconds(5));
  ASSERT_FALSE(got.is_ok());
  EXPECT_NE(got.status().message().find("but 0 were received"), std::string::npos);
}

TEST(ListenerConnection, TooManyFdsAreAllClosed) {
  SocketPair sp;
  int fds_before = count_open_fds();
  {
    std::vector<UniqueFd> owned;
    std::vector<int> raw;
    for (size_t i = 0; i < kMaxListenerFds + 2; ++i) {
      owned.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      raw.push_back(owned.back().get());
    }
    send_with_fds(sp.b.get(), runc_message(), raw);
  }
  auto got = receive_listener_message(sp.a.get(), std::chrono::seconds(5));
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(count_open_fds(), fds_before);
}

TEST(ListenerConnection, NonBlockingReadSomeAndTimeout) {
  SocketPair sp;
  ASSERT_EQ(::fcntl(sp.a.get(), F_SETFL, O_NONBLOCK), 0);
  int raw = sp.a.get();
  ListenerConnection conn(std::move(sp.a));
  auto r = conn.read_some();
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(*r);  // EAGAIN: not yet

  auto timed = receive_listener_message(raw, std::chrono::milliseconds(50));
  ASSERT_FALSE(timed.is_ok());
  EXPECT_EQ(timed.status().error_number(), ETIMEDOUT);
  EXPECT_EQ(::fcntl(raw, F_GETFD) >= 0, true);  // still open: not owned by the helper

  UniqueFd payload(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  send_with_fds(sp.b.get(), runc_message(), {payload.get()});
  r = conn.read_some();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(*r);
  auto msg = conn.take_message();
  ASSERT_TRUE(msg.is_ok()) << msg.status().to_string();
  EXPECT_EQ(msg->state.pid, 4242);
}

TEST(ListenerConnection, PeerCredentials) {
  SocketPair sp;
  auto cred = peer_credentials(sp.a.get());
  ASSERT_TRUE(cred.is_ok()) << cred.status().to_string();
  EXPECT_EQ(cred->pid, ::getpid());
  EXPECT_EQ(cred->uid, ::getuid());
}

}  // namespace
}  // namespace runguard::nsutil
