// MetricsServer: a deliberately tiny HTTP/1.1 server for Prometheus scrapes (metrics.h).
//
// One thread, one poll loop over: a wake pipe (stop()), the listening socket and at most
// kMaxConnections accepted connections. Every socket is non-blocking, so a client that sends
// half a request, or never reads its response, only ever costs its own slot until its deadline
// (kClientTimeout); other scrapes go on around it. While every slot is taken the listening
// socket is not polled: new clients wait in the kernel's backlog, and slots free up within
// kClientTimeout at most. One request per connection, then "Connection: close".
//
// The listener is loopback TCP or a unix socket (mode 0600: root scrapes it, or a proxy that runs
// as root). Anything else is refused at start(): metrics name containers, images and rules.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

#include "runguard/agent/metrics.h"
#include "runguard/nsutil/fd.h"
#include "unix_socket.h"

namespace runguard::agent {
namespace {

using nsutil::UniqueFd;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 8 * 1024;
constexpr size_t kMaxConnections = 64;
constexpr auto kClientTimeout = std::chrono::seconds(5);
constexpr int kBacklog = 64;

// ---- addresses ----

struct ListenAddress {
  bool is_unix = false;
  std::string path;             // unix
  sockaddr_storage addr{};      // tcp
  socklen_t addr_len = 0;
};

Result<uint16_t> parse_port(const std::string& text, const std::string& address) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(text) > 65535) {
    return invalid("metrics address \"" + address + "\": port \"" + text + "\" is not a number from 0 to 65535");
  }
  return static_cast<uint16_t>(std::stoul(text));
}

Result<ListenAddress> parse_address(const std::string& address) {
  ListenAddress out;
  if (address.rfind("unix:", 0) == 0) {
    out.is_unix = true;
    out.path = address.substr(5);
    if (out.path.empty() || out.path[0] != '/') {
      return invalid("metrics address \"" + address + "\": a unix socket needs an absolute path (unix:/run/runguard/metrics.sock)");
    }
    if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return invalid("metrics address \"" + address + "\": socket path longer than " +
                     std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
    }
    return out;
  }
  std::string host, port;
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find("]:");
    if (close == std::string::npos) return invalid("metrics address \"" + address + "\": expected [IPV6]:PORT");
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return invalid("metrics address \"" + address + "\": expected HOST:PORT (127.0.0.1:9447, [::1]:9447) or unix:/path");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  RG_ASSIGN_OR_RETURN(uint16_t p, parse_port(port, address));
  if (host == "localhost") host = "127.0.0.1";  // no resolver: the agent may be a static binary
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  bool loopback = false;
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(p);
    out.addr_len = sizeof(sockaddr_in);
    loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(p);
    out.addr_len = sizeof(sockaddr_in6);
    loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  } else {
    return invalid("metrics address \"" + address + "\": \"" + host + "\" is not an IP address (use 127.0.0.1, [::1] or localhost)");
  }
  if (!loopback) {
    return invalid("metrics address \"" + address + "\" is not a loopback address; runguardd serves metrics on loopback or a unix "
                   "socket only (put a proxy in front to expose them)");
  }
  return out;
}

std::string format_tcp(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

// ---- HTTP ----

const char* reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

std::string response(int code, const std::string& content_type, const std::string& body, bool head_only = false,
                     const std::string& extra_headers = "") {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + reason(code) + "\r\n";
  r += "Content-Type: " + content_type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "Connection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

std::string error_response(int code, const std::string& detail) {
  return response(code, "text/plain; charset=utf-8", std::to_string(code) + " " + reason(code) + ": " + detail + "\n", false,
                  code == 405 ? "Allow: GET, HEAD\r\n" : "");
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c <= 32 || c >= 127 || std::strchr("()<>@,;:\\\"/[]?={}", c) != nullptr) return false;
  }
  return true;
}

