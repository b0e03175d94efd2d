// The entropic compute-kernel seam (every entropic solver reaches its
// reductions through SolveControl's kernels), the CPU primal pass, the one
// matrix-free rule, and the over-relaxation controller.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <random>

#include "core/barycenter/fixed_support.h"
#include "core/common/cost.h"
#include "core/entropic/divergence.h"
#include "core/entropic/kernels.h"
#include "core/entropic/relaxation.h"
#include "core/entropic/sinkhorn.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

using testing::RandomPoints;
using testing::RandomWeights;
using testing::Uniform;

// Forwards to the CPU kernels and counts the calls: a stand-in for another
// backend.
class CountingKernels final : public EntropicKernels {
 public:
  absl::string_view name() const override { return "counting"; }
  void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    ++rows;
    CpuEntropicKernels().RowSoftMin(c, h, log_w, eps, out, control);
  }
  void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    ++cols;
    CpuEntropicKernels().ColSoftMin(c, h, log_w, eps, out, control);
  }
  void PrimalPass(const CostSource& c, const Eigen::ArrayXd& u,
                  const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* r,
                  Eigen::ArrayXd* rc, RowMatrix* plan,
                  const SolveControl& control) const override {
    ++primal;
    CpuEntropicKernels().PrimalPass(c, u, v, eps, r, rc, plan, control);
  }
  mutable std::atomic<int> rows{0}, cols{0}, primal{0};
};

TEST(EntropicKernelsTest, SolversRunOnTheControlsKernelsWithTheSameResult) {
  std::mt19937_64 rng(31);
  const RowMatrix x = RandomPoints(40, 2, rng), y = RandomPoints(30, 2, rng, 1);
  const Eigen::VectorXd a = RandomWeights(40, rng, 3), b = Uniform(30);
  const CostSource c = CostSource::Clouds(x, y, {});
  SinkhornOptions o;
  o.epsilon = 0.1;
  o.compute_plan = true;
  SolveControl cpu, counted;
  CountingKernels kernels;
  counted.set_entropic_kernels(&kernels);
  EXPECT_EQ(&KernelsFor(cpu), &CpuEntropicKernels());
  EXPECT_EQ(&KernelsFor(counted), &kernels);

  auto plain = SolveSinkhorn(a, b, c, o, cpu);
  auto seam = SolveSinkhorn(a, b, c, o, counted);
  ASSERT_TRUE(plain.ok() && seam.ok());
  EXPECT_EQ(seam->cost, plain->cost);  // bitwise: the same CPU arithmetic
  EXPECT_EQ(seam->summary.iterations, plain->summary.iterations);
  EXPECT_EQ(kernels.rows.load(), plain->summary.iterations);
  EXPECT_GT(kernels.cols.load(), 0);
  EXPECT_EQ(kernels.primal.load(), 1);

  DivergenceOptions d;
  d.epsilon.value = 0.2;
  const int primal_before = kernels.primal.load();
  auto div = SolveDivergence(x, a, y, b, {}, d, counted);
  ASSERT_TRUE(div.ok());
  EXPECT_EQ(kernels.primal.load() - primal_before, 3);  // cross + two self

  const RowMatrix hist =
      (RowMatrix(40, 2) << RandomWeights(40, rng), RandomWeights(40, rng))
          .finished();
  FixedSupportBarycenterOptions fo;
  fo.epsilon = 0.2;
  const int rows_before = kernels.rows.load();
  auto bar = FixedSupportBarycenter(hist, Eigen::Vector2d(1, 1),
                                    CostSource::Clouds(x, x, {}), fo, counted);
  ASSERT_TRUE(bar.ok()) << bar.status();
  EXPECT_GT(kernels.rows.load(), rows_before);
}

