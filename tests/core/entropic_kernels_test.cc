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
#include "core/entropic/cloud_softmin.h"
#include "core/entropic/divergence.h"
#include "core/entropic/kernel_cache.h"
#include "core/entropic/kernels.h"
#include "core/entropic/relaxation.h"
#include "core/entropic/sinkhorn.h"
#include "core/entropic/softmin.h"
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
  // The CPU iterates on its in-memory kernel (KernelCache), the seam on the
  // reductions: the same fixed point to rounding.
  EXPECT_NEAR(seam->cost, plain->cost, 1e-12 * plain->cost);
  EXPECT_EQ(kernels.rows.load(), seam->summary.iterations);
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

// The fixed-support barycenter on a dense cost runs the exp-domain products;
// the log domain (device kernels, or when the kernel underflows) gives the
// same barycenter, and the restart says so.
TEST(EntropicKernelsTest, ExpDomainBarycenterMatchesTheLogDomain) {
  std::mt19937_64 rng(41);
  const RowMatrix x = RandomPoints(60, 2, rng);
  const RowMatrix cost = PairwiseCost(x, x, {});
  const RowMatrix hist = (RowMatrix(60, 3) << RandomWeights(60, rng),
                          RandomWeights(60, rng), RandomWeights(60, rng))
                             .finished();
  const Eigen::VectorXd lambdas = Eigen::Vector3d(1, 2, 3);
  FixedSupportBarycenterOptions o;
  o.tolerance = 1e-11;
  SolveControl cpu, log_domain;
  CountingKernels kernels;
  log_domain.set_entropic_kernels(&kernels);
  for (double eps : {0.5, 0.05}) {
    o.epsilon = eps;
    auto fast = FixedSupportBarycenter(hist, lambdas, cost, o, cpu);
    auto slow = FixedSupportBarycenter(hist, lambdas, cost, o, log_domain);
    ASSERT_TRUE(fast.ok() && slow.ok());
    EXPECT_TRUE(fast->summary.converged());
    EXPECT_EQ(fast->summary.message, "");
    EXPECT_LE((fast->weights - slow->weights).lpNorm<1>(), 1e-10) << eps;
    EXPECT_NEAR(fast->weights.sum(), 1.0, 1e-10);
  }
  EXPECT_GT(kernels.rows.load(), 0);
  // exp(-C / eps) underflows for every pair (a cost shifted by 1): the
  // products vanish and the log domain takes over, with the log domain's
  // answer.
  o.epsilon = 1e-3;
  o.max_iterations = 50;
  const RowMatrix shifted = cost.array() + 1.0;
  auto restarted = FixedSupportBarycenter(hist, lambdas, shifted, o, cpu);
  auto logged = FixedSupportBarycenter(hist, lambdas, shifted, o, log_domain);
  ASSERT_TRUE(restarted.ok() && logged.ok());
  EXPECT_NE(restarted->summary.message.find("log domain"), std::string::npos)
      << restarted->summary.message;
  EXPECT_TRUE(restarted->weights.allFinite());
  EXPECT_EQ(restarted->weights, logged->weights);
}

