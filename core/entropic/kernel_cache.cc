// The in-memory Gibbs kernel of small Sinkhorn solves.
#include "core/entropic/kernel_cache.h"

#include <cmath>
#include <limits>

#include "core/common/cost.h"
#include "core/entropic/softmin.h"

namespace otcore {
namespace {
// Scalings beyond exp(+-kAbsorbAbove) trigger an absorption: far inside the
// double range, and the entries the kernel rounds to zero (exponents below
// kMinGibbsExponent) stay below exp(kAbsorbAbove - 708) of their row's mass.
constexpr double kAbsorbAbove = 50.0;
// Products below this (near the subnormal range) are recomputed exactly.
constexpr double kMinSum = 1e-250;
// Rows (or columns) per task of the products.
constexpr int64_t kPerTask = 32;
}  // namespace

bool KernelCache::Applies(int64_t n, int64_t m) {
  return n > 0 && m > 0 && n <= kKernelCacheMaxEntries / m;
}

KernelCache::KernelCache(const CostSource& cost, const EntropicKernels& exact,
                         const SolveControl& control)
    : cost_(cost), exact_(exact), control_(control) {}

void KernelCache::Form(double eps) {
  e_.resize(cost_.rows(), cost_.cols());
  ForEachRowBlock(
      cost_, &control_, [&](Eigen::Index i0, const RowMatrix& tile) {
        for (Eigen::Index r = 0; r < tile.rows(); ++r) {
          e_.row(i0 + r) =
              GibbsExp((fb_(i0 + r) + gb_ - tile.row(r).transpose().array()) /
                       eps)
                  .transpose();
        }
      });
  eps_ = eps;
  ++absorptions_;
}

void KernelCache::RowSoftMin(const Eigen::ArrayXd& h,
                             const Eigen::ArrayXd& log_w, double eps,
                             Eigen::ArrayXd* out) {
  if (eps_ == eps) {
    scaled_ = (h - gb_) / eps;
    if (scaled_.abs().maxCoeff() <= kAbsorbAbove) {
      scaled_ = (scaled_ + log_w).exp();  // w_j exp((h_j - gb_j) / eps)
      sums_.resize(e_.rows());
      control_.ParallelRange(e_.rows(), kPerTask, [&](int64_t b, int64_t e) {
        sums_.segment(b, e - b) =
            (e_.middleRows(b, e - b) * scaled_.matrix()).array();
      });
      if ((sums_ > kMinSum).all() && sums_.allFinite()) {
        *out = fb_ - eps * sums_.log();
        return;
      }
    }
  }
  // Absorb: the exact soft-min, and (it, h) as the new references.
  exact_.RowSoftMin(cost_, h, log_w, eps, out, control_);
  fb_ = *out;
  gb_ = h;
  Form(eps);
}

void KernelCache::ColSoftMin(const Eigen::ArrayXd& h,
                             const Eigen::ArrayXd& log_w, double eps,
                             Eigen::ArrayXd* out) {
  if (eps_ == eps) {
    scaled_ = (h - fb_) / eps;
    if (scaled_.abs().maxCoeff() <= kAbsorbAbove) {
      scaled_ = (scaled_ + log_w).exp();
      sums_.resize(e_.cols());
      control_.ParallelRange(e_.cols(), kPerTask, [&](int64_t b, int64_t e) {
        sums_.segment(b, e - b) =
            (e_.middleCols(b, e - b).transpose() * scaled_.matrix()).array();
      });
      if ((sums_ > kMinSum).all() && sums_.allFinite()) {
        *out = gb_ - eps * sums_.log();
        return;
      }
    }
  }
  exact_.ColSoftMin(cost_, h, log_w, eps, out, control_);
  fb_ = h;
  gb_ = *out;
  Form(eps);
}

}  // namespace otcore
