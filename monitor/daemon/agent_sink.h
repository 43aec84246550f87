// AgentSink: the monitor's one connection to runguardd's internal socket (docs/agent.md), over
// which it offers event lines ("event" frames) and notify round-trip statistics
// ("monitor.stats" frames). The events file is the record; the agent gets copies when it can take
// them, and the monitor's notify loop never waits for it.
//
//   - offer() encodes a frame, appends it to a bounded queue (max_queued_bytes, 1 MiB by default)
//     and sends what the socket takes without blocking. A frame that does not fit the queue is
//     dropped and counted (the file has everything).
//   - The connection is made on demand (when there is a frame to send), at most once per
//     retry_interval (2 s) while it keeps failing, so an agent that restarts resumes receiving
//     events. Frames offered while there is no connection are dropped and counted, and so are the
//     frames queued on a connection that is lost (EOF, EPIPE, ECONNRESET): the agent rebuilds what
//     it missed from the events file when it starts, and resending them would duplicate them. After
//     a connection that lasted, the next attempt is immediate; an agent that closes new
//     connections at once is retried at the normal pace.
//   - poll_entry() asks for POLLOUT only while frames are queued; POLLIN is always asked for while
//     connected so a closing agent is noticed (the agent sends nothing else: what it does send is
//     read and discarded). An idle monitor never wakes up for the agent.
//
// RoundTripHistogram holds the notify round trips (RECV returned -> SEND returned) between two
// "monitor.stats" frames, in the agent's buckets (agent/metrics.h notify_round_trip_buckets(),
// docs/agent.md): counts per bucket, NOT cumulative, the last one +Inf.
//
// Thread-safety: both are owned by the monitor's single thread.
#pragma once

#include <poll.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "runguard/common/json.h"
#include "runguard/nsutil/fd.h"

namespace runguard::monitord {

class RoundTripHistogram {
 public:
  // Upper bounds in seconds; must equal agent::notify_round_trip_buckets().
  static constexpr std::array<double, 11> kBounds = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                                     0.0005,   0.001,   0.0025,   0.01,    0.1};
  static constexpr size_t kBuckets = kBounds.size() + 1;  // + Inf

  void observe(double seconds);
  bool empty() const { return observations_ == 0; }
  uint64_t observations() const { return observations_; }

  // {"op":"monitor.stats","container":id,"counts":[12 counts],"sum":seconds} (the v/op envelope
  // included) with the observations since the last take, which are then cleared.
  Json take_stats_message(const std::string& container);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  double sum_ = 0;
  uint64_t observations_ = 0;
};

struct AgentSinkStats {
  uint64_t sent = 0;         // frames wholly written to the socket
  uint64_t dropped = 0;      // frames the agent will not get (no connection, queue full, too large, connection lost)
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  uint64_t failed_connects = 0;
};

class AgentSink {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string socket_path;
    size_t max_queued_bytes = 1u << 20;
    std::chrono::milliseconds retry_interval{2000};
    // Receives one line per connection state change (connected, lost, first failure); may be empty.
    std::function<void(const std::string&)> log;
  };

  explicit AgentSink(Options options);

  // Queues `message` (a complete frame object, {"v":1,"op":...}) and sends what fits now;
  // connects first when due. Dropped (and counted) when there is no connection.
  void offer(const Json& message, Clock::time_point now = Clock::now());

  // Connects unless connected or (without `ignore_pacing`) the last failed attempt is younger
  // than retry_interval. True when connected afterwards.
  bool try_connect(Clock::time_point now = Clock::now(), bool ignore_pacing = false);

  // What to poll: fd -1 (ignored by poll) when not connected; POLLOUT only while frames are queued.
  struct pollfd poll_entry();
  // Handles the revents poll(2) reported for the entry poll_entry() last returned; ignored when the
  // connection changed since (the descriptor number may have been reused).
  void on_poll(short revents, Clock::time_point now = Clock::now());
  // At exit: sends what is queued, waiting for room for at most `budget`.
  void flush(std::chrono::milliseconds budget);

  bool connected() const { return fd_.valid(); }
  size_t queued_frames() const { return queue_.size(); }
  size_t queued_bytes() const { return queued_bytes_; }
  const AgentSinkStats& stats() const { return stats_; }

 private:
  void send_queued(Clock::time_point now);
  void disconnect(const std::string& why, Clock::time_point now);
  void drain_input(Clock::time_point now);
  void log(const std::string& line) const;

  Options options_;
  nsutil::UniqueFd fd_;
  std::deque<std::string> queue_;  // encoded frames
  size_t head_sent_ = 0;           // bytes of queue_.front() already written
  size_t queued_bytes_ = 0;
  Clock::time_point next_attempt_{};  // no connect attempt before this
  Clock::time_point connected_at_{};
  bool failure_logged_ = false;       // one "cannot connect" line per outage
  uint64_t generation_ = 0;           // bumped on every connect
  uint64_t polled_generation_ = 0;    // the connection poll_entry() described
  AgentSinkStats stats_;
};

}  // namespace runguard::monitord
