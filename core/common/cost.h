// Ground costs c(x, y) between point clouds, and the checks shared by every
// solver on weights and marginals. Pure functions; thread-compatible.
#ifndef OTSERVE_CORE_COMMON_COST_H_
#define OTSERVE_CORE_COMMON_COST_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/common/types.h"

namespace otcore {

enum class CostKind {
  kSqEuclidean,  // ||x - y||_2^2, no 1/2 factor
  kEuclidean,    // ||x - y||_2
  kPower,        // ||x - y||_2^p, p >= 1
  kExplicit,     // a given matrix
};

struct CostSpec {
  CostKind kind = CostKind::kSqEuclidean;
  double p = 2.0;  // exponent for kPower

  // The exponent p such that c = ||x - y||^p (2 for kSqEuclidean, 1 for
  // kEuclidean); meaningless for kExplicit.
  double Exponent() const;
  absl::Status Validate() const;
};

// Gibbs kernel entries exp(x) with exact zeros below exp(kMinGibbsExponent):
// Eigen's vectorised exp clamps its argument, so exp(-1000) would read
// 1.7e-308, an entry that is not there. Evaluated into a plain array.
inline constexpr double kMinGibbsExponent = -708.0;
template <typename Derived>
typename Derived::PlainObject GibbsExp(const Eigen::ArrayBase<Derived>& x) {
  const typename Derived::PlainObject v = x;
  return (v < kMinGibbsExponent).select(0.0, v.exp());
}

// The [n, m] matrix c(x_i, y_j) for point clouds x [n, d], y [m, d].
// `spec.kind` must not be kExplicit.
RowMatrix PairwiseCost(const MatrixView& x, const MatrixView& y,
                       const CostSpec& spec);

// Weights must be finite, >= 0 and not all zero; errors name `field` (a field
// path such as "source.weights").
absl::Status ValidateWeights(const VectorView& w, absl::string_view field);

// A probability vector: ValidateWeights and a total of 1 within
// kMassTolerance (barycenter inputs).
absl::Status ValidateProbability(const VectorView& w, absl::string_view field);

// Relative mass mismatch |sum a - sum b| / max(sum a, sum b) allowed by the
// balanced solvers.
inline constexpr double kMassTolerance = 1e-6;
// Error on "target.weights" when the masses of a and b differ.
absl::Status ValidateBalanced(const VectorView& a, const VectorView& b);
// The same from the two total masses.
absl::Status ValidateBalancedMasses(double mass_a, double mass_b);

// max(L1 row-marginal error, L1 column-marginal error) / sum(a) of a sparse
// plan.
double SparseMarginalError(const SparsePlan& plan, const VectorView& a,
                           const VectorView& b);

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_COST_H_
