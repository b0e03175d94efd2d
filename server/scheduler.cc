// Scheduler: a counter for admission, Eigen's ThreadPool for execution.
#include "server/scheduler.h"

namespace otserve {

Scheduler::Scheduler(int threads, int max_queue)
    : threads_(threads), max_queue_(max_queue), pool_(threads) {}

Scheduler::~Scheduler() { WaitIdle(absl::InfiniteFuture()); }

Scheduler::Admission Scheduler::TrySubmit(
    std::function<void(absl::Duration)> job) {
  if (draining_.load()) return Admission::kDraining;
  int current = in_flight_.load();
  do {
    if (current >= capacity()) return Admission::kFull;
  } while (!in_flight_.compare_exchange_weak(current, current + 1));
  const absl::Time submitted = absl::Now();
  pool_.Schedule([this, job = std::move(job), submitted]() {
    job(absl::Now() - submitted);
    absl::MutexLock lock(&mu_);  // pairs with WaitIdle's condition
    in_flight_.fetch_sub(1);
  });
  return Admission::kAdmitted;
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
