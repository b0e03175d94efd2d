// Scheduler: admission control in front of one process-wide worker pool
// (Eigen's ThreadPool). At most threads + max_queue jobs are in flight; beyond
// that TrySubmit refuses at once, which the service answers with
// RESOURCE_EXHAUSTED. Thread-safe: TrySubmit and in_flight may be called from
// any thread.
#ifndef OTSERVE_SERVER_SCHEDULER_H_
#define OTSERVE_SERVER_SCHEDULER_H_

#define EIGEN_USE_THREADS
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unsupported/Eigen/CXX11/ThreadPool>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otserve {

class Scheduler {
 public:
  // threads >= 1, max_queue >= 0.
  Scheduler(int threads, int max_queue);
  // Waits for every admitted job to finish.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Admission { kAdmitted, kFull, kDraining };
  // Runs job(queue_wait) on a worker; kFull at capacity, kDraining after
  // StopAdmitting() (the job is not run).
  Admission TrySubmit(std::function<void(absl::Duration queue_wait)> job);
  // From now on TrySubmit answers kDraining; admitted jobs still run.
  void StopAdmitting() { draining_.store(true); }

  // Runs body(i) for i in [0, count) on the calling worker plus up to
  // threads - 1 helpers from the pool, and returns when all are done. Safe to
  // call from a pool worker: the caller works through the items itself, and
  // helpers that start late find nothing left and exit.
  void ParallelFor(int64_t count, const std::function<void(int64_t)>& body);

  // Splits [0, n) into at most threads() ranges of at least min_chunk items and
  // runs body(begin, end) on them with ParallelFor.
  void ParallelRanges(int64_t n, int64_t min_chunk,
                      const std::function<void(int64_t, int64_t)>& body);

  // Blocks until no job is in flight or the deadline passes; true if idle.
  bool WaitIdle(absl::Time deadline);

  int in_flight() const { return in_flight_.load(); }
  int threads() const { return threads_; }
  int max_queue() const { return max_queue_; }
  int capacity() const { return threads_ + max_queue_; }

 private:
  const int threads_;
  const int max_queue_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  absl::Mutex mu_;
  Eigen::ThreadPool pool_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SCHEDULER_H_
