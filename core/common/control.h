// SolveControl: how a caller steers a running solve — a cancel flag, a
// deadline, a progress callback — and where its work runs (a parallel-for over
// the caller's pool, the entropic kernels' backend). Solvers poll Check() in
// their iteration loop.
// Thread-safety: Cancel() may be called from any thread at any time; the
// setters must be called before the solve starts; Check() and Report() are
// called by the solver.
#ifndef OTSERVE_CORE_COMMON_CONTROL_H_
#define OTSERVE_CORE_COMMON_CONTROL_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace otcore {

class EntropicKernels;  // core/entropic/kernels.h
class SlicedKernels;    // core/sliced/kernels.h

// A snapshot of an iterative solve, passed to the progress callback.
struct Progress {
  int64_t iteration = 0;
  double error = 0.0;    // current marginal error (relative L1)
  double epsilon = 0.0;  // current epsilon stage (entropic solvers)
  double elapsed_seconds = 0.0;
};

class SolveControl {
 public:
  SolveControl() = default;
  SolveControl(const SolveControl&) = delete;
  SolveControl& operator=(const SolveControl&) = delete;

  // Requests the solve to stop at its next check; returns at once.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  void set_deadline(absl::Time deadline) { deadline_ = deadline; }
  // A limit on the solve's own time (e.g. a server's time per job), reported
  // as such: DEADLINE_EXCEEDED "... time limit of the job ...".
  void set_time_limit(absl::Time limit) { time_limit_ = limit; }

  void set_progress_callback(std::function<void(const Progress&)> callback) {
    progress_ = std::move(callback);
  }

  // CANCELLED after Cancel(), DEADLINE_EXCEEDED past the deadline, else OK.
  absl::Status Check() const;

  // How the solver may run independent ranges in parallel: `run(n, min_chunk,
  // body)` must call body(begin, end) on disjoint ranges covering [0, n), each
  // of at least min_chunk items (but the last), and return when all are done.
  // Unset: one call body(0, n) on the calling thread. The server sets one
  // backed by its worker pool, so jobs and the work inside them share it.
  using ParallelFor =
      std::function<void(int64_t n, int64_t min_chunk,
                         const std::function<void(int64_t, int64_t)>& body)>;
  void set_parallel_for(ParallelFor run) { parallel_for_ = std::move(run); }
  // min_chunk: the fewest items worth a task (heavier items: smaller chunks).
  void ParallelRange(int64_t n, int64_t min_chunk,
                     const std::function<void(int64_t, int64_t)>& body) const {
    if (parallel_for_) {
      parallel_for_(n, min_chunk, body);
    } else if (n > 0) {
      body(0, n);
    }
  }

  // Where entropic reductions run (e.g. a GPU backend); unset (null): the CPU.
  // The kernels must outlive the solve.
  void set_entropic_kernels(const EntropicKernels* kernels) {
    entropic_kernels_ = kernels;
  }
  const EntropicKernels* entropic_kernels() const { return entropic_kernels_; }
  // Where sliced projections and sorts run; unset (null): the CPU.
  void set_sliced_kernels(const SlicedKernels* kernels) {
    sliced_kernels_ = kernels;
  }
  const SlicedKernels* sliced_kernels() const { return sliced_kernels_; }

  // Forwards to the progress callback, if any.
  void Report(const Progress& progress) const {
    if (progress_) progress_(progress);
  }

 private:
  std::atomic<bool> cancelled_{false};
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::Time time_limit_ = absl::InfiniteFuture();
  std::function<void(const Progress&)> progress_;
  ParallelFor parallel_for_;
  const EntropicKernels* entropic_kernels_ = nullptr;
  const SlicedKernels* sliced_kernels_ = nullptr;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_CONTROL_H_
