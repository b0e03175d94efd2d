// Scheduler: a counter for admission, Eigen's ThreadPool for execution.
#include "server/scheduler.h"

namespace otserve {

Scheduler::Scheduler(int threads, int max_queue, int64_t max_bytes)
    : threads_(threads),
      max_queue_(max_queue),
      max_bytes_(max_bytes),
      pool_(threads) {}

Scheduler::~Scheduler() { WaitIdle(absl::InfiniteFuture()); }

Scheduler::Admission Scheduler::TrySubmit(
    std::function<void(absl::Duration)> job, int64_t bytes) {
  {
    absl::MutexLock lock(&mu_);
    if (draining_) return Admission::kDraining;
    if (in_flight_.load() >= capacity()) return Admission::kFull;
    if (bytes > max_bytes_) return Admission::kTooLarge;
    if (bytes > max_bytes_ - bytes_in_flight_) return Admission::kNoMemory;
    in_flight_.fetch_add(1);
    bytes_in_flight_ += bytes;
    queue_.push_back({std::move(job), absl::Now(), bytes});
  }
  // The pool's own order is not FIFO; each task takes the oldest job.
  pool_.Schedule([this]() { RunNext(); });
  return Admission::kAdmitted;
}

void Scheduler::RunNext() {
  Queued next;
  {
    absl::MutexLock lock(&mu_);
    next = std::move(queue_.front());
    queue_.pop_front();
  }
  next.job(absl::Now() - next.submitted);
  next.job = nullptr;          // release what the job holds before its bytes
  absl::MutexLock lock(&mu_);  // pairs with WaitIdle's condition
  bytes_in_flight_ -= next.bytes;
  in_flight_.fetch_sub(1);
}

Scheduler::Admission Scheduler::Precheck(int64_t bytes) const {
  absl::MutexLock lock(&mu_);
  if (draining_) return Admission::kDraining;
  if (in_flight_.load() >= capacity()) return Admission::kFull;
  if (bytes > max_bytes_) return Admission::kTooLarge;
  if (bytes > max_bytes_ - bytes_in_flight_) return Admission::kNoMemory;
  return Admission::kAdmitted;
}

void Scheduler::StopAdmitting() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

int64_t Scheduler::bytes_in_flight() const {
  absl::MutexLock lock(&mu_);
  return bytes_in_flight_;
}

void Scheduler::ParallelFor(int64_t count,
                            const std::function<void(int64_t)>& body) {
  struct Shared {
    std::atomic<int64_t> next{0};
    absl::Mutex mu;
    int64_t done = 0;  // items finished, guarded by mu
  };
  auto shared = std::make_shared<Shared>();
  // Copied so late helpers never touch the caller's stack.
  auto work = std::make_shared<std::function<void(int64_t)>>(body);
  auto drain = [shared, work, count]() {
    for (int64_t i; (i = shared->next.fetch_add(1)) < count;) {
      (*work)(i);
      absl::MutexLock lock(&shared->mu);
      ++shared->done;
    }
  };
  const int64_t helpers = std::min<int64_t>(threads_ - 1, count - 1);
  for (int64_t h = 0; h < helpers; ++h) pool_.Schedule(drain);
  drain();
  absl::MutexLock lock(&shared->mu);
  auto all_done = [&shared, count]() { return shared->done == count; };
  shared->mu.Await(absl::Condition(&all_done));
}

void Scheduler::ParallelRanges(
    int64_t n, int64_t min_chunk,
    const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int64_t chunks = std::max<int64_t>(
      1, std::min<int64_t>(threads_, n / std::max<int64_t>(min_chunk, 1)));
  if (chunks == 1) {
    body(0, n);
    return;
  }
  ParallelFor(chunks,
              [&](int64_t k) { body(k * n / chunks, (k + 1) * n / chunks); });
}

bool Scheduler::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() { return in_flight_.load() == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace otserve
