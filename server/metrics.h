// What the server observes about its calls: one JobRecord per call (also
// refusals), turned into Prometheus metrics (a small registry: counters and
// histograms keyed by label values, rendered in the text exposition format)
// and into one request-log line. The only place metric names are defined.
// Thread-safe.
#ifndef OTSERVE_SERVER_METRICS_H_
#define OTSERVE_SERVER_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/scheduler.h"

namespace otserve {

// One call, as the request log and the metrics see it. No array contents.
struct JobRecord {
  absl::Time time;  // when the call arrived
  std::string tenant;
  std::string rpc;     // "Distance", "Plan", ...
  std::string method;  // diagnostics' method ("sinkhorn"), or ""
  int64_t n = 0, m = 0, d = 0;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string error;  // the status message when not OK
  double queue_seconds = 0.0;
  double solve_seconds = 0.0;
  double total_seconds = 0.0;  // arrival to response
  int64_t iterations = 0;
  bool has_result = false;  // a solver result with diagnostics
  bool converged = false;
  int64_t bytes_in = 0, bytes_out = 0;
};

enum class LogFormat { kNone, kText, kJson };

// Parses --log_format: "json", "text" or "none".
bool ParseLogFormat(absl::string_view text, LogFormat* format);

// One line for `record` (no newline).
std::string FormatLogLine(const JobRecord& record, LogFormat format);

class Metrics {
 public:
  explicit Metrics(const Scheduler* scheduler) : scheduler_(scheduler) {}
  // The GPU queues ("cuda:0" and its scheduler), before any Render; they
  // outlive this.
  void set_gpus(std::vector<std::pair<std::string, const Scheduler*>> gpus) {
    gpus_ = std::move(gpus);
  }

  // Counts a finished or refused call.
  void Record(const JobRecord& record) ABSL_LOCKS_EXCLUDED(mu_);

  // The Prometheus text exposition (version 0.0.4) of every metric now.
  std::string Render() const ABSL_LOCKS_EXCLUDED(mu_);

  // Latency histogram buckets, seconds (upper bounds; +Inf implied).
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1.0,   2.5,  10.0,  60.0};

 private:
  struct Histogram {
    std::array<int64_t, kBuckets.size() + 1> counts{};  // last: +Inf
    double sum = 0.0;
    void Observe(double value);
  };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  const Scheduler* scheduler_;
  std::vector<std::pair<std::string, const Scheduler*>> gpus_;
  mutable absl::Mutex mu_;
  std::map<Labels, double> requests_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, Histogram> request_seconds_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, Histogram> solve_seconds_ ABSL_GUARDED_BY(mu_);
  Histogram queue_seconds_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, double> iterations_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, double> not_converged_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, double> tenant_requests_ ABSL_GUARDED_BY(mu_);
  std::map<Labels, double> tenant_solve_seconds_ ABSL_GUARDED_BY(mu_);
  double bytes_in_ ABSL_GUARDED_BY(mu_) = 0;
  double bytes_out_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_METRICS_H_
