// Gromov-Wasserstein between metric-measure spaces of possibly different
// dimension, given by intra-space cost matrices: entropic GW (Peyre et al.
// 2016, projected mirror descent with Sinkhorn inner solves), GW by conditional
// gradient with exact inner solves and exact line search (as POT's
// gromov_wasserstein), and fused GW with a feature cost. Losses use the
// decomposition L(a, b) = f1(a) + f2(b) - h1(a) h2(b), so an iteration costs
// O(n^2 m + n m^2). Thread-compatible.
#ifndef OTSERVE_CORE_GROMOV_GROMOV_H_
#define OTSERVE_CORE_GROMOV_GROMOV_H_

#include <optional>

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/cost.h"
#include "core/common/types.h"

namespace otcore {

enum class GwLoss {
  kSquare,  // L(a, b) = (a - b)^2
  kKl,      // L(a, b) = a log(a / b) - a + b (entropic method only)
};

struct GromovOptions {
  GwLoss loss = GwLoss::kSquare;
  // > 0: entropic GW with this absolute epsilon. 0: conditional gradient.
  double epsilon = 0.0;
  // Fused GW: value = (1 - alpha) <M, T> + alpha GW(T); alpha in [0, 1]. 1 =
  // GW.
  double alpha = 1.0;
  // Outer stop: entropic ||T - T_prev||_F <= tolerance; CG relative change of
  // the objective <= tolerance.
  double tolerance = 1e-9;
  int64_t max_iterations = 1000;
  // Inner Sinkhorn iterations per outer step (entropic).
  int64_t inner_max_iterations = 10'000;

  absl::Status Validate() const;
};

struct GromovResult {
  // sum_ijkl L(C1_ik, C2_jl) T_ij T_kl (POT's gromov_wasserstein2, no 1/2);
  // fused: (1 - alpha) <M, T> + alpha times that.
  double value = 0.0;
  RowMatrix plan;  // [n, m]
  Summary summary;
};

// c1 [n, n], c2 [m, m], p [n], q [m] (equal masses); feature_cost [n, m] is
// required when alpha < 1.
absl::StatusOr<GromovResult> SolveGromov(
    const MatrixView& c1, const MatrixView& c2, const VectorView& p,
    const VectorView& q, const std::optional<MatrixView>& feature_cost,
    const GromovOptions& options, const SolveControl& control);

// One space as a caller has it: its intra-space cost matrix [n, n], or its
// points [n, d] whose intra cost is formed with `cost` (not kExplicit).
struct GromovSpace {
  std::optional<MatrixView> costs;
  std::optional<MatrixView> points;
  CostSpec cost;
};

// The same from spaces given either way; the intra costs of point spaces are
// formed here (on the calling thread).
absl::StatusOr<GromovResult> SolveGromov(
    const GromovSpace& source, const GromovSpace& target, const VectorView& p,
    const VectorView& q, const std::optional<MatrixView>& feature_cost,
    const GromovOptions& options, const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_GROMOV_GROMOV_H_
