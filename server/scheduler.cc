// Scheduler: a counter for admission, Eigen's ThreadPool for execution.
#include "server/scheduler.h"

namespace otserve {

Scheduler::Scheduler(int threads, int max_queue)
    : threads_(threads), max_queue_(max_queue), pool_(threads) {}

Scheduler::~Scheduler() { WaitIdle(absl::InfiniteFuture()); }

bool Scheduler::TrySubmit(std::function<void(absl::Duration)> job) {
  int current = in_flight_.load();
  do {
    if (current >= capacity()) return false;
  } while (!in_flight_.compare_exchange_weak(current, current + 1));
  const absl::Time submitted = absl::Now();
  pool_.Schedule([this, job = std::move(job), submitted]() {
    job(absl::Now() - submitted);
    absl::MutexLock lock(&mu_);  // pairs with WaitIdle's condition
    in_flight_.fetch_sub(1);
  });
  return true;
}

bool Scheduler::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() { return in_flight_.load() == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace otserve
