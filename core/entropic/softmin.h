// Log-domain soft-min kernels shared by the entropic solvers (Sinkhorn,
// unbalanced, divergences, barycenters): out = -eps log sum exp(log_w + (h - C)
// / eps) along rows or columns of a row-major cost, streamed by rows. Pure
// functions.
#ifndef OTSERVE_CORE_ENTROPIC_SOFTMIN_H_
#define OTSERVE_CORE_ENTROPIC_SOFTMIN_H_

#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

// out_i = -eps * log sum_j exp(log_w_j + (h_j - C_ij) / eps).
void RowSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control = nullptr);

// out_j = -eps * log sum_i exp(log_w_i + (h_i - C_ij) / eps).
void ColSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control = nullptr);

// Generalised KL(p | q) = sum p log(p / q) - p + q (0 log 0 = 0).
double GeneralizedKl(const Eigen::ArrayXd& p, const Eigen::ArrayXd& q);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_SOFTMIN_H_
