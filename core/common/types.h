// Shared vocabulary of the OT core: matrix aliases, methods, termination
// reasons, the per-solve Summary and the sparse plan. Plain value types; not
// synchronised.
#ifndef OTSERVE_CORE_COMMON_TYPES_H_
#define OTSERVE_CORE_COMMON_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/common/eigen.h"

namespace otcore {

// Row-major dense matrix: point clouds [n, d], cost matrices and plans [n, m].
using RowMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Read-only views accepted by solvers (an owned matrix or a Map over a buffer).
using MatrixView = Eigen::Ref<const RowMatrix>;
using VectorView = Eigen::Ref<const Eigen::VectorXd>;

// The algorithm that computes a transport.
enum class Method {
  kAuto,
  kExact,
  kSinkhorn,
  kOneD,
  kUnbalanced,  // KL-relaxed entropic OT
  kSliced,      // sliced Wasserstein (mean over directions)
  kMaxSliced,   // max over directions
  kGaussian,    // closed-form W2 between Gaussians (Bures)
};

// Why a solver stopped.
enum class Termination {
  kConverged,       // optimal / within tolerance
  kIterationLimit,  // max_iterations reached first: the result is approximate
  kNumericalError,  // non-finite numbers appeared: the result must not be used
};

// The method's name from the method table (core/methods.h).
absl::string_view MethodName(Method method);

// Diagnostics every solver returns.
struct Summary {
  Method method = Method::kAuto;
  Termination termination = Termination::kConverged;
  // The one convergence flag: the result is within tolerance (or exact).
  bool converged() const { return termination == Termination::kConverged; }
  // Sinkhorn iterations (all epsilon stages) or simplex pivots; 0 for 1-D.
  int64_t iterations = 0;
  // max(L1 row-marginal error, L1 column-marginal error) / total mass of the
  // returned plan(s); 0 when there is no plan (Gaussian closed forms).
  double marginal_error = 0.0;
  // What the stopping rule compared with the tolerance, when that is not the
  // marginal error (empty: it is marginal_error): e.g. "squared_displacement"
  // (free-support barycenter), "relative_covariance_change" (Gaussian
  // barycenter), "potential_change" (unbalanced Sinkhorn), "plan_change"
  // (entropic GW), "relative_objective_change" (GW conditional gradient).
  std::string stopping_rule;
  // Its last value.
  double stopping_value = 0.0;
  // Wall-clock seconds spent in the solver.
  double seconds = 0.0;
  // Absolute epsilon used by entropic solvers; 0 otherwise.
  double epsilon = 0.0;
  // Human-readable detail, e.g. why it did not converge.
  std::string message;
};

// A plan in coordinate form: P(rows[k], cols[k]) = values[k].
struct SparsePlan {
  std::vector<int64_t> rows;
  std::vector<int64_t> cols;
  std::vector<double> values;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_TYPES_H_