TEST(EntropicKernelsTest, CpuPrimalPassIsThePlanFormula) {
  std::mt19937_64 rng(32);
  const RowMatrix x = RandomPoints(13, 3, rng), y = RandomPoints(9, 3, rng);
  const RowMatrix cost = PairwiseCost(x, y, {});
  Eigen::ArrayXd u = Eigen::ArrayXd::Random(13), v = Eigen::ArrayXd::Random(9);
  u(4) = -std::numeric_limits<double>::infinity();  // a row without mass
  const double eps = 0.7;
  Eigen::ArrayXd rows, row_cost;
  RowMatrix plan;
  SolveControl control;
  for (const CostSource& c :
       {CostSource::Dense(cost), CostSource::Clouds(x, y, {})}) {
    CpuEntropicKernels().PrimalPass(c, u, v, eps, &rows, &row_cost, &plan,
                                    control);
    for (int i = 0; i < 13; ++i) {
      double r = 0, rc = 0;
      for (int j = 0; j < 9; ++j) {
        const double p =
            i == 4 ? 0.0 : std::exp(u(i) + v(j) - cost(i, j) / eps);
        EXPECT_NEAR(plan(i, j), p, 1e-14 * (1 + p));
        r += p;
        rc += p * cost(i, j);
      }
      EXPECT_NEAR(rows(i), r, 1e-13 * (1 + r));
      EXPECT_NEAR(row_cost(i), rc, 1e-13 * (1 + rc));
    }
  }
}

TEST(EntropicKernelsTest, OneMatrixFreeRule) {
  EXPECT_TRUE(PreferMatrixFree(100, 100, kMatrixFreeMaxDim));
  EXPECT_FALSE(PreferMatrixFree(100, 100, kMatrixFreeMaxDim + 1));
  EXPECT_TRUE(PreferMatrixFree(int64_t{1} << 13, int64_t{1} << 13, 64));
  std::mt19937_64 rng(33);
  const RowMatrix low = RandomPoints(5, 3, rng),
                  high = RandomPoints(5, 20, rng);
  RowMatrix formed;
  EXPECT_FALSE(CostSource::ForClouds(low, low, {}, &formed).is_dense());
  EXPECT_EQ(formed.size(), 0);
  EXPECT_TRUE(CostSource::ForClouds(high, high, {}, &formed).is_dense());
  EXPECT_EQ(formed.rows(), 5);
  // Divergences count only the costs they form.
  EXPECT_EQ(DivergenceDenseEntries(10, 20, 3, DivergenceKind::kSinkhorn), 0);
  EXPECT_EQ(DivergenceDenseEntries(10, 20, 20, DivergenceKind::kSinkhorn),
            10 * 20 + 10 * 10 + 20 * 20);
  EXPECT_EQ(DivergenceDenseEntries(10, 20, 20, DivergenceKind::kEnergy), 0);
}

TEST(RelaxationControllerTest, ProbesThePlainRateThenAdapts) {
  using R = RelaxationController;
  EXPECT_EQ(R::OptimalOmega(0.0), 1.0);
  EXPECT_EQ(R::OptimalOmega(std::nan("")), 1.0);
  EXPECT_NEAR(R::OptimalOmega(0.75), 2.0 / (1.0 + 0.5), 1e-15);
  EXPECT_EQ(R::OptimalOmega(1.0), R::kMaxOmega);

  // A plain iteration contracting by theta per step sets omega after the
  // probe window; until then it stays 1 and every column update is exact.
  const double theta = 0.9;
  RelaxationController relax(true);
  double err = 1.0;
  for (int64_t k = 1; k < R::kProbeStart + R::kProbeLength; ++k) {
    err *= theta;
    relax.Observe(k, err);
    EXPECT_EQ(relax.omega(), 1.0);
    EXPECT_TRUE(relax.ExactNext(k, err, 1e-9));
  }
  err *= theta;
  relax.Observe(R::kProbeStart + R::kProbeLength, err);
  const double omega = relax.omega();
  EXPECT_NEAR(omega, R::OptimalOmega(theta), 1e-12);
  EXPECT_GT(omega, 1.0);
  // Relaxed: exact only every kCheckEvery iterations or near the tolerance.
  EXPECT_FALSE(relax.ExactNext(21, 0.5, 1e-9));
  EXPECT_TRUE(relax.ExactNext(30, 0.5, 1e-9));
  EXPECT_TRUE(relax.ExactNext(21, 5e-9, 1e-9));
  // A growing checked error halves omega back towards 1.
  relax.Observe(30, err * 2);
  EXPECT_NEAR(relax.omega(), 1.0 + 0.5 * (omega - 1.0), 1e-15);

  // Disabled (unbalanced, intermediate stages): plain Sinkhorn.
  RelaxationController plain(false);
  err = 1.0;
  for (int64_t k = 1; k <= 40; ++k) plain.Observe(k, err *= theta);
  EXPECT_EQ(plain.omega(), 1.0);
}

}  // namespace
}  // namespace otcore
