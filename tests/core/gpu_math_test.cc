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
#include "core/exact/one_d.h"
#include "core/gpu/backend.h"
#include "core/gpu/math.h"
#include "core/gpu/one_d.h"

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

// The sliced kernels' 1-D walk over supports sorted with their weights (as
// the device's segmented sort leaves them) against SolveOneD.
TEST(GpuMathTest, SortedOneDCostMatchesSolveOneD) {
  std::mt19937_64 rng(6);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> unit(0.1, 1.0);
  for (auto [n, m, p, uniform] :
       {std::tuple{50, 50, 2.0, true}, std::tuple{37, 81, 1.0, false},
        std::tuple{120, 9, 1.5, false}, std::tuple{1, 5, 2.0, false}}) {
    Eigen::VectorXd x(n), y(m), a(n), b(m);
    for (double& v : x) v = normal(rng);
    for (double& v : y) v = 2.0 * normal(rng) + 0.3;
    for (double& v : a) v = uniform ? 1.0 : unit(rng);
    for (double& v : b) v = uniform ? 1.0 : unit(rng);
    a /= a.sum();
    b /= b.sum();
    auto sorted = [](const Eigen::VectorXd& pts, const Eigen::VectorXd& w,
                     std::vector<double>* keys, std::vector<double>* ws) {
      std::vector<int> order(pts.size());
      for (int i = 0; i < pts.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](int i, int j) { return pts(i) < pts(j); });
      for (int i : order) {
        keys->push_back(pts(i));
        ws->push_back(w(i));
      }
    };
    std::vector<double> xs, xw, ys, yw;
    sorted(x, a, &xs, &xw);
    sorted(y, b, &ys, &yw);
    const double got = SortedOneDCost(xs.data(), xw.data(), n, ys.data(),
                                      yw.data(), m, a.sum() / b.sum(), p);
    auto want = SolveOneD(x, a, y, b, p, SolveControl(), false);
    ASSERT_TRUE(want.ok());
    EXPECT_NEAR(got, want->cost, 1e-12 * want->cost) << n << " x " << m;
  }
}

// The float32 kernels' arithmetic (float32 coordinates and distances, float32
// exponentials, float64 accumulation) against the CPU's float64 soft-min.
TEST(GpuMathTest, Float32RowSoftMinIsCloseToFloat64) {
  std::mt19937_64 rng(12);
  std::normal_distribution<double> normal;
  const int n = 60, m = 90, d = 4;
  RowMatrix x(n, d), y(m, d);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng) + 1.0;
  const RowMatrix xt = x.transpose(), yt = y.transpose();
  const Eigen::MatrixXf xf = xt.cast<float>(), yf = yt.cast<float>();
  Eigen::ArrayXd h(m), log_w = Eigen::ArrayXd::Constant(m, -std::log(m));
  for (double& v : h) v = normal(rng);
  const double eps = 0.2;
  Eigen::ArrayXd want;
  SolveControl control;
  CpuEntropicKernels().RowSoftMin(CostSource::Clouds(x, y, {}), h, log_w, eps,
                                  &want, control);
  const Eigen::ArrayXd shifted = log_w + h / eps;
  double worst = 0.0;
  for (int i = 0; i < n; ++i) {
    LogSumExpF32 acc;
    for (int j = 0; j < m; ++j) {
      // Column-major float copies: coordinate k of point i at i * d + k.
      const float sq =
          SquaredDistance(xf.data() + i * d, 1, yf.data() + j * d, 1, d);
      acc.Add(SoftMinTerm(shifted(j),
                          CostOfSquared(sq, PairCost::kSqEuclidean, 2.0),
                          1.0 / eps));
    }
    worst = std::max(worst, std::abs(SoftMinValue(acc, eps) - want(i)) /
                                std::max(1.0, std::abs(want(i))));
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(worst, 0.0);  // float32 did round somewhere
}

}  // namespace
}  // namespace otcore::gpu
