// Log-domain soft-min kernels shared by the entropic solvers (Sinkhorn,
// unbalanced, divergences, barycenters): out = -eps log sum exp(log_w + (h - C)
// / eps) along rows or columns of a row-major cost, streamed by rows. Pure
// functions.
#ifndef OTSERVE_CORE_ENTROPIC_SOFTMIN_H_
#define OTSERVE_CORE_ENTROPIC_SOFTMIN_H_

#include <functional>

#include "core/common/control.h"
#include "core/common/cost_source.h"
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

// The same reductions over any cost source. Point clouds are reduced
// matrix-free: cost tiles of a few rows x kTileCols columns are formed and
// folded into a running (max, sum) log-sum-exp per row (KeOps's online
// reduction), rows split across the control's parallel-for; the column
// reduction of clouds is the row reduction of the swapped clouds.
void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control = nullptr);
void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control = nullptr);

// Visits the rows of `c` in blocks (in parallel through `control`, if given):
// body(i0, tile) gets rows [i0, i0 + tile.rows()) with all columns. Blocks are
// small (a few rows), so no n x m matrix is formed. `body` must only write
// state owned by its rows, or merge under its own lock.
void ForEachRowBlock(
    const CostSource& c, const SolveControl* control,
    const std::function<void(Eigen::Index, const RowMatrix&)>& body);

// sum_i |a_i exp((f_i - f_next_i) / eps) - a_i|: the L1 row error of the plan
// (f, g) whose row update is f_next. Rows without mass count 0 (their
// exponent may overflow: no 0 x inf).
double RowMarginalError(const Eigen::ArrayXd& a, const Eigen::ArrayXd& f,
                        const Eigen::ArrayXd& f_next, double eps);

// Generalised KL(p | q) = sum p log(p / q) - p + q (0 log 0 = 0).
double GeneralizedKl(const Eigen::ArrayXd& p, const Eigen::ArrayXd& q);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_SOFTMIN_H_