// The complete response to one request head (request line + headers, terminator excluded).
std::string answer(std::string_view head, const Metrics& metrics) {
  size_t eol = head.find('\n');
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return error_response(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return error_response(400, "malformed request line");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return error_response(400, "malformed http version");
  }
  if (version[5] != '1') return error_response(505, "this server speaks HTTP/1.1");
  // Header lines: "name: value"; obsolete line folding and nameless lines are refused.
  while (eol != std::string_view::npos) {
    size_t next = head.find('\n', eol + 1);
    std::string_view h = head.substr(eol + 1, next == std::string_view::npos ? std::string_view::npos : next - eol - 1);
    if (!h.empty() && h.back() == '\r') h.remove_suffix(1);
    eol = next;
    if (h.empty()) continue;
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || !is_token(h.substr(0, colon))) return error_response(400, "malformed header line");
  }
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) return error_response(405, "only GET and HEAD are served");
  if (target[0] != '/') return error_response(400, "request target must be a path");
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/metrics") return response(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(), head_only);
  if (path == "/") {
    return response(200, "text/html; charset=utf-8",
                    "<html><head><title>runguardd</title></head><body><h1>runguardd</h1>"
                    "<p><a href=\"/metrics\">/metrics</a>: Prometheus text format 0.0.4</p></body></html>\n",
                    head_only);
  }
  return response(404, "text/plain; charset=utf-8", "404 Not Found: try /metrics\n", head_only);
}

// Where a request head ends: after "\r\n\r\n" (or a bare "\n\n"); npos while incomplete.
size_t head_end(const std::string& buf, size_t* terminator) {
  size_t crlf = buf.find("\r\n\r\n"), lf = buf.find("\n\n");
  if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf)) {
    *terminator = 4;
    return crlf;
  }
  *terminator = 2;
  return lf;
}

struct Connection {
  UniqueFd fd;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool responding = false;
  Clock::time_point deadline;
};

}  // namespace

struct MetricsServer::Impl {
  Metrics metrics;  // shares the registry with the agent (Metrics is a handle)
  UniqueFd listener, wake_read, wake_write;
  std::string bound;
  std::string unix_path;
  dev_t unix_dev = 0;
  ino_t unix_ino = 0;
  std::thread thread;

  explicit Impl(const Metrics& m) : metrics(m) {}

  void run();
  // Reads what the client sent; once the head is complete, queues the response.
  // False when the connection is done (closed by the peer, an error).
  bool on_readable(Connection& c);
  // Sends queued bytes; false when done (all sent, or an error).
  static bool on_writable(Connection& c);
  void queue(Connection& c, std::string out) {
    c.out = std::move(out);
    c.responding = true;
    c.deadline = Clock::now() + kClientTimeout;
  }
};

