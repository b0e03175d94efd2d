// Scheduler: admission control in front of one process-wide worker pool
// (Eigen's ThreadPool). At most threads + max_queue jobs are in flight, and
// their estimated memory stays within a byte budget; beyond either TrySubmit
// refuses at once, which the service answers with RESOURCE_EXHAUSTED. Admitted
// jobs start in FIFO order. Thread-safe: every method may be called from any
// thread.
#ifndef OTSERVE_SERVER_SCHEDULER_H_
#define OTSERVE_SERVER_SCHEDULER_H_

#define EIGEN_USE_THREADS
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <unsupported/Eigen/CXX11/ThreadPool>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otserve {

class Scheduler {
 public:
  // threads >= 1, max_queue >= 0, max_bytes >= 1.
  Scheduler(int threads, int max_queue,
            int64_t max_bytes = std::numeric_limits<int64_t>::max());
  // Waits for every admitted job to finish.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Admission {
    kAdmitted,
    kFull,      // threads + max_queue jobs in flight
    kNoMemory,  // the budget is taken by jobs in flight: retry later
    kTooLarge,  // `bytes` alone exceeds the budget
    kDraining,  // after StopAdmitting()
  };
  // Runs job(queue_wait) on a worker, holding `bytes` of the memory budget
  // until it returns; otherwise the job is not run.
  Admission TrySubmit(std::function<void(absl::Duration queue_wait)> job,
                      int64_t bytes = 0) ABSL_LOCKS_EXCLUDED(mu_);
  // What TrySubmit would answer for `bytes` now (no job is taken): lets a
  // caller refuse before it spends memory preparing the job.
  Admission Precheck(int64_t bytes) const ABSL_LOCKS_EXCLUDED(mu_);
  // From now on TrySubmit answers kDraining; admitted jobs still run.
  void StopAdmitting() ABSL_LOCKS_EXCLUDED(mu_);

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
  int64_t bytes_in_flight() const ABSL_LOCKS_EXCLUDED(mu_);
  int threads() const { return threads_; }
  int max_queue() const { return max_queue_; }
  int capacity() const { return threads_ + max_queue_; }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  struct Queued {
    std::function<void(absl::Duration)> job;
    absl::Time submitted;
    int64_t bytes = 0;
  };
  // A pool task: runs the oldest queued job.
  void RunNext() ABSL_LOCKS_EXCLUDED(mu_);

  const int threads_;
  const int max_queue_;
  const int64_t max_bytes_;
  std::atomic<int> in_flight_{0};  // written under mu_
  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t bytes_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  Eigen::ThreadPool pool_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SCHEDULER_H_
