// Sliced Wasserstein: the p-Wasserstein cost averaged (or maximised) over 1-D
// projections onto unit directions, each solved exactly by sorting.
// Thread-compatible.
#ifndef OTSERVE_CORE_SLICED_SLICED_H_
#define OTSERVE_CORE_SLICED_SLICED_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/types.h"
#include "core/gradients.h"

namespace otcore {

struct SlicedOptions {
  // Number L of random directions, drawn uniformly on the sphere from `seed`
  // (reproducible for a given build). Ignored when directions are given. >= 1.
  int64_t num_directions = 50;
  uint64_t seed = 0;
  // Exponent p >= 1 of the 1-D cost |s - t|^p.
  double p = 2.0;
  // Max-sliced: the maximum over directions instead of the mean.
  bool max_sliced = false;
  // Return the (sub)gradients of value (core/gradients.h): through each
  // direction's sorted matching; max-sliced: through the maximising one.
  bool compute_gradients = false;

  absl::Status Validate() const;
};

struct SlicedResult {
  // mean_l W_p^p(proj_l) (sliced) or max_l W_p^p(proj_l) (max-sliced).
  double value = 0.0;
  // value^(1/p): POT's sliced_wasserstein_distance / max_sliced_... value.
  double distance = 0.0;
  // W_p^p along each direction.
  Eigen::VectorXd per_direction;
  // The unit directions used, [L, d].
  RowMatrix directions;
  // With compute_gradients.
  std::optional<Gradients> gradients;
  Summary summary;
};

// x [n, d] with weights a, y [m, d] with weights b (equal masses). `directions`
// [L, d], if given, are normalised to unit length (zero rows are an error).
absl::StatusOr<SlicedResult> SolveSliced(
    const MatrixView& x, const VectorView& a, const MatrixView& y,
    const VectorView& b, const SlicedOptions& options,
    const std::optional<MatrixView>& directions, const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_SLICED_SLICED_H_