bool MetricsServer::Impl::on_readable(Connection& c) {
  char buf[4096];
  for (;;) {
    size_t room = kMaxHeaderBytes + 4 - c.in.size();  // room for the terminator after a full head
    ssize_t n = ::recv(c.fd.get(), buf, std::min(sizeof buf, room), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (n == 0) return false;  // gave up before finishing its request
    c.in.append(buf, static_cast<size_t>(n));
    size_t term = 0;
    size_t end = head_end(c.in, &term);
    if (end != std::string::npos && end <= kMaxHeaderBytes) {
      queue(c, answer(std::string_view(c.in).substr(0, end), metrics));
      return on_writable(c);
    }
    if (end != std::string::npos || c.in.size() >= kMaxHeaderBytes + 4) {
      queue(c, error_response(431, "request head larger than " + std::to_string(kMaxHeaderBytes) + " bytes"));
      return on_writable(c);
    }
    if (static_cast<size_t>(n) < std::min(sizeof buf, room)) return true;  // drained for now
  }
}

bool MetricsServer::Impl::on_writable(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    c.sent += static_cast<size_t>(n);
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  return false;
}

void MetricsServer::Impl::run() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_read.get(), POLLIN, 0});
    bool accepting = conns.size() < kMaxConnections;
    fds.push_back({accepting ? listener.get() : -1, POLLIN, 0});
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (const auto& c : conns) {
      fds.push_back({c.fd.get(), static_cast<short>(c.responding ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline);
    }
    int timeout = -1;
    if (next != Clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
      timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 60000));
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) return;  // EFAULT/EINVAL/ENOMEM: nothing sensible left to do
    if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) return;

    now = Clock::now();
    std::vector<bool> keep(conns.size(), true);
    for (size_t i = 0; i < conns.size(); ++i) {
      short rev = n > 0 ? fds[i + 2].revents : 0;
      Connection& c = conns[i];
      if (rev != 0) {
        if (c.responding) keep[i] = (rev & POLLERR) == 0 && on_writable(c);
        else keep[i] = (rev & (POLLIN | POLLHUP | POLLERR)) != 0 ? on_readable(c) : true;
      }
      if (keep[i] && c.deadline <= now) keep[i] = false;  // too slow sending or reading: closed
    }
    std::vector<Connection> live;
    live.reserve(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
      if (keep[i]) live.push_back(std::move(conns[i]));
    }
    conns.swap(live);

    if (accepting && n > 0 && (fds[1].revents & POLLIN) != 0) {
      while (conns.size() < kMaxConnections) {
        int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;  // EAGAIN, or an aborted connection / fd exhaustion: retried on the next wakeup
        Connection c;
        c.fd.reset(fd);
        c.deadline = Clock::now() + kClientTimeout;
        conns.push_back(std::move(c));
      }
    }
  }
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, const Metrics& metrics) {
  RG_ASSIGN_OR_RETURN(ListenAddress la, parse_address(address));
  auto impl = std::make_unique<Impl>(metrics);
  int family = la.is_unix ? AF_UNIX : la.addr.ss_family;
  if (la.is_unix) {
    // The agent's own socket rules: a stale socket replaced, a live one or a non-socket refused,
    // mode 0600 before anyone can connect (unix_socket.h).
    RG_ASSIGN_OR_RETURN(BoundSocket bound, listen_unix(la.path, "agent.metrics", kBacklog));
    impl->listener = std::move(bound.fd);
    impl->unix_path = la.path;
    impl->unix_dev = bound.dev;
    impl->unix_ino = bound.ino;
    impl->bound = "unix:" + la.path;
  } else {
    impl->listener.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!impl->listener.valid()) return io_error("metrics socket for " + address, errno);
    int fd = impl->listener.get();
    int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&la.addr), la.addr_len) != 0) return io_error("binding metrics address " + address, errno);
    sockaddr_storage got{};
    socklen_t len = sizeof got;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len) != 0) return io_error("getsockname " + address, errno);
    impl->bound = format_tcp(got);
    if (::listen(fd, kBacklog) != 0) return io_error("listen on metrics address " + impl->bound, errno);
  }
  // From here a failure must also remove the unix socket file; the server's destructor does.
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->impl_ = std::move(impl);
  Impl& im = *server->impl_;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return io_error("pipe2", errno);
  im.wake_read.reset(pipe_fds[0]);
  im.wake_write.reset(pipe_fds[1]);
  try {
    im.thread = std::thread([&im] { im.run(); });
  } catch (const std::system_error& e) {
    return Status(Code::kIo, "starting the metrics thread: " + std::string(e.what()));
  }
  return server;
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::stop() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    char one = 1;
    ssize_t ignored = ::write(impl_->wake_write.get(), &one, 1);  // a full pipe already wakes it
    (void)ignored;
    impl_->thread.join();
  }
  impl_->listener.reset();
  if (!impl_->unix_path.empty()) {
    // Only the socket this server bound: another agent may have replaced it since.
    unlink_if_same(impl_->unix_path, impl_->unix_dev, impl_->unix_ino);
    impl_->unix_path.clear();
  }
}

std::string MetricsServer::address() const { return impl_ ? impl_->bound : std::string(); }

}  // namespace runguard::agent
