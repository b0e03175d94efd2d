// The CUDA kernels' per-element math (core/gpu/math.h), run on the CPU and
// checked against the CPU core: a row soft-min assembled from SquaredDistance,
// CostOfSquared and the streaming LogSumExp must equal CpuEntropicKernels'
// for every cost kind; merging partial reductions (tiles, warps) must equal
// one pass.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/common/cost_source.h"
#include "core/entropic/kernels.h"
#include "core/gpu/backend.h"
#include "core/gpu/math.h"

namespace otcore::gpu {
namespace {

TEST(GpuMathTest, RowSoftMinMatchesTheCpuKernels) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> normal;
  const int n = 40, m = 70, d = 3;
  RowMatrix x(n, d), y(m, d);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng) + 0.5;
  // Coordinate-major copies, as the device holds them.
  const RowMatrix xt = x.transpose(), yt = y.transpose();
  Eigen::ArrayXd h(m), log_w(m);
  for (int j = 0; j < m; ++j) {
    h(j) = normal(rng);
    log_w(j) = j == 3 ? -INFINITY : std::log(1.0 / m);  // one empty column
  }
  const double eps = 0.3;
  for (auto [kind, pair, p] :
       {std::tuple{CostKind::kSqEuclidean, PairCost::kSqEuclidean, 2.0},
        std::tuple{CostKind::kEuclidean, PairCost::kEuclidean, 1.0},
        std::tuple{CostKind::kPower, PairCost::kPower, 1.5}}) {
    CostSpec spec;
    spec.kind = kind;
    spec.p = p;
    Eigen::ArrayXd want;
    SolveControl control;
    CpuEntropicKernels().RowSoftMin(CostSource::Clouds(x, y, spec), h, log_w,
                                    eps, &want, control);
    const Eigen::ArrayXd shifted = log_w + h / eps;  // as the backend forms it
    for (int i = 0; i < n; ++i) {
      LogSumExp acc;
      for (int j = 0; j < m; ++j) {
        const double sq =
            SquaredDistance(xt.data() + i, n, yt.data() + j, m, d);
        acc.Add(SoftMinTerm(shifted(j), CostOfSquared(sq, pair, p), 1.0 / eps));
      }
      EXPECT_NEAR(SoftMinValue(acc, eps), want(i), 1e-12 * std::abs(want(i)))
          << "row " << i << " kind " << static_cast<int>(kind);
    }
  }
}

TEST(GpuMathTest, MergedPartialsEqualOnePass) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(-50, 50);
  std::vector<double> v(1000);
  for (double& t : v) t = u(rng);
  LogSumExp one;
  for (double t : v) one.Add(t);
  // 32 lanes, strided as a warp reads, merged in a tree.
  std::vector<LogSumExp> lanes(32);
  for (size_t k = 0; k < v.size(); ++k) lanes[k % 32].Add(v[k]);
  for (int offset = 16; offset > 0; offset /= 2) {
    for (int lane = 0; lane < offset; ++lane)
      lanes[lane].Merge(lanes[lane + offset]);
  }
  EXPECT_NEAR(lanes[0].Value(), one.Value(), 1e-12 * std::abs(one.Value()));
  double max = -INFINITY;
  for (double t : v) max = std::max(max, t);
  double sum = 0;
  for (double t : v) sum += std::exp(t - max);
  EXPECT_NEAR(one.Value(), max + std::log(sum), 1e-12 * std::abs(max));
  // Empty and all -inf: soft-min +inf, as the CPU kernels give.
  LogSumExp empty;
  empty.Add(-INFINITY);
  empty.Merge(LogSumExp{});
  EXPECT_EQ(SoftMinValue(empty, 0.5), INFINITY);
}

TEST(GpuMathTest, DeviceBytesCountWhatTheKernelsHold) {
  // Clouds: (n + m) d coordinates + 4 (n + m) vectors; dense: n m; plan: n m.
  EXPECT_EQ(EntropicDeviceBytes(100, 50, 3, false, false), 8 * (450 + 600));
  EXPECT_EQ(EntropicDeviceBytes(100, 50, 3, true, false), 8 * (5000 + 600));
  EXPECT_EQ(EntropicDeviceBytes(100, 50, 3, false, true),
            8 * (450 + 600 + 5000));
}

}  // namespace
}  // namespace otcore::gpu
