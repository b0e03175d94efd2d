// The CPU's fused soft-min over point clouds: distances, exponents and the
// running log-sum-exp of a row block in two streaming passes over a column
// tile held in L1, on SIMD packets (core/common/simd.h), with the polynomial
// exponential in float64 or, at reduced precision, in float32 (terms summed in
// float64). Serves squared-Euclidean clouds up to kMatrixFreeMaxDim
// coordinates; other sources go to the generic tiles of
// softmin.cc. Pure functions; rows split across the control's parallel-for.
#ifndef OTSERVE_CORE_ENTROPIC_CLOUD_SOFTMIN_H_
#define OTSERVE_CORE_ENTROPIC_CLOUD_SOFTMIN_H_

#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"

namespace otcore {

// Whether FusedCloudRowSoftMin serves `c`.
bool FusesCloudSoftMin(const CostSource& c);

// out_i = -eps log sum_j exp(log_w_j + (h_j - C_ij) / eps) over the cloud
// source `c` (FusesCloudSoftMin(c)); exponentials in float32 when
// `float32_exp`, each term then within about 4e-6 relative (the exponent is
// rounded to float32), summed in float64.
void FusedCloudRowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                          const Eigen::ArrayXd& log_w, double eps,
                          bool float32_exp, Eigen::ArrayXd* out,
                          const SolveControl* control);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_CLOUD_SOFTMIN_H_