// The in-memory kernel: each soft-min equals the log-domain one to rounding
// (clouds and dense costs, zero weights, potentials that drift far enough to
// force absorptions), and a Sinkhorn solve on it equals the solve on the
// reductions, with far fewer kernels formed than reductions run.
TEST(EntropicKernelsTest, KernelCacheSoftMinsMatchTheLogDomain) {
  std::mt19937_64 rng(17);
  const RowMatrix x = RandomPoints(50, 2, rng), y = RandomPoints(70, 2, rng, 1);
  const RowMatrix cost = PairwiseCost(x, y, {});
  SolveControl control;
  for (const CostSource& c :
       {CostSource::Dense(cost), CostSource::Clouds(x, y, {})}) {
    KernelCache cache(c, CpuEntropicKernels(), control);
    Eigen::ArrayXd log_a = RandomWeights(50, rng).array().log();
    const Eigen::ArrayXd log_b = RandomWeights(70, rng).array().log();
    log_a(3) = -std::numeric_limits<double>::infinity();
    const double eps = 0.05;
    Eigen::ArrayXd g = Eigen::ArrayXd::Zero(70), f(50), want, got;
    for (int it = 0; it < 40; ++it) {
      // Steps of growing size: small ones stay on the kernel, large ones
      // absorb.
      g += Eigen::ArrayXd::Random(70) * eps * (it % 10 == 9 ? 80.0 : 0.5);
      cache.RowSoftMin(g, log_b, eps, &got);
      RowSoftMin(MatrixView(cost), g, log_b, eps, &want);
      ASSERT_LE((got - want).abs().maxCoeff(),
                1e-12 * (1 + want.abs().maxCoeff()))
          << it;
      f = got;
      cache.ColSoftMin(f, log_a, eps, &got);
      ColSoftMin(MatrixView(cost), f, log_a, eps, &want);
      ASSERT_LE((got - want).abs().maxCoeff(),
                1e-12 * (1 + want.abs().maxCoeff()))
          << it;
    }
    EXPECT_GE(cache.absorptions(), 4);
    EXPECT_LE(cache.absorptions(), 20);
  }
  // A whole solve with stages: the cache (CPU default) against the
  // reductions (counting kernels), at a small epsilon.
  const Eigen::VectorXd a = RandomWeights(50, rng), b = Uniform(70);
  SinkhornOptions o;
  o.epsilon = 0.005;
  o.tolerance = 1e-10;
  SolveControl counted;
  CountingKernels kernels;
  counted.set_entropic_kernels(&kernels);
  auto fast = SolveSinkhorn(a, b, CostSource::Clouds(x, y, {}), o, control);
  auto slow = SolveSinkhorn(a, b, CostSource::Clouds(x, y, {}), o, counted);
  ASSERT_TRUE(fast.ok() && slow.ok());
  EXPECT_TRUE(fast->summary.converged());
  EXPECT_LE(fast->summary.marginal_error, 1e-10);
  EXPECT_NEAR(fast->cost, slow->cost, 1e-10 * slow->cost);
  EXPECT_NEAR(fast->regularized_cost, slow->regularized_cost,
              1e-10 * std::abs(slow->regularized_cost));
  EXPECT_TRUE(KernelCache::Applies(2048, 2048));
  EXPECT_FALSE(KernelCache::Applies(4096, 2048));
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

// The fused SIMD reduction over clouds against the dense reduction of the
// formed cost: shapes off the packet and tile sizes, zero weights, clouds far
// from the origin, small and large epsilon; float32 exponentials within their
// documented 4e-6 per term.
TEST(EntropicKernelsTest, FusedCloudSoftMinMatchesTheDenseReduction) {
  std::mt19937_64 rng(7);
  struct Case {
    int n, m, d;
    double eps, offset;
  };
  for (const Case& k :
       {Case{1, 1, 1, 0.5, 0.0}, Case{7, 33, 3, 0.01, 0.0},
        Case{37, 1030, 2, 0.05, 1e3}, Case{65, 300, 16, 10.0, -5.0},
        Case{20, 2049, 3, 1.0, 0.0}}) {
    RowMatrix x = RandomPoints(k.n, k.d, rng), y = RandomPoints(k.m, k.d, rng);
    x.array() += k.offset;
    y.array() += k.offset + 0.3;
    const RowMatrix cost = PairwiseCost(x, y, {});
    const CostSource clouds = CostSource::Clouds(x, y, {});
    ASSERT_TRUE(FusesCloudSoftMin(clouds));
    Eigen::ArrayXd wy = RandomWeights(k.m, rng).array();
    if (k.m > 2) wy(1) = 0.0;
    const Eigen::ArrayXd log_w = wy.log();
    const Eigen::ArrayXd h = Eigen::ArrayXd::Random(k.m) * 3.0 * k.eps;
    Eigen::ArrayXd want, got, got32;
    RowSoftMin(MatrixView(cost), h, log_w, k.eps, &want);
    FusedCloudRowSoftMin(clouds, h, log_w, k.eps, false, &got, nullptr);
    FusedCloudRowSoftMin(clouds, h, log_w, k.eps, true, &got32, nullptr);
    // Row entries of size up to ||x||^2: the error scale of the exponent.
    const double scale = 1.0 + cost.maxCoeff();
    double worst32 = 0.0;
    for (int i = 0; i < k.n; ++i) {
      EXPECT_NEAR(got(i), want(i), 1e-12 * scale) << k.n << " " << i;
      EXPECT_NEAR(got32(i), want(i), 1e-5 * k.eps + 1e-12 * scale) << i;
      worst32 = std::max(worst32, std::abs(got32(i) - want(i)));
    }
    if (k.m > 1) {
      EXPECT_GT(worst32, 0.0);  // the float32 path ran
    }
    // Columns: the CPU kernels reduce the transposed clouds the same way.
    const Eigen::ArrayXd hx = Eigen::ArrayXd::Random(k.n) * k.eps;
    const Eigen::ArrayXd log_wx = RandomWeights(k.n, rng).array().log();
    SolveControl control;
    RowSoftMin(MatrixView(RowMatrix(cost.transpose())), hx, log_wx, k.eps,
               &want);
    CpuEntropicKernels().ColSoftMin(clouds, hx, log_wx, k.eps, &got, control);
    for (int j = 0; j < k.m; ++j) {
      EXPECT_NEAR(got(j), want(j), 1e-12 * scale) << j;
    }
  }
}

// PRECISION_FLOAT32 on the CPU: the same solve within float32's reach, and
// the kernels say "float32" only once a float32 reduction ran; a tolerance
// below float32's reach ends honestly unconverged.
TEST(EntropicKernelsTest, Float32CpuKernelsSolveCloudsCloseToFloat64) {
  std::mt19937_64 rng(11);
  const RowMatrix x = RandomPoints(300, 3, rng), y = RandomPoints(200, 3, rng);
  const Eigen::VectorXd a = Uniform(300), b = Uniform(200);
  SinkhornOptions options;
  options.epsilon = 0.02;
  options.tolerance = 1e-6;
  SolveControl plain, reduced;
  const auto f32 = MakeCpuEntropicKernels(Precision::kFloat32);
  reduced.set_entropic_kernels(f32.get());
  const RowMatrix cost = PairwiseCost(x, y, {});
  ASSERT_TRUE(SolveSinkhorn(a, b, cost, options, reduced).ok());
  EXPECT_EQ(f32->precision(), "float64");  // dense costs stay float64
  const CostSource clouds = CostSource::Clouds(x, y, {});
  auto want = SolveSinkhorn(a, b, clouds, options, plain);
  auto got = SolveSinkhorn(a, b, clouds, options, reduced);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(f32->precision(), "float32");
  EXPECT_TRUE(got->summary.converged());
  EXPECT_NEAR(got->cost, want->cost, 1e-6 * want->cost);
  EXPECT_NEAR(got->regularized_cost, want->regularized_cost,
              1e-6 * std::abs(want->regularized_cost));
  EXPECT_NE(got->cost, want->cost);
  EXPECT_LE(got->summary.marginal_error, 1e-6);
  options.tolerance = 1e-11;
  options.max_iterations = 400;
  got = SolveSinkhorn(a, b, clouds, options, reduced);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->summary.converged());
  EXPECT_GT(got->summary.marginal_error, 1e-11);
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
  // Relaxed: exact only every kCheckEvery iterations, every kCheckNear near
  // the tolerance.
  EXPECT_FALSE(relax.ExactNext(21, 0.5, 1e-9));
  EXPECT_TRUE(relax.ExactNext(30, 0.5, 1e-9));
  EXPECT_FALSE(relax.ExactNext(21, 5e-9, 1e-9));
  EXPECT_TRUE(relax.ExactNext(2 * R::kCheckNear, 5e-9, 1e-9));
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
