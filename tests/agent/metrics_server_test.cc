// The agent's /metrics HTTP server over real sockets: scrapes over loopback TCP (port 0) and a
// unix socket, the error statuses, a slow client that must not hold up other scrapes, the
// connection cap, and stop() joining and removing its socket.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runguard/agent/metrics.h"
#include "runguard/nsutil/fd.h"

namespace {

using runguard::Code;
using runguard::agent::Metrics;
using runguard::agent::MetricsServer;
using runguard::nsutil::UniqueFd;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rg-metrics-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Connects to "HOST:PORT" (v4 or [v6]) or "unix:/path"; an invalid fd on failure.
UniqueFd dial(const std::string& address) {
  if (address.rfind("unix:", 0) == 0) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string path = address.substr(5);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return UniqueFd();
    return fd;
  }
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  int port = std::stoi(address.substr(colon + 1));
  if (host.front() == '[') {
    UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(uint16_t(port));
    ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &sa.sin6_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return UniqueFd();
    return fd;
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return UniqueFd();
  return fd;
}

// Everything the server sends until it closes, or what arrived within `timeout`.
std::string read_all(int fd, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(left)) <= 0) return out;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

std::string roundtrip(const std::string& address, const std::string& request) {
  UniqueFd fd = dial(address);
  if (!fd.valid()) return "connect failed";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size())) return "send failed";
  return read_all(fd.get());
}

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::unique_ptr<MetricsServer> start(const std::string& address, const Metrics& m) {
  auto s = MetricsServer::start(address, m);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

TEST(MetricsServer, ScrapeOverLoopbackTcpWithPortZero) {
  Metrics m;
  m.add("runguard_containers_created_total", {{"engine", "containerd-cri"}}, 3);
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  std::string addr = server->address();
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  EXPECT_NE(addr, "127.0.0.1:0") << "address() reports the kernel's port";

  std::string r = roundtrip(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  std::string body = body_of(r);
  EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_EQ(body, m.render());
  EXPECT_NE(body.find("runguard_containers_created_total{engine=\"containerd-cri\"} 3\n"), std::string::npos);

  // Later updates show up in the next scrape; a query string is ignored.
  m.add("runguard_containers_created_total", {{"engine", "containerd-cri"}});
  r = roundtrip(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_NE(body_of(r).find("{engine=\"containerd-cri\"} 4\n"), std::string::npos);
}

TEST(MetricsServer, LocalhostAndIpv6Loopback) {
  Metrics m;
  auto v4 = start("localhost:0", m);
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ(v4->address().rfind("127.0.0.1:", 0), 0u);
  auto v6 = MetricsServer::start("[::1]:0", m);
  if (!v6.is_ok()) GTEST_SKIP() << "no IPv6 loopback here: " << v6.status().to_string();
  EXPECT_EQ((*v6)->address().rfind("[::1]:", 0), 0u) << (*v6)->address();
  EXPECT_EQ(status_line(roundtrip((*v6)->address(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, ScrapeOverUnixSocketMode0600RemovedOnStop) {
  TempDir dir;
  Metrics m;
  std::string path = dir.path() + "/metrics.sock";
  auto server = start("unix:" + path, m);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->address(), "unix:" + path);
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string r = roundtrip(server->address(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(body_of(r), m.render());
  server->stop();
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << "stop() removes its socket";
  server->stop();  // idempotent
}

TEST(MetricsServer, StaleUnixSocketIsReplacedLiveOneIsNot) {
  TempDir dir;
  Metrics m;
  std::string path = dir.path() + "/metrics.sock";
  {
    // A socket file nobody listens on (an agent that was killed).
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  }
  auto first = start("unix:" + path, m);
  ASSERT_NE(first, nullptr);
  auto second = MetricsServer::start("unix:" + path, m);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("already serving on it"), std::string::npos) << second.status().message();
  EXPECT_EQ(status_line(roundtrip(first->address(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");

  std::string file = dir.path() + "/plain";
  ASSERT_EQ(std::system(("touch " + file).c_str()), 0);
  auto not_socket = MetricsServer::start("unix:" + file, m);
  ASSERT_FALSE(not_socket.is_ok());
  EXPECT_NE(not_socket.status().message().find("not a socket"), std::string::npos);
}

TEST(MetricsServer, RootPathNotFoundAndHead) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  std::string r = roundtrip(server->address(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_NE(body_of(r).find("/metrics"), std::string::npos);
  EXPECT_EQ(status_line(roundtrip(server->address(), "GET /nope HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(status_line(roundtrip(server->address(), "GET /metrics/x HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
  r = roundtrip(server->address(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(body_of(r), "") << "HEAD has no body";
  EXPECT_NE(r.find("Content-Length: " + std::to_string(m.render().size())), std::string::npos);
}

TEST(MetricsServer, OtherMethodsAre405) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    std::string r = roundtrip(server->address(), std::string(method) + " /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 405 Method Not Allowed") << method;
    EXPECT_NE(r.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  }
}

TEST(MetricsServer, MalformedRequestsAre400) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  for (const char* req : {"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/1.1 extra\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTX/1.1\r\n\r\n", "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\n folded: header\r\n\r\n", "\r\n\r\n"}) {
    EXPECT_EQ(status_line(roundtrip(server->address(), req)), "HTTP/1.1 400 Bad Request") << req;
  }
  EXPECT_EQ(status_line(roundtrip(server->address(), "GET /metrics HTTP/2.0\r\n\r\n")),
            "HTTP/1.1 505 HTTP Version Not Supported");
  // Bare LF line endings are tolerated (RFC 9112 2.2).
  EXPECT_EQ(status_line(roundtrip(server->address(), "GET /metrics HTTP/1.1\nHost: x\n\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, OversizedHeadersAre431AndClosed) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  std::string big = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_line(roundtrip(server->address(), big)), "HTTP/1.1 431 Request Header Fields Too Large");
  // Never terminated: the server answers as soon as 8 KiB are in, without waiting for the rest.
  UniqueFd fd = dial(server->address());
  ASSERT_TRUE(fd.valid());
  std::string endless = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(8300, 'a');
  ASSERT_EQ(::send(fd.get(), endless.data(), endless.size(), MSG_NOSIGNAL), ssize_t(endless.size()));
  auto t0 = Clock::now();
  EXPECT_EQ(status_line(read_all(fd.get())), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
}

TEST(MetricsServer, SlowClientDoesNotBlockOtherScrapesAndIsClosed) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  // Sends half a request line and then nothing.
  UniqueFd slow = dial(server->address());
  ASSERT_TRUE(slow.valid());
  ASSERT_EQ(::send(slow.get(), "GET /met", 8, MSG_NOSIGNAL), 8);
  // A silent one that sends nothing at all.
  UniqueFd silent = dial(server->address());
  ASSERT_TRUE(silent.valid());

  auto t0 = Clock::now();
  EXPECT_EQ(status_line(roundtrip(server->address(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));

  // Both are closed by the server after its 5 s request deadline (EOF, no response).
  t0 = Clock::now();
  EXPECT_EQ(read_all(slow.get(), std::chrono::milliseconds(8000)), "");
  auto waited = Clock::now() - t0;
  EXPECT_GT(waited, std::chrono::seconds(3));
  EXPECT_LT(waited, std::chrono::seconds(7));
  EXPECT_EQ(read_all(silent.get(), std::chrono::milliseconds(2000)), "");
}

TEST(MetricsServer, ConnectionsBeyondTheCapWaitTheirTurn) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(dial(server->address()));
    ASSERT_TRUE(idle.back().valid());
  }
  UniqueFd late = dial(server->address());  // in the listen backlog
  ASSERT_TRUE(late.valid());
  std::string req = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(late.get(), req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  // Freeing one slot lets the server accept the waiting client.
  idle.pop_back();
  EXPECT_EQ(status_line(read_all(late.get())), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, ClientThatNeverReadsDoesNotWedgeTheServer) {
  Metrics m;
  // A large exposition, so the response does not fit in the socket buffers.
  for (int i = 0; i < 900; ++i) m.add("runguard_monitor_events_total", {{"rule", std::string(200, 'r') + std::to_string(i)}});
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  UniqueFd hog = dial(server->address());
  int small = 4096;
  ::setsockopt(hog.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string req = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(hog.get(), req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  auto t0 = Clock::now();
  std::string r = roundtrip(server->address(), req);
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(body_of(r), m.render());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
}

TEST(MetricsServer, RefusesNonLoopbackAndBadAddresses) {
  Metrics m;
  for (const char* a : {"0.0.0.0:9447", "10.1.2.3:9447", "[::]:9447", "example.com:9447", "127.0.0.1", "127.0.0.1:99999",
                        "127.0.0.1:x", "unix:relative.sock", "unix:", "", "::1:9447"}) {
    auto s = MetricsServer::start(a, m);
    ASSERT_FALSE(s.is_ok()) << a;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << a;
    EXPECT_NE(s.status().message().find("metrics address"), std::string::npos) << s.status().message();
  }
  auto s = MetricsServer::start("unix:/" + std::string(200, 'x'), m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("longer than"), std::string::npos);
}

TEST(MetricsServer, PortInUseIsAnError) {
  Metrics m;
  auto first = start("127.0.0.1:0", m);
  ASSERT_NE(first, nullptr);
  auto second = MetricsServer::start(first->address(), m);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find(first->address()), std::string::npos) << second.status().to_string();
}

TEST(MetricsServer, StopJoinsPromptlyWithClientsConnected) {
  Metrics m;
  auto server = start("127.0.0.1:0", m);
  ASSERT_NE(server, nullptr);
  std::string addr = server->address();
  UniqueFd idle = dial(addr);
  ASSERT_TRUE(idle.valid());
  auto t0 = Clock::now();
  server->stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(read_all(idle.get(), std::chrono::milliseconds(1000)), "") << "its connections are closed";
  EXPECT_FALSE(dial(addr).valid()) << "no longer listening";
  server.reset();  // the destructor after stop() is fine
}

}  // namespace
