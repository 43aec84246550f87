#include "server.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "runguard/common/frame.h"
#include "runguard/monitor/eval.h"
#include "runguard/nsutil/proc_info.h"
#include "runguard/nsutil/target_memory.h"
#include "daemonize.h"

namespace runguard::monitord {

std::string Counters::summary() const {
  return "summary: notifications=" + std::to_string(notifications) + " continues=" + std::to_string(continues) +
         " blocks=" + std::to_string(blocks) + " gone=" + std::to_string(gone) +
         " build_failures=" + std::to_string(build_failures) + " events=" + std::to_string(events) +
         " event_write_failures=" + std::to_string(event_write_failures) +
         " connections=" + std::to_string(connections) + " rejected_connections=" + std::to_string(rejected_connections) +
         (agent ? " agent_sent=" + std::to_string(agent_stats.sent) + " agent_dropped=" + std::to_string(agent_stats.dropped) +
                      " agent_connects=" + std::to_string(agent_stats.connects)
                : "");
}

Server::Server(MonitorConfig config, monitor::Ruleset rules, EventsFile events, std::string hostname,
               std::unique_ptr<AgentSink> agent)
    : config_(std::move(config)),
      rules_(std::move(rules)),
      events_(std::move(events)),
      hostname_(std::move(hostname)),
      builder_(config_.container),
      agent_(std::move(agent)) {
  counters_.agent = agent_ != nullptr;
  for (const auto& r : rules_.rules) {
    watched_types_.insert(r.event_types.begin(), r.event_types.end());
  }
}

Status Server::listen() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) {
    sigaddset(&mask, sig);
    ::signal(sig, SIG_DFL);  // an ignored signal (inherited SIG_IGN) never reaches the signalfd
  }
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return io_error("sigprocmask", errno);
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_.valid()) return io_error("signalfd", errno);

  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (config_.socket_path.size() >= sizeof addr.sun_path) return invalid("socket path too long: " + config_.socket_path);
  std::memcpy(addr.sun_path, config_.socket_path.c_str(), config_.socket_path.size() + 1);
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) return io_error("socket", errno);
  if (::unlink(config_.socket_path.c_str()) != 0 && errno != ENOENT) {
    return io_error("removing stale socket " + config_.socket_path, errno);
  }
  mode_t old = ::umask(077);
  int rc = ::bind(listen_fd_.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) return io_error("binding " + config_.socket_path, bind_errno);
  if (::chmod(config_.socket_path.c_str(), 0600) != 0) return io_error("chmod " + config_.socket_path, errno);
  if (::listen(listen_fd_.get(), 64) != 0) return io_error("listen on " + config_.socket_path, errno);
  return Status::ok();
}

void Server::shutdown(const std::string& why) {
  ::unlink(config_.socket_path.c_str());
  log_line("exiting: " + why);
  if (agent_) {
    send_stats_if_due(std::chrono::steady_clock::now(), true);
    agent_->flush(kExitFlush);
    counters_.agent_stats = agent_->stats();
  }
  log_line(counters_.summary());
}

namespace {

double seconds_since(const struct timespec& start) {
  struct timespec now = {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - start.tv_sec) + static_cast<double>(now.tv_nsec - start.tv_nsec) * 1e-9;
}

}  // namespace

void Server::observe_round_trip(const struct timespec& received) { round_trips_.observe(seconds_since(received)); }

void Server::offer_event(const Json& line) {
  if (agent_) agent_->offer(frame::message("event", {{"event", line}}));
}

// A delta is taken only when it can be sent: while the agent is away the histogram keeps
// counting, and the next delta covers the whole gap.
void Server::send_stats_if_due(std::chrono::steady_clock::time_point now, bool at_exit) {
  if (!agent_ || round_trips_.empty()) return;
  if (!at_exit && now - last_stats_ < kStatsInterval) return;
  last_stats_ = now;
  if (!agent_->try_connect(now, at_exit)) return;
  agent_->offer(round_trips_.take_stats_message(config_.container.id), now);
}

