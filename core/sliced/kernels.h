// The sliced solvers' hot part behind one interface: project both clouds on
// many unit directions and solve each 1-D problem by sorting. The CPU
// implements it with blocked matrix products and the radix-sorted 1-D solver;
// a GPU backend (core/gpu) with one projection kernel and segmented sorts. A
// solver reaches it through SlicedKernelsFor(control). Implementations are
// thread-safe.
#ifndef OTSERVE_CORE_SLICED_KERNELS_H_
#define OTSERVE_CORE_SLICED_KERNELS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

class SlicedKernels {
 public:
  virtual ~SlicedKernels() = default;
  virtual absl::string_view name() const = 0;
  // per_direction(l) = W_p^p between the projections <x_i, theta_l> weighted
  // by a and <y_j, theta_l> weighted by b (b at the mass of a), for the unit
  // directions [L, d]. Inputs checked by the caller (finite, weights valid,
  // balanced); errors: CANCELLED, DEADLINE_EXCEEDED, a device's failure.
  virtual absl::Status ProjectedCosts(const MatrixView& x, const VectorView& a,
                                      const MatrixView& y, const VectorView& b,
                                      const RowMatrix& directions, double p,
                                      Eigen::VectorXd* per_direction,
                                      const SolveControl& control) const = 0;
};

const SlicedKernels& CpuSlicedKernels();
// The kernels set on `control`, else the CPU's.
const SlicedKernels& SlicedKernelsFor(const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_SLICED_KERNELS_H_
