#include "event_ring.h"

#include <algorithm>

namespace runguard::agent {

struct EventRing::SubState {
  EventFilter filter;
  // The caps in force: raised to hold the replay on top of the normal caps until the reader has
  // taken it, then back to normal (a stalled reader must not pin a replay's worth of events).
  size_t capacity = kDefaultWatcherQueue;
  size_t max_bytes = kDefaultWatcherQueueBytes;
  size_t normal_capacity = kDefaultWatcherQueue;
  size_t normal_max_bytes = kDefaultWatcherQueueBytes;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<EventPtr> queue;
  size_t bytes = 0;
  uint64_t dropped = 0;           // since the last next()
  uint64_t last_dropped_seq = 0;
  bool closed = false;

  // Called with `mu` held. Returns how many events were dropped to make room.
  uint64_t push(EventPtr e) {
    uint64_t lost = 0;
    bytes += e->bytes();
    queue.push_back(std::move(e));
    while (queue.size() > 1 && (queue.size() > capacity || bytes > max_bytes)) {
      bytes -= queue.front()->bytes();
      last_dropped_seq = queue.front()->seq;
      queue.pop_front();
      ++dropped;
      ++lost;
    }
    return lost;
  }
};

struct EventRing::Core {
  size_t capacity;
  size_t max_bytes;
  mutable std::mutex mu;
  std::deque<EventPtr> events;
  size_t bytes = 0;
  uint64_t seq = 0;
  uint64_t dropped_total = 0;
  bool closed = false;
  std::vector<std::shared_ptr<SubState>> subs;
};

EventRing::EventRing(size_t capacity, size_t max_bytes) : capacity_(std::max<size_t>(capacity, 1)), core_(std::make_shared<Core>()) {
  core_->capacity = capacity_;
  core_->max_bytes = max_bytes;
}

EventRing::~EventRing() { close(); }

EventPtr EventRing::publish(Event e) {
  if (e.time_ns == 0) e.time_ns = unix_now_ns();
  std::lock_guard<std::mutex> lock(core_->mu);
  e.seq = ++core_->seq;
  auto ptr = std::make_shared<const Event>(std::move(e));
  core_->bytes += ptr->bytes();
  core_->events.push_back(ptr);
  while (core_->events.size() > 1 && (core_->events.size() > core_->capacity || core_->bytes > core_->max_bytes)) {
    core_->bytes -= core_->events.front()->bytes();
    core_->events.pop_front();
  }
  for (const auto& s : core_->subs) {
    if (!s->filter.matches(*ptr)) continue;
    {
      std::lock_guard<std::mutex> sl(s->mu);
      if (s->closed) continue;
      core_->dropped_total += s->push(ptr);
    }
    s->cv.notify_one();
  }
  return ptr;
}

namespace {

std::vector<EventPtr> matching_tail(const std::deque<EventPtr>& events, const EventFilter& filter, size_t last) {
  std::vector<EventPtr> out;
  if (last == 0) return out;
  for (auto it = events.rbegin(); it != events.rend() && out.size() < last; ++it) {
    if (filter.matches(**it)) out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<EventPtr> EventRing::replay(const EventFilter& filter, size_t last) const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return matching_tail(core_->events, filter, last);
}

std::unique_ptr<Subscription> EventRing::subscribe(const EventFilter& filter, size_t last, size_t queue_capacity,
                                                   size_t queue_max_bytes) {
  auto state = std::make_shared<SubState>();
  state->filter = filter;
  std::lock_guard<std::mutex> lock(core_->mu);
  std::vector<EventPtr> replayed = matching_tail(core_->events, filter, last);
  size_t replay_bytes = 0;
  for (const auto& e : replayed) replay_bytes += e->bytes();
  state->normal_capacity = std::max<size_t>(queue_capacity, 1);
  state->normal_max_bytes = queue_max_bytes;
  // New events arriving before the first read queue behind the replay without pushing it out.
  state->capacity = state->normal_capacity + replayed.size();
  state->max_bytes = state->normal_max_bytes + replay_bytes;
  for (auto& e : replayed) {
    state->bytes += e->bytes();
    state->queue.push_back(std::move(e));
  }
  if (core_->closed) {
    state->closed = true;
  } else {
    core_->subs.push_back(state);
  }
  return std::unique_ptr<Subscription>(new Subscription(core_, state));
}

void EventRing::close() {
  std::vector<std::shared_ptr<SubState>> subs;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->closed = true;
    subs.swap(core_->subs);
  }
  for (const auto& s : subs) {
    {
      std::lock_guard<std::mutex> sl(s->mu);
      s->closed = true;
    }
    s->cv.notify_all();
  }
}

size_t EventRing::size() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->events.size();
}

uint64_t EventRing::last_seq() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->seq;
}

size_t EventRing::watchers() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->subs.size();
}

uint64_t EventRing::dropped_total() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->dropped_total;
}

Subscription::~Subscription() {
  if (auto core = core_.lock()) {
    std::lock_guard<std::mutex> lock(core->mu);
    auto& subs = core->subs;
    subs.erase(std::remove(subs.begin(), subs.end(), state_), subs.end());
  }
}

std::vector<EventPtr> Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return !state_->queue.empty() || state_->dropped > 0 || state_->closed; });
  std::vector<EventPtr> out;
  if (state_->dropped > 0) {
    out.push_back(std::make_shared<const Event>(dropped_event(state_->dropped, state_->last_dropped_seq, unix_now_ns())));
    state_->dropped = 0;
  }
  out.insert(out.end(), std::make_move_iterator(state_->queue.begin()), std::make_move_iterator(state_->queue.end()));
  state_->queue.clear();
  state_->bytes = 0;
  state_->capacity = state_->normal_capacity;
  state_->max_bytes = state_->normal_max_bytes;
  return out;
}

bool Subscription::closed() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->closed && state_->queue.empty() && state_->dropped == 0;
}

}  // namespace runguard::agent
