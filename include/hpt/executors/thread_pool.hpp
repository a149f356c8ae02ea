#pragma once
/// @file thread_pool.hpp
/// @brief The thread-pool executor: N threads that run the coordinator's jobs, and the queue that
/// carries their events back to it.
///
/// The coordinator hands out at most one batch of jobs per worker, so a free worker never waits
/// behind a queue of jobs decided too early (ASHA promotes with the newest results); a batch is
/// one job unless jobs are so short that handing them over would cost more than running them.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hpt::executors {

/// @brief A fixed set of threads running tasks in the order they are submitted.
///
/// The destructor lets the tasks already submitted finish, then joins: whoever owns the pool
/// must first make running tasks end (the engine does it with its abort flag).
class ThreadPool {
 public:
  /// @param threads_per_worker OpenMP threads each worker may use (when built with OpenMP).
  explicit ThreadPool(std::size_t workers, int threads_per_worker = 1) {
    threads_.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i)
      threads_.emplace_back([this, threads_per_worker] { work(threads_per_worker); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      const std::lock_guard lock(mutex_);
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

  [[nodiscard]] std::size_t workers() const noexcept { return threads_.size(); }

  /// @brief Runs `task` on the next free worker. A task must not throw.
  void submit(std::function<void()> task) {
    {
      const std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void work([[maybe_unused]] int threads_per_worker) {
#ifdef _OPENMP
    omp_set_num_threads(threads_per_worker);  // per thread: N workers never oversubscribe
#endif
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // closing, and nothing left to run
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::vector<std::thread> threads_;  // last: started once everything they use exists
};

/// @brief Events from many workers to one consumer, taken in batches (one lock per batch).
template <class Event>
class EventQueue {
 public:
  void push(Event event) {
    bool wake = false;
    {
      const std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
      wake = waiting_;
    }
    if (wake) arrived_.notify_one();
  }

  /// @brief Moves every event of `events` to the queue under one lock, in order (emptying it).
  void push_all(std::vector<Event>& events) {
    bool wake = false;
    {
      const std::lock_guard lock(mutex_);
      if (events_.empty()) {
        events_.swap(events);
      } else {
        for (auto& event : events) events_.push_back(std::move(event));
      }
      wake = waiting_;
    }
    events.clear();
    if (wake) arrived_.notify_one();
  }

  /// @brief Waits for at least one event and moves all of them into `out` (emptied first).
  void take_all(std::vector<Event>& out) {
    out.clear();
    std::unique_lock lock(mutex_);
    waiting_ = true;
    arrived_.wait(lock, [&] { return !events_.empty(); });
    waiting_ = false;
    out.swap(events_);
  }

  /// @brief As take_all, waiting at most `timeout`; false (and `out` empty) when none came.
  template <class Rep, class Period>
  bool take_all_for(std::vector<Event>& out, std::chrono::duration<Rep, Period> timeout) {
    out.clear();
    std::unique_lock lock(mutex_);
    waiting_ = true;
    const bool arrived = arrived_.wait_for(lock, timeout, [&] { return !events_.empty(); });
    waiting_ = false;
    if (arrived) out.swap(events_);
    return arrived;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Event> events_;
  bool waiting_ = false;
};

}  // namespace hpt::executors
