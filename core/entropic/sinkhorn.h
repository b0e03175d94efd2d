// Entropy-regularised OT by Sinkhorn iterations in the log domain (stable for
// any epsilon), with epsilon scaling and a marginal-error stopping rule.
//   min_P <P, C> + eps KL(P | a b^T)  s.t.  P 1 = a, P^T 1 = b,
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps).
// Thread-compatible: one call per thread; the inputs are only read.
#ifndef OTSERVE_CORE_ENTROPIC_SINKHORN_H_
#define OTSERVE_CORE_ENTROPIC_SINKHORN_H_

#include <cstdint>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"

namespace otcore {

struct SinkhornOptions {
  // Absolute regularisation epsilon (POT's `reg`), > 0. No default: the caller
  // decides (the service defaults to 0.05 x mean cost).
  double epsilon = 0.0;
  // Stop when max(L1 row error, L1 column error) / mass <= tolerance. In (0,
  // 1).
  double tolerance = 1e-6;
  // Cap on Sinkhorn iterations over all epsilon stages. > 0.
  int64_t max_iterations = 10'000;
  // Start at epsilon_0 = max(epsilon, max C - min C) and halve it per stage
  // down to epsilon, warm-starting the potentials; intermediate stages stop at
  // marginal error 1e-2 or 100 iterations.
  bool epsilon_scaling = true;
  // Return the dense plan (n x m) in the result.
  bool compute_plan = false;
  // Unbalanced OT: lambda in lambda KL(P 1 | a) + lambda KL(P^T 1 | b)
  // replacing the marginal constraints (POT's reg_m; conversions to OTT-JAX
  // and GeomLoss in types.proto). Infinity (default) = balanced. Unbalanced
  // runs stop when the sup-norm change of f / eps is <= tolerance, and the
  // masses of a and b may differ.
  double marginal_relaxation = std::numeric_limits<double>::infinity();
  // Warm start: the potential f [n] of a nearby problem (e.g. the previous
  // outer step of Gromov-Wasserstein). Given, the solve starts at the target
  // epsilon.
  std::optional<Eigen::VectorXd> initial_f;
  // Report progress to the control's callback (every 10 iterations). Off for
  // inner solves whose caller reports its own steps (Gromov-Wasserstein).
  bool report_progress = true;

  absl::Status Validate() const;
};

struct SinkhornResult {
  // <P, C> of the returned plan (POT's sinkhorn2 value).
  double cost = 0.0;
  // <P, C> + eps KL(P | a b^T) (equals <a, f> + <b, g> at convergence), plus
  // lambda (KL(P 1 | a) + KL(P^T 1 | b)) when unbalanced; KL is generalised.
  double regularized_cost = 0.0;
  Eigen::VectorXd f;
  Eigen::VectorXd g;
  // Dense [n, m] plan when options.compute_plan.
  std::optional<RowMatrix> plan;
  Summary summary;
};

// a [n], b [m] (equal mass within kMassTolerance; b is rescaled to the mass of
// a), cost [n, m] finite. Errors: INVALID_ARGUMENT, CANCELLED,
// DEADLINE_EXCEEDED.
absl::StatusOr<SinkhornResult> SolveSinkhorn(const VectorView& a,
                                             const VectorView& b,
                                             const MatrixView& cost,
                                             const SinkhornOptions& options,
                                             const SolveControl& control);

// The same over any cost source: point clouds are solved matrix-free (memory
// O((n + m) d) unless compute_plan).
absl::StatusOr<SinkhornResult> SolveSinkhorn(const VectorView& a,
                                             const VectorView& b,
                                             const CostSource& cost,
                                             const SinkhornOptions& options,
                                             const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_SINKHORN_H_
