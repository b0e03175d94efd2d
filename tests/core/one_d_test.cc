// 1-D exact OT against closed forms: sorted pairing, the CDF formula for W_1,
// Dirac masses, and the network simplex on the same weighted problem.
#include "core/exact/one_d.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/common/cost.h"
#include "core/exact/network_simplex.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

using testing::RandomWeights;
using testing::Uniform;

Eigen::VectorXd Normal(int n, std::mt19937_64& rng, double mean, double sd) {
  std::normal_distribution<double> d(mean, sd);
  Eigen::VectorXd v(n);
  for (int i = 0; i < n; ++i) v(i) = d(rng);
  return v;
}

TEST(OneDTest, SortedPairingForEqualUniformSizes) {
  std::mt19937_64 rng(1);
  const int n = 500;
  Eigen::VectorXd x = Normal(n, rng, 0, 1), y = Normal(n, rng, 3, 2);
  for (double p : {1.0, 1.5, 2.0, 3.0}) {
    std::vector<double> xs(x.data(), x.data() + n), ys(y.data(), y.data() + n);
    std::sort(xs.begin(), xs.end());
    std::sort(ys.begin(), ys.end());
    double expected = 0;
    for (int i = 0; i < n; ++i)
      expected += std::pow(std::abs(xs[i] - ys[i]), p) / n;
    SolveControl control;
    auto r = SolveOneD(x, Uniform(n), y, Uniform(n), p, control);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NEAR(r->cost, expected, 1e-10 * expected) << "p=" << p;
    EXPECT_TRUE(r->summary.converged);
    EXPECT_LT(r->summary.marginal_error, 1e-12);
  }
}

// W_1 = integral |F(t) - G(t)| dt, evaluated between consecutive support
// points.
TEST(OneDTest, W1MatchesCdfFormulaWithWeights) {
  std::mt19937_64 rng(2);
  const int n = 37, m = 53;
  Eigen::VectorXd x = Normal(n, rng, 0, 1), y = Normal(m, rng, 0.5, 0.7);
  Eigen::VectorXd a = RandomWeights(n, rng, 3), b = RandomWeights(m, rng);
  std::vector<double> pts(x.data(), x.data() + n);
  pts.insert(pts.end(), y.data(), y.data() + m);
  std::sort(pts.begin(), pts.end());
  double expected = 0;
  for (size_t k = 0; k + 1 < pts.size(); ++k) {
    double f = 0, g = 0;
    for (int i = 0; i < n; ++i) f += x(i) <= pts[k] ? a(i) : 0;
    for (int j = 0; j < m; ++j) g += y(j) <= pts[k] ? b(j) : 0;
    expected += std::abs(f - g) * (pts[k + 1] - pts[k]);
  }
  SolveControl control;
  auto r = SolveOneD(x, a, y, b, 1.0, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->cost, expected, 1e-12);
}

TEST(OneDTest, DiracMasses) {
  Eigen::VectorXd x(1), y(1), w(1);
  x << 0.0;
  y << 3.0;
  w << 1.0;
  SolveControl control;
  for (double p : {1.0, 2.0, 2.5}) {
    auto r = SolveOneD(x, w, y, w, p, control);
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->cost, std::pow(3.0, p), 1e-12);
  }
}

TEST(OneDTest, AgreesWithNetworkSimplexOnWeightedProblems) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 10; ++trial) {
    const int n = 5 + 7 * trial, m = 60 - 5 * trial;
    Eigen::VectorXd x = Normal(n, rng, 0, 1), y = Normal(m, rng, 1, 1);
    x(0) = x(1);  // ties
    Eigen::VectorXd a = RandomWeights(n, rng, trial % 3),
                    b = RandomWeights(m, rng);
    const double p = 1.0 + 0.5 * (trial % 4);
    RowMatrix c = PairwiseCost(x, y, {CostKind::kPower, p});
    SolveControl control;
    auto exact = SolveExact(a, b, c, {}, control);
    auto one_d = SolveOneD(x, a, y, b, p, control);
    ASSERT_TRUE(exact.ok() && one_d.ok());
    EXPECT_NEAR(one_d->cost, exact->cost, 1e-12 * (1 + exact->cost));
    EXPECT_LE(one_d->plan.values.size(), size_t(n + m - 1));
    EXPECT_LT(one_d->summary.marginal_error, 1e-12);
  }
}

TEST(OneDTest, RejectsBadInput) {
  Eigen::VectorXd x(2), w(2), nan(2);
  x << 0, 1;
  w << 0.5, 0.5;
  nan << 0, std::nan("");
  SolveControl control;
  EXPECT_FALSE(SolveOneD(x, w, x, w, 0.5, control).ok());
  EXPECT_FALSE(SolveOneD(nan, w, x, w, 2, control).ok());
  EXPECT_FALSE(SolveOneD(x, w, x, 2 * w, 2, control).ok());
}

}  // namespace
}  // namespace otcore
