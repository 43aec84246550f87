#include "internal_server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "unix_socket.h"

namespace runguard::agent {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenToken = 1;
constexpr uint64_t kWakeToken = 2;
constexpr uint64_t kFirstConnToken = 16;
constexpr size_t kReadChunk = 64 * 1024;
// Bytes read from one connection per loop turn, so one busy peer cannot starve the others.
constexpr size_t kReadBudget = 1u << 20;

// Replies travel from any thread to the loop through this queue; the eventfd wakes the loop.
struct ReplyQueue {
  std::mutex mu;
  std::deque<std::pair<uint64_t, Json>> items;
  int wake_fd = -1;
  bool closed = false;

  void post(uint64_t token, Json reply) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) return;
    items.emplace_back(token, std::move(reply));
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd, &one, sizeof one);
    (void)ignored;
  }
};

struct Conn {
  nsutil::UniqueFd fd;
  frame::FrameDecoder decoder;
  std::string out;  // encoded replies not yet written
  Clock::time_point last_activity;
  std::optional<Clock::time_point> partial_since;  // first byte of an incomplete frame
  int outstanding = 0;                             // requests whose reply has not been written
  bool read_closed = false;                        // peer shut down its side
  bool close_after_flush = false;                  // version error: write the reply, then close
  bool notifier = false;                           // sent a notification: a long-lived sender
  uint32_t registered = 0;                         // epoll events currently asked for

  explicit Conn(int f, uint32_t max_frame) : fd(f), decoder(max_frame), last_activity(Clock::now()) {}
};

}  // namespace

struct InternalServer::Impl {
  Options options;
  Handler& handler;
  const Logger& log;
  BoundSocket listener;
  nsutil::UniqueFd epoll;
  nsutil::UniqueFd wake;
  std::shared_ptr<ReplyQueue> replies = std::make_shared<ReplyQueue>();
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::atomic<size_t> conn_count{0};
  uint64_t next_token = kFirstConnToken;
  std::atomic<bool> stopping{false};
  bool listener_paused = false;
  Clock::time_point listener_resume;
  std::thread thread;
  bool stopped = false;

  Impl(Options o, Handler& h, const Logger& l) : options(std::move(o)), handler(h), log(l) {}

  void run();
  void accept_all();
  void reap_closed();
  void evict_idle_notifier();
  void on_conn_event(uint64_t token, uint32_t events);
  void read_conn(uint64_t token, Conn& c);
  bool process_frames(uint64_t token, Conn& c);
  void queue_reply(Conn& c, const Json& reply);
  void flush(uint64_t token, Conn& c);
  void update_interest(uint64_t token, Conn& c);
  void maybe_finish(uint64_t token, Conn& c);
  void close_conn(uint64_t token);
  void drain_replies();
  void sweep();
};

namespace {

bool epoll_add(int ep, int fd, uint32_t events, uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  return ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

}  // namespace

Result<std::unique_ptr<InternalServer>> InternalServer::start(Options options, Handler& handler, const Logger& log) {
  auto impl = std::make_unique<Impl>(std::move(options), handler, log);
  RG_ASSIGN_OR_RETURN(impl->listener, listen_unix(impl->options.socket_path, "agent.internalSocket"));
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  impl->wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->epoll.valid() || !impl->wake.valid() ||
      !epoll_add(impl->epoll.get(), impl->listener.fd.get(), EPOLLIN, kListenToken) ||
      !epoll_add(impl->epoll.get(), impl->wake.get(), EPOLLIN, kWakeToken)) {
    int err = errno;
    unlink_if_same(impl->options.socket_path, impl->listener.dev, impl->listener.ino);
    return io_error("setting up the internal socket's event loop", err);
  }
  impl->replies->wake_fd = impl->wake.get();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<InternalServer>(new InternalServer(std::move(impl)));
}

InternalServer::InternalServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InternalServer::~InternalServer() { stop(); }

void InternalServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping = true;
  uint64_t one = 1;
  ssize_t ignored = ::write(impl_->wake.get(), &one, sizeof one);
  (void)ignored;
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    std::lock_guard<std::mutex> lock(impl_->replies->mu);
    impl_->replies->closed = true;  // late replies from workers are dropped, never written to a reused fd
    impl_->replies->items.clear();
  }
  impl_->conns.clear();
  impl_->conn_count = 0;
  unlink_if_same(impl_->options.socket_path, impl_->listener.dev, impl_->listener.ino);
  impl_->listener.fd.reset();
}

size_t InternalServer::connections() const { return impl_->conn_count.load(); }
const std::string& InternalServer::path() const { return impl_->options.socket_path; }

