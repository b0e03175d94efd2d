// Semi-discrete optimal transport: a continuous source density that the
// solver samples (uniform on a box, a Gaussian, a Gaussian mixture) against a
// weighted discrete target, by averaged stochastic gradient ascent on the
// semi-dual (Genevay, Cuturi, Peyre and Bach 2016):
//   max_g  E_x[ phi(x, g) ] + <b, g>,
//   phi(x, g) = min_j c(x, y_j) - g_j                  (unregularised), or
//             = -eps log sum_j b_j exp((g_j - c(x, y_j)) / eps)   (entropic),
// whose stochastic gradient is b - pi(x) with pi(x) the indicator of x's cell
// (argmin) or the softmax weights. The dual weights g define the Laguerre
// cells that carry the source onto the target. Thread-compatible.
#ifndef OTSERVE_CORE_SEMIDISCRETE_SEMIDISCRETE_H_
#define OTSERVE_CORE_SEMIDISCRETE_SEMIDISCRETE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/cost.h"
#include "core/common/types.h"
#include "core/gaussian/gaussian.h"

namespace otcore {

// A density the solver can sample.
struct Density {
  enum class Kind { kBox, kGaussian, kMixture };
  Kind kind = Kind::kBox;
  // kBox: low < high, [d] each.
  Eigen::VectorXd low, high;
  // kGaussian: one component; kMixture: several, with weights (> 0, any
  // total: normalised).
  std::vector<Gaussian> components;
  Eigen::VectorXd component_weights;

  int64_t dimension() const;
  // Errors name "source.<field>".
  absl::Status Validate() const;
};

struct SemiDiscreteOptions {
  // 0: unregularised; > 0: entropic.
  double epsilon = 0.0;
  // SGD steps and samples per step.
  int64_t iterations = 20'000;
  int64_t batch_size = 64;
  // gamma_k = step_size / sqrt(k); 0: the default, the mean sampled cost
  // times m (the gradient's entries are masses of order 1 / m).
  double step_size = 0.0;
  uint64_t seed = 0;
  // Fresh samples for the value estimate and the cell masses.
  int64_t evaluation_samples = 100'000;
  // Converged when the estimated cell masses are within this L1 distance of
  // b (the SGD has no other stopping rule; sampling noise counts against it).
  double tolerance = 1e-2;

  absl::Status Validate() const;
};

struct SemiDiscreteResult {
  Eigen::VectorXd g;  // dual weights [m] (averaged iterate)
  // The semi-dual objective at g on the evaluation samples (a lower bound of
  // the transport cost that is tight at the optimum) and its standard error.
  double value = 0.0;
  double standard_error = 0.0;
  // The mass of each cell under the source (estimated on the evaluation
  // samples): b at the optimum; max_j |cell_j - b_j| is the marginal error.
  Eigen::VectorXd cell_masses;
  // The cell of each query point (unregularised: argmin_j c(x, y_j) - g_j;
  // entropic: the same with the entropic weights' mode).
  std::vector<int64_t> assignment;
  Summary summary;
};

// y [m, d], b [m] (normalised to 1), query [k, d] optional.
absl::StatusOr<SemiDiscreteResult> SolveSemiDiscrete(
    const Density& source, const MatrixView& y, const VectorView& b,
    const CostSpec& cost, const SemiDiscreteOptions& options,
    const std::optional<MatrixView>& query, const SolveControl& control);

// Draws `count` points of `density` (rows) from `rng_seed`.
RowMatrix SampleDensity(const Density& density, int64_t count,
                        uint64_t rng_seed);

}  // namespace otcore

#endif  // OTSERVE_CORE_SEMIDISCRETE_SEMIDISCRETE_H_
