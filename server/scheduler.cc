// Scheduler: admission counters, per-tenant queues in weighted round robin,
// Eigen's ThreadPool for execution.
#include "server/scheduler.h"

#include <algorithm>

namespace otserve {

Scheduler::Scheduler(int threads, int max_queue, int64_t max_bytes)
    : threads_(threads),
      max_queue_(max_queue),
      max_bytes_(max_bytes),
      pool_(threads) {}

Scheduler::~Scheduler() { WaitIdle(absl::InfiniteFuture()); }

Scheduler::Admission Scheduler::CheckLocked(int64_t bytes,
                                            const Tenant& tenant) const {
  if (draining_) return Admission::kDraining;
  if (in_flight_.load() >= capacity()) return Admission::kFull;
  if (bytes > max_bytes_) return Admission::kTooLarge;
  auto it = tenants_.find(tenant.name);
  const int jobs = it == tenants_.end() ? 0 : it->second.jobs;
  const int64_t tenant_bytes = it == tenants_.end() ? 0 : it->second.bytes;
  if (jobs >= tenant_limits_.max_jobs ||
      (jobs > 0 && bytes > tenant_limits_.max_bytes - tenant_bytes)) {
    return Admission::kTenantFull;
  }
  if (bytes > max_bytes_ - bytes_in_flight_) return Admission::kNoMemory;
  return Admission::kAdmitted;
}

Scheduler::Admission Scheduler::TrySubmit(
    std::function<void(absl::Duration)> job, int64_t bytes,
    const Tenant& tenant) {
  {
    absl::MutexLock lock(&mu_);
    const Admission admission = CheckLocked(bytes, tenant);
    if (admission != Admission::kAdmitted) return admission;
    in_flight_.fetch_add(1);
    bytes_in_flight_ += bytes;
    TenantQueue& t = tenants_[tenant.name];
    t.weight = std::max(1, tenant.weight);
    ++t.jobs;
    t.bytes += bytes;
    if (t.queue.empty()) ready_.push_back(tenant.name);
    t.queue.push_back({std::move(job), absl::Now(), bytes});
    ++queued_;
  }
  // The pool's own order is not FIFO; each task takes the next job in turn.
  pool_.Schedule([this]() { RunNext(); });
  return Admission::kAdmitted;
}

void Scheduler::RunNext() {
  Queued next;
  std::string name;
  {
    absl::MutexLock lock(&mu_);
    name = ready_.front();
    TenantQueue& t = tenants_[name];
    next = std::move(t.queue.front());
    t.queue.pop_front();
    --queued_;
    if (t.queue.empty()) {
      ready_.pop_front();
      t.turn = 0;
    } else if (++t.turn >= t.weight) {  // the turn passes to the next tenant
      ready_.pop_front();
      ready_.push_back(name);
      t.turn = 0;
    }
  }
  next.job(absl::Now() - next.submitted);
  next.job = nullptr;          // release what the job holds before its bytes
  absl::MutexLock lock(&mu_);  // pairs with WaitIdle's condition
  bytes_in_flight_ -= next.bytes;
  auto it = tenants_.find(name);
  it->second.bytes -= next.bytes;
  if (--it->second.jobs == 0) tenants_.erase(it);
  in_flight_.fetch_sub(1);
}

Scheduler::Admission Scheduler::Precheck(int64_t bytes,
                                         const Tenant& tenant) const {
  absl::MutexLock lock(&mu_);
  return CheckLocked(bytes, tenant);
}

void Scheduler::set_tenant_limits(const TenantLimits& limits) {
  absl::MutexLock lock(&mu_);
  tenant_limits_ = limits;
}

TenantLimits Scheduler::tenant_limits() const {
  absl::MutexLock lock(&mu_);
  return tenant_limits_;
}

std::vector<TenantLoad> Scheduler::TenantLoads() const {
  absl::MutexLock lock(&mu_);
  std::vector<TenantLoad> loads;
  for (const auto& [name, t] : tenants_) {
    loads.push_back({name, t.jobs, static_cast<int>(t.queue.size()), t.bytes});
  }
  std::sort(
      loads.begin(), loads.end(),
      [](const TenantLoad& a, const TenantLoad& b) { return a.name < b.name; });
  return loads;
}

int Scheduler::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_;
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
