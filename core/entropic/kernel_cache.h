// A Sinkhorn solve's Gibbs kernel held in memory (stabilised scaling,
// Schmitzer 2019): E_ij = exp((fb_i + gb_j - C_ij) / eps) for reference
// potentials (fb, gb), so that each soft-min is a matrix-vector product with
// scalings exp((h - gb) / eps) instead of an exponential per entry. When the
// scalings drift past exp(kAbsorbAbove) or a product leaves the safe range,
// the soft-min is computed exactly by the log-domain kernels and its
// potentials become the new references (absorption); results agree with the
// log domain to rounding. Small problems only (Applies: the n x m doubles are
// charged by the callers' footprints). Thread-compatible: one per solve; the
// products run on the control's parallel-for.
#ifndef OTSERVE_CORE_ENTROPIC_KERNEL_CACHE_H_
#define OTSERVE_CORE_ENTROPIC_KERNEL_CACHE_H_

#include <cstdint>

#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"
#include "core/entropic/kernels.h"

namespace otcore {

// Sinkhorn problems of at most this many entries (32 MB of doubles) keep
// their kernel in memory on the CPU.
inline constexpr int64_t kKernelCacheMaxEntries = int64_t{1} << 22;

class KernelCache {
 public:
  // Whether a CPU Sinkhorn solve of n x m keeps its kernel (n * m extra
  // doubles for its duration).
  static bool Applies(int64_t n, int64_t m);

  // `exact` computes the absorptions; `cost` and `control` outlive the cache.
  KernelCache(const CostSource& cost, const EntropicKernels& exact,
              const SolveControl& control);

  // The EntropicKernels contract: out_i = -eps log sum_j exp(log_w_j + (h_j -
  // C_ij) / eps), and the column form.
  void RowSoftMin(const Eigen::ArrayXd& h, const Eigen::ArrayXd& log_w,
                  double eps, Eigen::ArrayXd* out);
  void ColSoftMin(const Eigen::ArrayXd& h, const Eigen::ArrayXd& log_w,
                  double eps, Eigen::ArrayXd* out);

  // Kernels formed so far (the first and each absorption).
  int64_t absorptions() const { return absorptions_; }

 private:
  void Form(double eps);

  const CostSource& cost_;
  const EntropicKernels& exact_;
  const SolveControl& control_;
  RowMatrix e_;                   // [n, m]
  Eigen::ArrayXd fb_, gb_;        // reference potentials
  Eigen::ArrayXd scaled_, sums_;  // scratch
  double eps_ = 0.0;              // of e_; 0 = none formed
  int64_t absorptions_ = 0;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_KERNEL_CACHE_H_
