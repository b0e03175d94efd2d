// Convolutional Wasserstein barycenters of images on regular 2-D and 3-D grids
// (Solomon et al. 2015): iterative Bregman projections where the Gibbs kernel
// exp(-||p - q||^2 / eps) on the grid [0, 1]^d (linspace per axis, as POT) is
// applied separably, one axis at a time: as matrix products on the scalings
// (exp domain, images in parallel), or, when those products under/overflow,
// in the log domain from the start (reported in the summary's message). The
// full kernel matrix is never formed. Thread-compatible.
#ifndef OTSERVE_CORE_BARYCENTER_GRID_H_
#define OTSERVE_CORE_BARYCENTER_GRID_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

struct GridBarycenterOptions {
  // Absolute regularisation on the unit grid (POT's `reg`), > 0.
  double epsilon = 0.0;
  // Stop when max_k ||(second marginal of P_k) - bar||_1 <= tolerance.
  double tolerance = 1e-9;
  int64_t max_iterations = 10'000;

  absl::Status Validate() const;
};

struct GridBarycenterResult {
  Eigen::ArrayXd image;  // flattened row-major, shape `shape`
  Summary summary;
};

// images: K flattened row-major arrays of shape `shape` (2 or 3 dimensions,
// each
// >= 2), non-negative with mass 1; lambdas [K] >= 0.
absl::StatusOr<GridBarycenterResult> GridBarycenter(
    const std::vector<Eigen::ArrayXd>& images,
    const std::vector<int64_t>& shape, const VectorView& lambdas,
    const GridBarycenterOptions& options, const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_BARYCENTER_GRID_H_
