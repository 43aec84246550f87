// EventRing: the last `capacity` events the agent saw, for WatchEvents' replay, and the fan-out
// of new events to the watchers that follow.
//
// Each event gets the next sequence number (1, 2, ...; a gap in what a watcher sees means events
// were filtered out or dropped). The ring keeps at most `capacity` events and at most `max_bytes`
// of them (the oldest go first), so a flood of large lines cannot grow the agent without bound.
// Events are shared (immutable, reference-counted) between the ring and the watchers' queues.
//
// A Subscription is one watcher: its filter, and a bounded queue (`queue_capacity` events,
// `queue_max_bytes`) that publish() fills and the watcher drains. A watcher that falls behind
// never slows producers: when its queue is full the oldest unread events are dropped, and the
// next read starts with a synthetic "dropped" event saying how many. publish() only takes short
// locks; nothing it does waits on a watcher.
//
// Lock order: the ring's mutex, then a subscription's. Subscription::next() takes only its own.
//
// Thread-safety: every method may be called from any thread. A Subscription must not outlive
// the program's use of it from more than one thread at a time (one reader).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "event.h"

namespace runguard::agent {

using EventPtr = std::shared_ptr<const Event>;

inline constexpr size_t kDefaultWatcherQueue = 4096;
inline constexpr size_t kDefaultWatcherQueueBytes = 8u << 20;
inline constexpr size_t kDefaultRingBytes = 128u << 20;

class Subscription;

class EventRing {
 public:
  explicit EventRing(size_t capacity, size_t max_bytes = kDefaultRingBytes);
  ~EventRing();
  EventRing(const EventRing&) = delete;
  EventRing& operator=(const EventRing&) = delete;

  // Assigns the next seq, keeps the event and offers it to every matching subscription.
  EventPtr publish(Event e);

  // Up to `last` events matching `filter`, oldest first.
  std::vector<EventPtr> replay(const EventFilter& filter, size_t last) const;

  // A watcher whose queue starts with the replay of up to `last` matching events and then
  // receives every new matching one; replay and follow are joined without a gap or a duplicate.
  // Until the first next() has taken the replay the queue holds the replay plus queue_capacity
  // events (queue_max_bytes plus the replay's bytes); from then on queue_capacity events and
  // queue_max_bytes. After close(), the subscription is returned already closed.
  std::unique_ptr<Subscription> subscribe(const EventFilter& filter, size_t last, size_t queue_capacity = kDefaultWatcherQueue,
                                          size_t queue_max_bytes = kDefaultWatcherQueueBytes);

  // Ends every subscription (their next() returns what is queued, then closed() is true).
  void close();

  size_t size() const;
  size_t capacity() const { return capacity_; }
  uint64_t last_seq() const;
  size_t watchers() const;
  // Events dropped from slow watchers' queues, all watchers together.
  uint64_t dropped_total() const;

 private:
  friend class Subscription;
  struct Core;
  struct SubState;
  size_t capacity_;
  std::shared_ptr<Core> core_;
};

class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits up to `timeout` for queued events and returns all of them, oldest first, preceded by
  // a "dropped" event when some were lost since the last call. Empty on timeout or once closed.
  std::vector<EventPtr> next(std::chrono::milliseconds timeout);
  // The ring was closed and everything queued has been read.
  bool closed() const;

 private:
  friend class EventRing;
  Subscription(std::weak_ptr<EventRing::Core> core, std::shared_ptr<EventRing::SubState> state)
      : core_(std::move(core)), state_(std::move(state)) {}
  std::weak_ptr<EventRing::Core> core_;
  std::shared_ptr<EventRing::SubState> state_;
};

}  // namespace runguard::agent
