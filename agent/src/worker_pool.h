// WorkerPool: a few threads that run slow requests (containerd lookups) off the internal
// socket's event loop, with a bounded queue so a stalled dependency turns into quick "busy"
// answers instead of unbounded memory.
//
// Thread-safety: submit() from any thread; stop() (or the destructor) joins the threads. Tasks
// still queued at stop() are destroyed without running.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace runguard::agent {

class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False (and `task` is not run) when the queue is full or the pool is stopped.
  bool submit(std::function<void()> task);
  void stop();

 private:
  void work();

  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace runguard::agent
