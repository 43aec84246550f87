// Server: runguard-monitor's single-threaded event loop.
//
// Watches, with poll(2): the listening socket (runc connects once on create and once per
// `runc exec`); each accepted connection until its state message and notify fd are complete
// (runc 1.1 never closes it, so completeness is the JSON object's end; the connection is then
// closed by us); each notify fd (POLLIN -> recv -> build event -> evaluate -> answer -> append
// events; POLLHUP/POLLERR -> drop); a pidfd of the container's init (state.pid of the first
// message) -> exit when it exits; a signalfd for SIGTERM/SIGINT (exit) and SIGUSR1 (summary).
// Exits too when no message arrived within connectTimeoutSeconds. On every exit the socket is
// unlinked and a summary is logged.
//
// A notification whose syscall no loaded rule can match is answered CONTINUE at once.
// Every notification is answered: CONTINUE unless a matching rule's action is block and the
// configuration enforces blocks (then EPERM). An event that cannot be built answers CONTINUE
// (the target is usually gone; otherwise the failure is logged — fail-open for that one call,
// since the alternative is failing every syscall of a process we cannot read).
// Nothing blocks while a notification waits except local /proc reads and one write(2) per event.
//
// With an AgentSink (monitor.json "agentSocket"), each event line, after it is appended to the
// file, is offered to runguardd as an "event" frame; each notification's handling time (RECV
// returned -> SEND returned, CLOCK_MONOTONIC) goes into a RoundTripHistogram that is offered as a
// "monitor.stats" delta every kStatsInterval while non-empty, and at exit. The agent connection is
// polled for POLLOUT only while frames are queued; nothing ever waits for the agent except a
// bounded flush at exit (kExitFlush). Event lines carry "runguard.kind": "monitor".
//
// Thread-safety: one Server per process, run on the main thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/monitor/ruleset.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/listener.h"
#include "runguard/nsutil/seccomp_notify.h"
#include "agent_sink.h"
#include "config.h"
#include "event_builder.h"
#include "output.h"

namespace runguard::monitord {

struct Counters {
  uint64_t notifications = 0, continues = 0, blocks = 0, gone = 0, build_failures = 0, events = 0,
           event_write_failures = 0, connections = 0, rejected_connections = 0;
  bool agent = false;  // an agent socket is configured: the agent_* counters are meaningful
  AgentSinkStats agent_stats;
  std::string summary() const;
};

class Server {
 public:
  static constexpr std::chrono::seconds kStatsInterval{5};
  static constexpr std::chrono::milliseconds kExitFlush{200};

  // `agent` may be null (no agent socket configured).
  Server(MonitorConfig config, monitor::Ruleset rules, EventsFile events, std::string hostname,
         std::unique_ptr<AgentSink> agent = nullptr);

  // Creates the listening socket (mode 0600 through umask; a stale socket file is replaced) and
  // the signalfd. Call before reporting ready.
  Status listen();
  // Runs until the init exits, a termination signal, or the connect timeout. Returns the exit code.
  int run();
  const Counters& counters() const { return counters_; }

 private:
  struct Notifier {
    nsutil::NotifyFd fd;
    pid_t pid;  // the process the fd was created for (for logs)
    bool dead = false;  // POLLHUP/POLLERR seen: dropped after this poll round
  };
  void accept_connections();
  void read_connection(size_t index);
  void adopt_message(nsutil::ListenerMessage msg);
  void serve_notifier(const Notifier& n);
  // `received`: CLOCK_MONOTONIC when the RECV ioctl returned.
  void handle(const Notifier& n, const nsutil::Notification& notif, const struct timespec& received);
  void observe_round_trip(const struct timespec& received);
  void offer_event(const Json& line);
  void send_stats_if_due(std::chrono::steady_clock::time_point now, bool at_exit);
  int timer_timeout_ms(std::chrono::steady_clock::time_point now) const;
  bool handle_signals();  // true: terminate
  void shutdown(const std::string& why);

  MonitorConfig config_;
  monitor::Ruleset rules_;
  EventsFile events_;
  std::string hostname_;
  EventBuilder builder_;
  nsutil::UniqueFd listen_fd_, signal_fd_, init_pidfd_;
  std::vector<std::unique_ptr<nsutil::ListenerConnection>> pending_;
  std::vector<Notifier> notifiers_;
  // Event types some rule can match (an unrestricted rule lists every monitored type); a
  // notification of another type is answered CONTINUE without building an event.
  std::set<std::string> watched_types_;
  bool got_message_ = false;
  Counters counters_;
  std::unique_ptr<AgentSink> agent_;
  RoundTripHistogram round_trips_;
  std::chrono::steady_clock::time_point last_stats_ = std::chrono::steady_clock::now();
};

}  // namespace runguard::monitord
