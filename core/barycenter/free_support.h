// Free-support Wasserstein barycenter of point clouds (Cuturi & Doucet 2014),
// as POT's ot.lp.free_support_barycenter: fixed barycenter weights b, and the
// support X moved to X <- sum_k lambda_k diag(1/b) T_k Y_k, where T_k is an
// optimal plan between (b, X) and (a_k, Y_k) for the squared Euclidean cost,
// solved exactly (network simplex) or entropically (Sinkhorn).
// Thread-compatible.
#ifndef OTSERVE_CORE_BARYCENTER_FREE_SUPPORT_H_
#define OTSERVE_CORE_BARYCENTER_FREE_SUPPORT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

struct FreeSupportOptions {
  // 0: exact inner solves; > 0: Sinkhorn inner solves with this absolute
  // epsilon.
  double epsilon = 0.0;
  // Stop when sum ||X_new - X||^2 <= tolerance (POT's stopThr).
  double tolerance = 1e-7;
  int64_t max_iterations = 100;

  absl::Status Validate() const;
};

struct FreeSupportResult {
  RowMatrix points;  // [k, d]
  // marginal_error: of the last sweep's inner plans; stopping_value: the last
  // squared displacement of the support.
  Summary summary;
};

// measures: (points [n_k, d], weights [n_k]) pairs; lambdas [K]; x_init [k, d];
// b [k] barycenter weights (mass 1 like every measure).
absl::StatusOr<FreeSupportResult> FreeSupportBarycenter(
    const std::vector<std::pair<RowMatrix, Eigen::VectorXd>>& measures,
    const VectorView& lambdas, const MatrixView& x_init, const VectorView& b,
    const FreeSupportOptions& options, const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_BARYCENTER_FREE_SUPPORT_H_
