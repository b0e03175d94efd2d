// Entropic barycenter of histograms on a shared support by iterative Bregman
// projections (Benamou et al. 2015): on a dense cost in the exp domain with
// the Gibbs kernel formed once (matrix products over all histograms, as POT),
// restarted in the log domain when a product leaves the range of doubles;
// point clouds, the debiased form and device kernels run in the log domain.
// Thread-compatible.
#ifndef OTSERVE_CORE_BARYCENTER_FIXED_SUPPORT_H_
#define OTSERVE_CORE_BARYCENTER_FIXED_SUPPORT_H_

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"

namespace otcore {

struct FixedSupportBarycenterOptions {
  // Absolute entropic regularisation (POT's `reg`), > 0.
  double epsilon = 0.0;
  // Stop when max_k ||P_k^T 1 - bar||_1 <= tolerance (each input's plan has the
  // barycenter as its second marginal at the fixed point). In (0, 1).
  double tolerance = 1e-8;
  int64_t max_iterations = 10'000;
  // Debiased barycenter (Janati et al. 2020; POT's barycenter_debiased):
  // divides out the entropic blur with a self-transport correction c. Needs a
  // square cost (barycenter support = input support).
  bool debiased = false;

  absl::Status Validate() const;
};

struct FixedSupportBarycenterResult {
  // Barycenter weights on the barycenter support [m].
  Eigen::VectorXd weights;
  Summary summary;
};

// histograms [n, K]: K input histograms (columns) on a common support of size
// n, each of mass 1 (within kMassTolerance; they are normalised); lambdas [K]
// >= 0; cost [n, m] between the input support and the barycenter support (m = n
// for POT's ot.bregman.barycenter).
// The cost may be a point-cloud source (reduced matrix-free, no n x m matrix).
// The reductions run on the control's entropic kernels.
// Whether a solve forms the n x m Gibbs kernel (doubles) beside a dense cost:
// the exp-domain path, for dense costs without debiasing.
bool FixedSupportUsesKernelMatrix(bool dense_cost, bool debiased);

absl::StatusOr<FixedSupportBarycenterResult> FixedSupportBarycenter(
    const MatrixView& histograms, const VectorView& lambdas,
    const CostSource& cost, const FixedSupportBarycenterOptions& options,
    const SolveControl& control);
absl::StatusOr<FixedSupportBarycenterResult> FixedSupportBarycenter(
    const MatrixView& histograms, const VectorView& lambdas,
    const MatrixView& cost, const FixedSupportBarycenterOptions& options,
    const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_BARYCENTER_FIXED_SUPPORT_H_
