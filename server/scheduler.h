// Scheduler: admission control in front of one process-wide worker pool
// (Eigen's ThreadPool). At most threads + max_queue jobs are in flight, and
// their estimated memory stays within a byte budget; each tenant has its own
// limits on jobs and bytes in flight; beyond any of these TrySubmit refuses at
// once, which the service answers with RESOURCE_EXHAUSTED. Jobs queue per
// tenant: a free worker serves the tenants with queued jobs in weighted round
// robin (a tenant of weight w starts up to w jobs per turn), and each tenant's
// jobs in FIFO order. Thread-safe: every method may be called from any thread.
#ifndef OTSERVE_SERVER_SCHEDULER_H_
#define OTSERVE_SERVER_SCHEDULER_H_

#define EIGEN_USE_THREADS
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <unsupported/Eigen/CXX11/ThreadPool>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth.h"

namespace otserve {

// Per-tenant bounds (queued and running jobs together), so that one tenant
// cannot take every slot or the whole memory budget.
struct TenantLimits {
  int max_jobs = std::numeric_limits<int>::max();
  int64_t max_bytes = std::numeric_limits<int64_t>::max();
};

// One tenant's share of the scheduler now (metrics).
struct TenantLoad {
  std::string name;
  int jobs = 0;    // queued + running
  int queued = 0;  // waiting for a worker
  int64_t bytes = 0;
};

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
    kFull,        // threads + max_queue jobs in flight
    kNoMemory,    // the budget is taken by jobs in flight: retry later
    kTooLarge,    // `bytes` alone exceeds the budget
    kDraining,    // after StopAdmitting()
    kTenantFull,  // the tenant's own jobs or bytes limit is reached
  };
  // Runs job(queue_wait) on a worker, holding `bytes` of the memory budget
  // (and of the tenant's) until it returns; otherwise the job is not run.
  Admission TrySubmit(std::function<void(absl::Duration queue_wait)> job,
                      int64_t bytes = 0, const Tenant& tenant = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // What TrySubmit would answer for `bytes` now (no job is taken): lets a
  // caller refuse before it spends memory preparing the job.
  Admission Precheck(int64_t bytes, const Tenant& tenant = {}) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Set before the first job; applies to every tenant.
  void set_tenant_limits(const TenantLimits& limits) ABSL_LOCKS_EXCLUDED(mu_);
  TenantLimits tenant_limits() const ABSL_LOCKS_EXCLUDED(mu_);
  // Tenants with jobs in flight, by name.
  std::vector<TenantLoad> TenantLoads() const ABSL_LOCKS_EXCLUDED(mu_);
  int queued() const ABSL_LOCKS_EXCLUDED(mu_);
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
  struct TenantQueue {
    std::deque<Queued> queue;
    int jobs = 0;  // queued + running
    int64_t bytes = 0;
    int weight = 1;
    int turn = 0;  // jobs started in the tenant's current turn
  };
  Admission CheckLocked(int64_t bytes, const Tenant& tenant) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A pool task: runs the next job in weighted round robin over tenants.
  void RunNext() ABSL_LOCKS_EXCLUDED(mu_);

  const int threads_;
  const int max_queue_;
  const int64_t max_bytes_;
  std::atomic<int> in_flight_{0};  // written under mu_
  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t bytes_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  TenantLimits tenant_limits_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TenantQueue> tenants_ ABSL_GUARDED_BY(mu_);
  // Tenants with queued jobs, the one being served first.
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);
  int queued_ ABSL_GUARDED_BY(mu_) = 0;
  Eigen::ThreadPool pool_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SCHEDULER_H_
