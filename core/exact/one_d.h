// Exact optimal transport on the real line for the cost |x - y|^p, p >= 1, by
// sorting: the monotone (north-west corner on sorted supports) coupling is
// optimal, and W_p^p = int_0^1 |F^-1(t) - G^-1(t)|^p dt. Linear time after a
// stable radix sort of the positions (a few passes over n + m keys).
// Thread-compatible.
#ifndef OTSERVE_CORE_EXACT_ONE_D_H_
#define OTSERVE_CORE_EXACT_ONE_D_H_

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

struct OneDResult {
  // sum_k P_k |x_{i_k} - y_{j_k}|^p = W_p^p (times the total mass).
  double cost = 0.0;
  // The monotone plan, at most n + m - 1 non-zeros (empty unless
  // compute_plan).
  SparsePlan plan;
  Summary summary;
};

// x [n] with weights a, y [m] with weights b (equal mass within kMassTolerance;
// b is rescaled to the mass of a). p >= 1. Both supports are radix-sorted (in
// parallel through `control`); without compute_plan no plan is stored and
// uniform weights sort the positions alone.
absl::StatusOr<OneDResult> SolveOneD(const VectorView& x, const VectorView& a,
                                     const VectorView& y, const VectorView& b,
                                     double p, const SolveControl& control,
                                     bool compute_plan = true);

}  // namespace otcore

#endif  // OTSERVE_CORE_EXACT_ONE_D_H_
