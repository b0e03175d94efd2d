// The entropic compute kernels: the hot reductions every entropic solver runs
// over a cost source (Sinkhorn, unbalanced, divergences, fixed-support
// barycenters). The CPU implements them (softmin.cc, matrix-free for point
// clouds); a CUDA library can implement them again without touching the
// solvers, which reach them through KernelsFor(control). Implementations are
// stateless and thread-safe.
#ifndef OTSERVE_CORE_ENTROPIC_KERNELS_H_
#define OTSERVE_CORE_ENTROPIC_KERNELS_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"

namespace otcore {

// One balanced Sinkhorn problem between point clouds, whole, for kernels that
// solve batches of them (TakesInBatch). Checked by the caller
// (SolveSinkhornBatch): clouds, b at the mass of a, no plan, no warm start.
struct SinkhornBatchItem {
  CostSource source;  // a cloud source
  Eigen::ArrayXd a, b;
  double epsilon = 0.0;    // the target
  double eps_start = 0.0;  // the first stage (epsilon without scaling)
  double tolerance = 1e-6;
  int64_t max_iterations = 10'000;
};
// What a batch solve gives per item: the potentials and plan quantities as
// SolveSinkhorn's (no plan), with its summary.
struct SinkhornBatchOutcome {
  double cost = 0.0, regularized_cost = 0.0;
  Eigen::VectorXd f, g;
  Summary summary;
};

// One row soft-min of a set reduced together (RowSoftMins): out_i =
// -eps log sum_j exp(log_w_j + (h_j - C_ij) / eps) over `source` (a column
// soft-min is a row soft-min of the transposed source).
struct SoftMinTask {
  const CostSource* source;
  const Eigen::ArrayXd* h;
  const Eigen::ArrayXd* log_w;
  Eigen::ArrayXd* out;
};

// The arithmetic of a job's soft-min reductions: float64, or float32 where
// the kernels have a reduced-precision path (CPU: float32 exponentials of
// point-cloud reductions; GPU: float32 distances and exponentials), always
// with float64 accumulation. The primal pass that gives the reported values
// and marginals stays float64.
enum class Precision { kFloat64, kFloat32 };

class EntropicKernels {
 public:
  virtual ~EntropicKernels() = default;
  // "cpu", "cuda", ...
  virtual absl::string_view name() const = 0;
  // The arithmetic the reductions have used so far: "float64", or "float32"
  // (float32 distances and exponentials, float64 accumulation).
  virtual absl::string_view precision() const { return "float64"; }

  // out_i = -eps log sum_j exp(log_w_j + (h_j - C_ij) / eps).
  virtual void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                          const Eigen::ArrayXd& log_w, double eps,
                          Eigen::ArrayXd* out,
                          const SolveControl& control) const = 0;
  // out_j = -eps log sum_i exp(log_w_i + (h_i - C_ij) / eps).
  virtual void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                          const Eigen::ArrayXd& log_w, double eps,
                          Eigen::ArrayXd* out,
                          const SolveControl& control) const = 0;
  // One pass over the plan P_ij = exp(u_i + v_j - C_ij / eps): its row sums
  // rows_i, its per-row costs row_cost_i = sum_j P_ij C_ij, and P itself into
  // `plan` [n, m] when not null. Rows with u_i = -inf (no mass) are zero.
  // Per-row results do not depend on how rows are split across threads.
  virtual void PrimalPass(const CostSource& c, const Eigen::ArrayXd& u,
                          const Eigen::ArrayXd& v, double eps,
                          Eigen::ArrayXd* rows, Eigen::ArrayXd* row_cost,
                          RowMatrix* plan,
                          const SolveControl& control) const = 0;

  // Whether RowSoftMins reduces a set of point-cloud tasks at once (the GPU:
  // one launch for the debiased divergence's four reductions). Solvers that
  // can batch their reductions ask this; the CPU runs them one by one.
  virtual bool FusesSoftMins() const { return false; }
  // Every task at the same epsilon; by default one RowSoftMin each.
  virtual void RowSoftMins(absl::Span<const SoftMinTask> tasks, double eps,
                           const SolveControl& control) const {
    for (const SoftMinTask& t : tasks) {
      RowSoftMin(*t.source, *t.h, *t.log_w, eps, t.out, control);
    }
  }

  // Whether SolveBatch takes a problem of n x m points in dimension d whole
  // (the GPU: one block per problem, every problem of a batch in one launch).
  // The CPU's take none: its callers solve each problem with SolveSinkhorn.
  virtual bool TakesInBatch(int64_t /*n*/, int64_t /*m*/, int64_t /*d*/) const {
    return false;
  }
  // Solves every item (outcomes resized to items.size()); an error (device,
  // CANCELLED, DEADLINE_EXCEEDED) fails the whole batch.
  virtual absl::Status SolveBatch(
      absl::Span<const SinkhornBatchItem> /*items*/,
      std::vector<SinkhornBatchOutcome>* /*outcomes*/,
      const SolveControl& /*control*/) const {
    return absl::UnimplementedError("these kernels do not solve batches");
  }
};

// The CPU kernels (always available), float64.
const EntropicKernels& CpuEntropicKernels();
// CPU kernels for one job at `precision`: precision() says "float32" once a
// float32 reduction has run (point clouds; dense costs stay float64).
std::unique_ptr<EntropicKernels> MakeCpuEntropicKernels(Precision precision);

// The kernels a solve runs on: those set on `control`, else the CPU's.
const EntropicKernels& KernelsFor(const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_KERNELS_H_
