// The CPU entropic kernels: the soft-min reductions of softmin.cc and a tiled
// primal pass.
#include "core/entropic/kernels.h"

#include <atomic>
#include <limits>

#include "core/entropic/cloud_softmin.h"
#include "core/entropic/softmin.h"

namespace otcore {
namespace {

class CpuKernels final : public EntropicKernels {
 public:
  explicit CpuKernels(Precision precision) : precision_(precision) {}

  absl::string_view name() const override { return "cpu"; }
  absl::string_view precision() const override {
    return used_float32_.load(std::memory_order_relaxed) ? "float32"
                                                         : "float64";
  }

  void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    // Squared-Euclidean clouds take the fused SIMD kernel; the rest the
    // generic tiles.
    if (FusesCloudSoftMin(c)) {
      const bool f32 = precision_ == Precision::kFloat32;
      if (f32) used_float32_.store(true, std::memory_order_relaxed);
      return FusedCloudRowSoftMin(c, h, log_w, eps, f32, out, &control);
    }
    otcore::RowSoftMin(c, h, log_w, eps, out, &control);
  }
  void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    if (FusesCloudSoftMin(c)) {
      return RowSoftMin(c.Transposed(), h, log_w, eps, out, control);
    }
    otcore::ColSoftMin(c, h, log_w, eps, out, &control);
  }

  void PrimalPass(const CostSource& c, const Eigen::ArrayXd& u,
                  const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* rows,
                  Eigen::ArrayXd* row_cost, RowMatrix* plan,
                  const SolveControl& control) const override {
    constexpr double kNegInf = -std::numeric_limits<double>::infinity();
    *rows = Eigen::ArrayXd::Zero(c.rows());
    *row_cost = Eigen::ArrayXd::Zero(c.rows());
    if (plan) plan->setZero(c.rows(), c.cols());
    // Each block writes only its own rows.
    ForEachRowBlock(c, &control, [&](Eigen::Index i0, const RowMatrix& tile) {
      for (Eigen::Index r = 0; r < tile.rows(); ++r) {
        const Eigen::Index i = i0 + r;
        if (u(i) == kNegInf) continue;
        const Eigen::ArrayXd p =
            (u(i) + v - tile.row(r).transpose().array() / eps).exp();
        (*rows)(i) = p.sum();
        (*row_cost)(i) = (p * tile.row(r).transpose().array()).sum();
        if (plan) plan->row(i) = p.transpose().matrix();
      }
    });
  }

 private:
  const Precision precision_;
  mutable std::atomic<bool> used_float32_{false};
};

}  // namespace

const EntropicKernels& CpuEntropicKernels() {
  static const CpuKernels* const kernels = new CpuKernels(Precision::kFloat64);
  return *kernels;
}

std::unique_ptr<EntropicKernels> MakeCpuEntropicKernels(Precision precision) {
  return std::make_unique<CpuKernels>(precision);
}

const EntropicKernels& KernelsFor(const SolveControl& control) {
  const EntropicKernels* set = control.entropic_kernels();
  return set ? *set : CpuEntropicKernels();
}

}  // namespace otcore
