// The entropic compute kernels: the hot reductions every entropic solver runs
// over a cost source (Sinkhorn, unbalanced, divergences, fixed-support
// barycenters). The CPU implements them (softmin.cc, matrix-free for point
// clouds); a CUDA library can implement them again without touching the
// solvers, which reach them through KernelsFor(control). Implementations are
// stateless and thread-safe.
#ifndef OTSERVE_CORE_ENTROPIC_KERNELS_H_
#define OTSERVE_CORE_ENTROPIC_KERNELS_H_

#include "absl/strings/string_view.h"
#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"

namespace otcore {

class EntropicKernels {
 public:
  virtual ~EntropicKernels() = default;
  // "cpu", "cuda", ...
  virtual absl::string_view name() const = 0;

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
};

// The CPU kernels (always available).
const EntropicKernels& CpuEntropicKernels();

// The kernels a solve runs on: those set on `control`, else the CPU's.
const EntropicKernels& KernelsFor(const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_KERNELS_H_
