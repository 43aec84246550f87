#include "agent_sink.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runguard/common/frame.h"
#include "runguard/nsutil/unix_socket.h"

namespace runguard::monitord {

void RoundTripHistogram::observe(double seconds) {
  if (seconds < 0) seconds = 0;
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts_[i];
  sum_ += seconds;
  ++observations_;
}

Json RoundTripHistogram::take_stats_message(const std::string& container) {
  Json counts = Json::array();
  for (uint64_t c : counts_) counts.push_back(c);
  Json m = frame::message("monitor.stats", {{"container", container}, {"counts", std::move(counts)}, {"sum", sum_}});
  counts_.fill(0);
  sum_ = 0;
  observations_ = 0;
  return m;
}

AgentSink::AgentSink(Options options) : options_(std::move(options)) {}

void AgentSink::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void AgentSink::offer(const Json& message, Clock::time_point now) {
  auto encoded = frame::encode(message);
  if (!encoded.is_ok() || !try_connect(now)) {
    ++stats_.dropped;
    return;
  }
  send_queued(now);  // make room first if the socket takes something
  if (!fd_.valid() || queued_bytes_ + encoded->size() > options_.max_queued_bytes) {
    ++stats_.dropped;
    return;
  }
  queued_bytes_ += encoded->size();
  queue_.push_back(std::move(*encoded));
  send_queued(now);
}

struct pollfd AgentSink::poll_entry() {
  polled_generation_ = generation_;
  short events = POLLIN;
  if (!queue_.empty()) events |= POLLOUT;
  return {fd_.valid() ? fd_.get() : -1, fd_.valid() ? events : short(0), 0};
}

void AgentSink::on_poll(short revents, Clock::time_point now) {
  if (!fd_.valid() || revents == 0 || polled_generation_ != generation_) return;
  if (revents & POLLIN) drain_input(now);
  if (fd_.valid() && (revents & (POLLERR | POLLNVAL))) disconnect("connection error", now);
  if (fd_.valid() && (revents & POLLOUT)) send_queued(now);
  // POLLHUP with nothing to read: the agent is gone (a half-close still delivers POLLIN first).
  if (fd_.valid() && (revents & POLLHUP) && !(revents & POLLIN)) disconnect("the agent closed the connection", now);
}

void AgentSink::flush(std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + budget;
  while (fd_.valid() && !queue_.empty()) {
    send_queued(Clock::now());
    if (!fd_.valid() || queue_.empty()) break;
    int left = nsutil::poll_timeout_ms(deadline);
    if (left == 0) break;
    struct pollfd pfd = {fd_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, left) < 0 && errno != EINTR) break;
  }
}

bool AgentSink::try_connect(Clock::time_point now, bool ignore_pacing) {
  if (fd_.valid()) return true;
  if (!ignore_pacing && now < next_attempt_) return false;
  auto fd = nsutil::try_connect_unix(options_.socket_path);
  if (!fd.is_ok()) {
    ++stats_.failed_connects;
    next_attempt_ = now + options_.retry_interval;
    if (!failure_logged_) {
      failure_logged_ = true;
      log("agent: cannot connect (" + fd.status().to_string() + "); events reach it again once it is back (retrying at most every " +
          std::to_string(options_.retry_interval.count()) + " ms)");
    }
    return false;
  }
  fd_ = std::move(*fd);
  connected_at_ = now;
  ++generation_;
  ++stats_.connects;
  failure_logged_ = false;
  log("agent: connected to " + options_.socket_path);
  return true;
}

void AgentSink::send_queued(Clock::time_point now) {
  while (fd_.valid() && !queue_.empty()) {
    const std::string& head = queue_.front();
    auto n = nsutil::send_some(fd_.get(), std::string_view(head).substr(head_sent_), "agent at " + options_.socket_path);
    if (!n.is_ok()) {
      disconnect(n.status().to_string(), now);
      return;
    }
    if (*n == 0) return;  // the socket is full: POLLOUT will say when to go on
    head_sent_ += *n;
    if (head_sent_ == head.size()) {
      queued_bytes_ -= head.size();
      queue_.pop_front();
      head_sent_ = 0;
      ++stats_.sent;
    }
  }
}

void AgentSink::disconnect(const std::string& why, Clock::time_point now) {
  fd_.reset();
  ++stats_.disconnects;
  // What the lost agent had not taken is in the events file, which a restarted agent reads.
  stats_.dropped += queue_.size();
  queue_.clear();
  queued_bytes_ = 0;
  head_sent_ = 0;
  // Reconnect at once after a connection that lasted (an agent that restarted); an agent that
  // closes new connections straight away is retried at the normal pace, not in a loop.
  next_attempt_ = now - connected_at_ >= options_.retry_interval ? now : now + options_.retry_interval;
  log("agent: connection lost (" + why + ")");
}

void AgentSink::drain_input(Clock::time_point now) {
  char buf[4096];
  for (int reads = 0; reads < 16; ++reads) {  // bounded: a chatty peer cannot hold the loop
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;  // an error reply (e.g. an unsupported version); the agent closes after it
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    disconnect(n == 0 ? "the agent closed the connection" : std::string("read: ") + std::strerror(errno), now);
    return;
  }
}

}  // namespace runguard::monitord
