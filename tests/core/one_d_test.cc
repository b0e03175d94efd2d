// 1-D exact OT against closed forms: sorted pairing, the CDF formula for W_1,
// Dirac masses, and the network simplex on the same weighted problem.
#include "core/exact/one_d.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/common/cost.h"
#include "core/common/radix_sort.h"
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
    EXPECT_TRUE(r->summary.converged());
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

// The radix sort orders like std::stable_sort: signs, zeros of both signs,
// infinities, denormals, ties (stable payload order), and sizes on both sides
// of its small-input cutoff.
TEST(RadixSortTest, MatchesStableSort) {
  std::mt19937_64 rng(5);
  for (int n : {0, 1, 7, 255, 256, 5000, 100000}) {
    std::vector<KeyedItem> items(n);
    std::vector<double> keys(n);
    std::normal_distribution<double> normal;
    for (int i = 0; i < n; ++i) {
      double v =
          normal(rng) * std::pow(10.0, static_cast<int>(rng() % 40) - 20);
      if (i % 11 == 0) v = std::round(v);  // many ties, and -0.0 / +0.0
      if (i % 97 == 0) v = (i % 2 ? 1 : -1) * HUGE_VAL;
      if (i % 89 == 0) v = 4.9e-324 * (i % 3);
      items[i] = {v, static_cast<uint64_t>(i)};
      keys[i] = v;
    }
    std::vector<KeyedItem> expected = items;
    std::stable_sort(expected.begin(), expected.end(),
                     [](const KeyedItem& x, const KeyedItem& y) {
                       return x.key < y.key ||
                              (x.key == y.key && std::signbit(x.key) &&
                               !std::signbit(y.key));
                     });
    RadixSort(&items);
    RadixSort(&keys);
    ASSERT_EQ(items.size(), expected.size());
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(items[i].key, expected[i].key) << n << " " << i;
      EXPECT_EQ(keys[i], expected[i].key) << n << " " << i;
    }
    // Stability: equal keys (same bit pattern) keep increasing payloads.
    for (int i = 1; i < n; ++i) {
      if (std::memcmp(&items[i].key, &items[i - 1].key, sizeof(double)) == 0) {
        EXPECT_LT(items[i - 1].payload, items[i].payload);
      }
    }
  }
}

// Without a plan (sorting positions alone for uniform weights) the value and
// the reported marginal error match the plan-building path.
TEST(OneDTest, ValueWithoutPlanMatches) {
  std::mt19937_64 rng(6);
  const Eigen::VectorXd x = Normal(3000, rng, 0, 1),
                        y = Normal(2000, rng, 1, 2);
  for (bool uniform : {true, false}) {
    const Eigen::VectorXd a =
        uniform ? Uniform(3000) : RandomWeights(3000, rng);
    const Eigen::VectorXd b =
        uniform ? Uniform(2000) : RandomWeights(2000, rng);
    SolveControl control;
    auto with = SolveOneD(x, a, y, b, 1.5, control, true);
    auto without = SolveOneD(x, a, y, b, 1.5, control, false);
    ASSERT_TRUE(with.ok() && without.ok());
    EXPECT_NEAR(without->cost, with->cost, 1e-12 * with->cost);
    EXPECT_TRUE(without->plan.values.empty());
    EXPECT_LE(without->summary.marginal_error, 1e-12);
  }
}

}  // namespace
}  // namespace otcore