// The poll timeout of the next stats delta; -1 (none) while the histogram is empty, so an idle
// monitor never wakes up for the agent.
int Server::timer_timeout_ms(std::chrono::steady_clock::time_point now) const {
  if (!agent_ || round_trips_.empty()) return -1;
  auto due = last_stats_ + kStatsInterval;
  return now >= due ? 0 : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(due - now).count());
}

void Server::accept_connections() {
  for (;;) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        log_line("accept: " + std::string(std::strerror(errno)));
      }
      return;
    }
    nsutil::UniqueFd sock(fd);
    auto cred = nsutil::peer_credentials(fd);
    if (!cred.is_ok() || cred->uid != ::geteuid()) {
      ++counters_.rejected_connections;
      log_line("refusing a connection from uid " + (cred.is_ok() ? std::to_string(cred->uid) : "?") +
               ": only the runtime (uid " + std::to_string(::geteuid()) + ") may connect");
      continue;
    }
    ++counters_.connections;
    pending_.push_back(std::make_unique<nsutil::ListenerConnection>(std::move(sock)));
  }
}

// Returns after one read; the caller drops the connection when it is finished (message or error).
void Server::read_connection(size_t index) {
  auto& conn = *pending_[index];
  auto got = conn.read_some();
  if (!got.is_ok()) {
    log_line("listener connection: " + got.status().to_string());
    pending_[index].reset();
    return;
  }
  if (!*got) return;
  auto msg = conn.take_message();
  pending_[index].reset();  // runc sends one message per connection; we close our end
  if (!msg.is_ok()) {
    log_line("listener message: " + msg.status().to_string());
    return;
  }
  adopt_message(std::move(*msg));
}

void Server::adopt_message(nsutil::ListenerMessage msg) {
  const auto& st = msg.state;
  if (!got_message_) {
    got_message_ = true;
    pid_t init = st.state.pid > 0 ? st.state.pid : st.pid;
    builder_.set_init(init);
    auto pidfd = nsutil::open_pidfd(init);
    if (pidfd.is_ok()) {
      init_pidfd_ = std::move(*pidfd);
    } else {
      log_line("cannot watch container init pid " + std::to_string(init) + ": " + pidfd.status().to_string());
    }
  }
  if (st.state.id != config_.container.id) {
    log_line("warning: listener message for container \"" + st.state.id + "\", configured for \"" +
             config_.container.id + "\"");
  }
  auto fd = nsutil::NotifyFd::adopt(std::move(msg.seccomp_fd));
  if (!fd.is_ok()) {
    log_line("notify fd of pid " + std::to_string(st.pid) + ": " + fd.status().to_string());
    return;
  }
  auto sync = fd->set_sync_wakeup();
  log_line("monitoring pid " + std::to_string(st.pid) + " (container " + st.state.id + ", " + st.state.status +
           ", sync wake-up " + (sync.is_ok() && *sync ? "on" : "off") + ")");
  notifiers_.push_back(Notifier{std::move(*fd), st.pid, false});
}

void Server::serve_notifier(const Notifier& n) {
  auto got = n.fd.recv();
  struct timespec received = {};
  ::clock_gettime(CLOCK_MONOTONIC, &received);
  if (!got.is_ok()) {
    log_line("notify recv (pid " + std::to_string(n.pid) + "): " + got.status().to_string());
    return;
  }
  if (!*got) return;
  handle(n, **got, received);
}