void InternalServer::Impl::run() {
  epoll_event events[64];
  auto last_sweep = Clock::now();
  while (!stopping.load()) {
    int n = ::epoll_wait(epoll.get(), events, 64, 250);
    if (n < 0 && errno != EINTR) {
      log.error(std::string("internal socket event loop: epoll_wait: ") + std::strerror(errno));
      return;
    }
    for (int i = 0; i < n && !stopping.load(); ++i) {
      uint64_t token = events[i].data.u64;
      if (token == kListenToken) {
        accept_all();
      } else if (token == kWakeToken) {
        uint64_t v;
        while (::read(wake.get(), &v, sizeof v) > 0) {
        }
      } else {
        on_conn_event(token, events[i].events);
      }
    }
    drain_replies();
    if (Clock::now() - last_sweep >= std::chrono::milliseconds(250)) {
      sweep();
      last_sweep = Clock::now();
    }
  }
}

void InternalServer::Impl::accept_all() {
  bool reaped = false;
  for (;;) {
    int fd = ::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listener would stay readable and spin the loop: pause it for a moment.
        log.warning(std::string("internal socket: accept: ") + std::strerror(errno) + "; pausing accepts for 1s");
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, listener.fd.get(), nullptr);
        listener_paused = true;
        listener_resume = Clock::now() + std::chrono::seconds(1);
      }
      return;
    }
    if (conns.size() >= options.max_connections && !reaped) {
      // Before refusing anyone, drop connections whose peers are already gone but whose EOF
      // this loop has not processed yet (a burst of connect-then-close), then a notifier that
      // has been quiet for longer than the idle timeout (it would have been closed as idle).
      reap_closed();
      reaped = true;
    }
    if (conns.size() >= options.max_connections) evict_idle_notifier();
    if (conns.size() >= options.max_connections) {
      ::close(fd);
      log.debug("internal socket: " + std::to_string(conns.size()) + " connections open, closing a new one");
      continue;
    }
    uint64_t token = next_token++;
    auto conn = std::make_unique<Conn>(fd, options.max_frame);
    if (!epoll_add(epoll.get(), fd, EPOLLIN | EPOLLRDHUP, token)) {
      log.warning(std::string("internal socket: epoll_ctl: ") + std::strerror(errno));
      continue;  // conn's destructor closes fd
    }
    conn->registered = EPOLLIN | EPOLLRDHUP;
    conns.emplace(token, std::move(conn));
    conn_count = conns.size();
  }
}

void InternalServer::Impl::reap_closed() {
  std::vector<uint64_t> gone;
  for (auto& [token, c] : conns) {
    if (c->outstanding > 0 || !c->out.empty()) continue;  // owed a reply: let the normal path decide
    char byte;
    ssize_t n = ::recv(c->fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) gone.push_back(token);
  }
  for (uint64_t t : gone) {
    if (conns.at(t)->decoder.pending() > 0) handler.on_bad_frame("connection closed in the middle of a frame");
    close_conn(t);
  }
}

void InternalServer::Impl::evict_idle_notifier() {
  auto now = Clock::now();
  auto oldest = conns.end();
  for (auto it = conns.begin(); it != conns.end(); ++it) {
    const Conn& c = *it->second;
    if (!c.notifier || c.outstanding > 0 || !c.out.empty() || c.partial_since || now - c.last_activity <= options.idle_timeout) continue;
    if (oldest == conns.end() || c.last_activity < oldest->second->last_activity) oldest = it;
  }
  if (oldest == conns.end()) return;
  log.debug("internal socket: " + std::to_string(conns.size()) + " connections open, closing the longest quiet sender's");
  close_conn(oldest->first);
}

void InternalServer::Impl::on_conn_event(uint64_t token, uint32_t events) {
  auto it = conns.find(token);
  if (it == conns.end()) return;
  Conn& c = *it->second;
  if (events & EPOLLOUT) {
    flush(token, c);
    if (conns.find(token) == conns.end()) return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c.read_closed && !c.close_after_flush) {
    read_conn(token, c);
    return;
  }
  if (events & (EPOLLHUP | EPOLLERR)) close_conn(token);  // nothing more can be read or written
}

void InternalServer::Impl::read_conn(uint64_t token, Conn& c) {
  char buf[kReadChunk];
  size_t budget = kReadBudget;
  while (budget > 0) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close_conn(token);  // ECONNRESET and the like
      return;
    }
    if (n == 0) {
      c.read_closed = true;
      break;
    }
    c.last_activity = Clock::now();
    c.decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
    budget -= std::min(budget, static_cast<size_t>(n));
    if (!process_frames(token, c)) return;  // closed
    if (c.close_after_flush) break;
  }
  if (c.read_closed && c.decoder.pending() > 0) {
    // EOF in the middle of a frame: the frame can never complete.
    handler.on_bad_frame("connection closed in the middle of a frame (" + std::to_string(c.decoder.pending()) + " bytes)");
    close_conn(token);
    return;
  }
  update_interest(token, c);
  maybe_finish(token, c);
}

// Handles every complete frame buffered; false when the connection was closed.
bool InternalServer::Impl::process_frames(uint64_t token, Conn& c) {
  for (;;) {
    auto next = c.decoder.next();
    if (!next.is_ok()) {
      handler.on_bad_frame(next.status().message());
      log.debug("internal socket: closing a connection: " + next.status().message());
      close_conn(token);
      return false;
    }
    if (!next->has_value()) break;
    const Json& msg = **next;
    if (Status env = frame::check_envelope(msg); !env.is_ok()) {
      if (env.code() == Code::kUnavailable) {
        Json reply = frame::error_reply(env.message());
        reply["versions"] = Json::array({frame::kProtocolVersion});
        queue_reply(c, reply);
        c.close_after_flush = true;
        flush(token, c);
        return conns.find(token) != conns.end();
      }
      handler.on_bad_frame(env.message());
      log.debug("internal socket: closing a connection: " + env.message());
      close_conn(token);
      return false;
    }
    const std::string& op = msg["op"].get_ref<const std::string&>();
    std::weak_ptr<ReplyQueue> weak = replies;
    ReplyFn reply = [weak, token](Json r) {
      if (auto q = weak.lock()) q->post(token, std::move(r));
    };
    if (handler.on_frame(op, msg, std::move(reply))) ++c.outstanding;
    else c.notifier = true;
  }
  if (c.decoder.pending() == 0) c.partial_since.reset();
  else if (!c.partial_since) c.partial_since = Clock::now();
  return true;
}

void InternalServer::Impl::queue_reply(Conn& c, const Json& reply) {
  auto bytes = frame::encode(reply);
  if (!bytes.is_ok()) bytes = frame::encode(frame::error_reply("reply too large: " + bytes.status().message()));
  if (bytes.is_ok()) c.out += *bytes;
}

void InternalServer::Impl::flush(uint64_t token, Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close_conn(token);  // EPIPE: the peer is gone
      return;
    }
    c.out.erase(0, static_cast<size_t>(n));
    c.last_activity = Clock::now();
  }
  if (c.out.size() > options.max_write_buffer) {
    log.debug("internal socket: closing a connection that does not read its replies");
    close_conn(token);
    return;
  }
  update_interest(token, c);
  maybe_finish(token, c);
}

void InternalServer::Impl::update_interest(uint64_t token, Conn& c) {
  uint32_t want = 0;
  if (!c.read_closed && !c.close_after_flush) want |= EPOLLIN | EPOLLRDHUP;
  if (!c.out.empty()) want |= EPOLLOUT;
  if (want == c.registered) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) == 0) c.registered = want;
}

void InternalServer::Impl::maybe_finish(uint64_t token, Conn& c) {
  if (!c.out.empty()) return;
  if (c.close_after_flush || (c.read_closed && c.outstanding == 0)) close_conn(token);
}

void InternalServer::Impl::close_conn(uint64_t token) {
  auto it = conns.find(token);
  if (it == conns.end()) return;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
  conns.erase(it);  // closes the fd
  conn_count = conns.size();
}

void InternalServer::Impl::drain_replies() {
  std::deque<std::pair<uint64_t, Json>> items;
  {
    std::lock_guard<std::mutex> lock(replies->mu);
    items.swap(replies->items);
  }
  for (auto& [token, reply] : items) {
    auto it = conns.find(token);
    if (it == conns.end()) continue;  // the requester went away
    Conn& c = *it->second;
    if (c.outstanding > 0) --c.outstanding;
    queue_reply(c, reply);
    flush(token, c);
  }
}

void InternalServer::Impl::sweep() {
  auto now = Clock::now();
  if (listener_paused && now >= listener_resume) {
    if (epoll_add(epoll.get(), listener.fd.get(), EPOLLIN, kListenToken)) listener_paused = false;
  }
  std::vector<uint64_t> expired;
  for (auto& [token, c] : conns) {
    if (c->partial_since && now - *c->partial_since > options.partial_frame_timeout) {
      log.debug("internal socket: closing a connection that left a frame incomplete for " +
                std::to_string(options.partial_frame_timeout.count()) + "ms");
      expired.push_back(token);
    } else if (!c->out.empty() && now - c->last_activity > options.partial_frame_timeout) {
      expired.push_back(token);  // not reading its replies
    } else if (!c->notifier && c->outstanding == 0 && c->out.empty() && now - c->last_activity > options.idle_timeout) {
      expired.push_back(token);
    }
  }
  for (uint64_t t : expired) close_conn(t);
}

}  // namespace runguard::agent