void Server::handle(const Notifier& n, const nsutil::Notification& notif, const struct timespec& received) {
  ++counters_.notifications;
  if (watched_types_.count(syscall_name(notif.arch, notif.nr)) == 0) {
    auto answer = n.fd.respond_continue(notif.id);
    observe_round_trip(received);
    if (answer.is_ok()) ++(*answer == nsutil::NotifyFd::Answer::kGone ? counters_.gone : counters_.continues);
    return;
  }
  struct timespec now = {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  LiveTargetReader mem(static_cast<pid_t>(notif.pid), notif.arch, nsutil::notification_check(n.fd, notif.id));
  auto ev = builder_.build(notif, mem);
  std::vector<monitor::Match> matches;
  bool block = false;
  if (ev.is_ok()) {
    matches = monitor::evaluate(rules_, *ev);
    for (const auto& m : matches) block = block || m.action == monitor::RuleAction::kBlock;
  } else if (!nsutil::is_gone(ev.status())) {
    ++counters_.build_failures;
    log_line("building event for pid " + std::to_string(notif.pid) + ": " + ev.status().to_string());
  }
  bool deny = block && config_.enforces_blocks();
  auto answer = deny ? n.fd.respond_errno(notif.id, EPERM) : n.fd.respond_continue(notif.id);
  observe_round_trip(received);
  if (!answer.is_ok()) {
    log_line("answering notification: " + answer.status().to_string());
  } else if (*answer == nsutil::NotifyFd::Answer::kGone) {
    ++counters_.gone;
  } else {
    ++(deny ? counters_.blocks : counters_.continues);
  }
  if (matches.empty()) return;
  OutputContext ctx{hostname_, now, config_.container};
  for (const auto& m : matches) {
    Json line = event_line_json(m, ctx, decision_name(m.action, config_.enforces_blocks()));
    auto st = events_.append(dump_json(line) + "\n");  // the file first, always
    if (st.is_ok()) {
      ++counters_.events;
    } else {
      ++counters_.event_write_failures;
      log_line(st.to_string());
    }
    offer_event(line);
  }
}

bool Server::handle_signals() {
  struct signalfd_siginfo si;
  while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGUSR1) {
      log_line(counters_.summary());
    } else if (si.ssi_signo != SIGHUP) {
      shutdown(std::string("signal ") + strsignal(static_cast<int>(si.ssi_signo)));
      return true;
    }
  }
  return false;
}

int Server::run() {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(config_.connect_timeout_seconds);
  std::vector<struct pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({signal_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    fds.push_back({init_pidfd_.get(), POLLIN, 0});  // -1 until known: poll ignores it
    constexpr size_t kAgentIndex = 3;
    fds.push_back(agent_ ? agent_->poll_entry() : pollfd{-1, 0, 0});
    const size_t first_conn = fds.size();
    for (const auto& c : pending_) fds.push_back({c->fd(), POLLIN, 0});
    const size_t first_notifier = fds.size();
    for (const auto& n : notifiers_) fds.push_back({n.fd.fd(), POLLIN, 0});
    int timeout = timer_timeout_ms(Clock::now());
    if (!got_message_) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      int connect_left = static_cast<int>(std::max<int64_t>(left, 0));
      timeout = timeout < 0 ? connect_left : std::min(timeout, connect_left);
    }
    int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      shutdown("poll: " + std::string(std::strerror(errno)));
      return 1;
    }
    if (ready == 0 && !got_message_ && Clock::now() >= deadline) {
      shutdown("no listener connection within " + std::to_string(config_.connect_timeout_seconds) + "s");
      return 0;
    }
    // Notifications first: a target is blocked until we answer.
    bool dropped = false;
    for (size_t i = 0; i < notifiers_.size(); ++i) {
      short ev = fds[first_notifier + i].revents;
      if (ev & POLLIN) {
        serve_notifier(notifiers_[i]);
      } else if (ev & (POLLHUP | POLLERR | POLLNVAL)) {
        log_line("pid " + std::to_string(notifiers_[i].pid) + ": no task uses the filter any more");
        notifiers_[i].dead = true;
        dropped = true;
      }
    }
    if (dropped) {
      notifiers_.erase(std::remove_if(notifiers_.begin(), notifiers_.end(), [](const Notifier& n) { return n.dead; }),
                       notifiers_.end());
    }
    if ((fds[0].revents & POLLIN) && handle_signals()) return 0;
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      shutdown("container init exited");
      return 0;
    }
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (fds[first_conn + i].revents) read_connection(i);
    }
    pending_.erase(std::remove(pending_.begin(), pending_.end(), nullptr), pending_.end());
    if (fds[1].revents & POLLIN) accept_connections();
    if (agent_) {
      auto now = Clock::now();
      agent_->on_poll(fds[kAgentIndex].revents, now);
      send_stats_if_due(now, false);
    }
  }
}

}  // namespace runguard::monitord
