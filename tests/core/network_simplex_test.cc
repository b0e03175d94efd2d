// Network simplex against the seed example, brute force over permutations, 1-D
// closed forms and LP optimality conditions (primal feasibility, dual
// feasibility, zero duality gap).
#include "core/exact/network_simplex.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/common/cost.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

using testing::RandomPoints;
using testing::RandomWeights;
using testing::Uniform;

// Checks P >= 0, marginals, f + g <= C, slackness and <a,f> + <b,g> = <P,C>.
void ExpectOptimal(const ExactResult& r, const Eigen::VectorXd& a,
                   const Eigen::VectorXd& b, const RowMatrix& c) {
  ASSERT_TRUE(r.summary.converged()) << r.summary.message;
  EXPECT_EQ(r.summary.termination, Termination::kConverged);
  EXPECT_LE(static_cast<int64_t>(r.plan.values.size()),
            a.size() + b.size() - 1);
  Eigen::VectorXd rows = Eigen::VectorXd::Zero(a.size());
  Eigen::VectorXd cols = Eigen::VectorXd::Zero(b.size());
  for (size_t k = 0; k < r.plan.values.size(); ++k) {
    EXPECT_GT(r.plan.values[k], 0.0);
    rows(r.plan.rows[k]) += r.plan.values[k];
    cols(r.plan.cols[k]) += r.plan.values[k];
    EXPECT_NEAR(r.f(r.plan.rows[k]) + r.g(r.plan.cols[k]),
                c(r.plan.rows[k], r.plan.cols[k]), 1e-9 * (1 + c.maxCoeff()));
  }
  EXPECT_LT((rows - a).lpNorm<1>(), 1e-12);
  EXPECT_LT((cols - b).lpNorm<1>(), 1e-12);
  const double scale = 1.0 + c.cwiseAbs().maxCoeff();
  for (int i = 0; i < c.rows(); ++i)
    for (int j = 0; j < c.cols(); ++j)
      EXPECT_LE(r.f(i) + r.g(j), c(i, j) + 1e-9 * scale) << i << "," << j;
  EXPECT_NEAR(a.dot(r.f) + b.dot(r.g), r.cost, 1e-9 * scale);
  EXPECT_NEAR(a.dot(r.f), b.dot(r.g), 1e-9 * scale);
  EXPECT_LT(r.summary.marginal_error, 1e-12);
}

TEST(NetworkSimplexTest, SeedExample) {
  Eigen::VectorXd a(2), b(2);
  a << 0.5, 0.5;
  b << 0.2, 0.8;
  RowMatrix c(2, 2);
  c << 0, 1, 1, 0;
  SolveControl control;
  auto r = SolveExact(a, b, c, {}, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->cost, 0.3, 1e-15);
  RowMatrix dense = RowMatrix::Zero(2, 2);
  for (size_t k = 0; k < r->plan.values.size(); ++k)
    dense(r->plan.rows[k], r->plan.cols[k]) = r->plan.values[k];
  RowMatrix expected(2, 2);
  expected << 0.2, 0.3, 0.0, 0.5;
  EXPECT_TRUE(dense.isApprox(expected, 1e-14)) << dense;
  ExpectOptimal(*r, a, b, c);
}

// With uniform weights and n = m, an optimal plan is a permutation (Birkhoff).
TEST(NetworkSimplexTest, MatchesBruteForceOverPermutations) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 2 + trial % 5;
    RowMatrix x = RandomPoints(n, 2, rng), y = RandomPoints(n, 2, rng, 0.5);
    RowMatrix c = PairwiseCost(x, y, {CostKind::kEuclidean});
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {
      double s = 0;
      for (int i = 0; i < n; ++i) s += c(i, perm[i]);
      best = std::min(best, s / n);
    } while (std::next_permutation(perm.begin(), perm.end()));
    SolveControl control;
    auto r = SolveExact(Uniform(n), Uniform(n), c, {}, control);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NEAR(r->cost, best, 1e-12) << "n=" << n;
    ExpectOptimal(*r, Uniform(n), Uniform(n), c);
  }
}

// In 1-D with a convex cost the sorted pairing is optimal.
TEST(NetworkSimplexTest, OneDimensionalSortedPairing) {
  std::mt19937_64 rng(3);
  const int n = 40;
  RowMatrix x = RandomPoints(n, 1, rng), y = RandomPoints(n, 1, rng, 2.0);
  std::vector<double> xs(x.data(), x.data() + n), ys(y.data(), y.data() + n);
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  double expected = 0;
  for (int i = 0; i < n; ++i) expected += (xs[i] - ys[i]) * (xs[i] - ys[i]) / n;
  SolveControl control;
  RowMatrix c = PairwiseCost(x, y, {});
  auto r = SolveExact(Uniform(n), Uniform(n), c, {}, control);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->cost, expected, 1e-12);
}

TEST(NetworkSimplexTest, RandomShapesAreOptimal) {
  std::mt19937_64 rng(11);
  const int shapes[][3] = {{1, 5, 2},    {5, 1, 3},    {17, 9, 2},
                           {60, 100, 3}, {150, 80, 5}, {250, 250, 2}};
  for (const auto& s : shapes) {
    Eigen::VectorXd a = RandomWeights(s[0], rng), b = RandomWeights(s[1], rng);
    RowMatrix c = PairwiseCost(RandomPoints(s[0], s[2], rng),
                               RandomPoints(s[1], s[2], rng, 1.0), {});
    SolveControl control;
    auto r = SolveExact(a, b, c, {}, control);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectOptimal(*r, a, b, c);
  }
}

// Uniform measures of one size (up to 40 points) take the assignment path:
// the same optimality certificate must hold, also with tied integer costs,
// zero weights removed first, and one point.
TEST(NetworkSimplexTest, UniformSquareProblemsAreOptimal) {
  std::mt19937_64 rng(13);
  for (int n : {1, 2, 17, 40, 41}) {
    const Eigen::VectorXd a = Uniform(n);
    RowMatrix c =
        PairwiseCost(RandomPoints(n, 2, rng), RandomPoints(n, 2, rng, 1.0), {});
    SolveControl control;
    auto r = SolveExact(a, a, c, {}, control);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectOptimal(*r, a, a, c);
    EXPECT_EQ(static_cast<int>(r->plan.values.size()), n);  // a permutation
    RowMatrix ties = (c * 2).array().round().matrix();
    r = SolveExact(a, a, ties, {}, control);
    ASSERT_TRUE(r.ok());
    ExpectOptimal(*r, a, a, ties);
  }
  // The assignment path's start and lazy prices on many problems: integer
  // costs with ties and negative entries, each certified by its duals.
  for (int trial = 0; trial < 30; ++trial) {
    const int n = 3 + trial;
    const Eigen::VectorXd u = Uniform(n);
    RowMatrix c =
        PairwiseCost(RandomPoints(n, 2, rng), RandomPoints(n, 2, rng, 1.0), {});
    c = (c * 3).array().round().matrix();
    c.array() -= 4.0;
    SolveControl control;
    auto r = SolveExact(u, u, c, {}, control);
    ASSERT_TRUE(r.ok());
    ExpectOptimal(*r, u, u, c);
  }
  Eigen::VectorXd a = Uniform(12);
  a(3) = a(7) = 0.0;  // 10 points left on each side
  const Eigen::VectorXd b = a.reverse();
  const RowMatrix c =
      PairwiseCost(RandomPoints(12, 3, rng), RandomPoints(12, 3, rng), {});
  SolveControl control;
  auto r = SolveExact(a, b, c, {}, control);
  ASSERT_TRUE(r.ok());
  ExpectOptimal(*r, a, b, c);
}

TEST(NetworkSimplexTest, ZeroWeightsAndDuplicatePoints) {
  std::mt19937_64 rng(5);
  const int n = 30, m = 25;
  Eigen::VectorXd a = RandomWeights(n, rng, 6), b = RandomWeights(m, rng, 4);
  RowMatrix x = RandomPoints(n, 2, rng), y = RandomPoints(m, 2, rng);
  y.row(3) = x.row(1);
  y.row(4) = x.row(1);
  x.row(7) = x.row(8);
  RowMatrix c = PairwiseCost(x, y, {});
  SolveControl control;
  auto r = SolveExact(a, b, c, {}, control);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectOptimal(*r, a, b, c);
  for (size_t k = 0; k < r->plan.values.size(); ++k) {
    EXPECT_GT(a(r->plan.rows[k]), 0.0);
    EXPECT_GT(b(r->plan.cols[k]), 0.0);
  }
}

TEST(NetworkSimplexTest, UnnormalisedEqualMassesAndLargeCosts) {
  std::mt19937_64 rng(9);
  Eigen::VectorXd a = 7.0 * RandomWeights(20, rng),
                  b = 7.0 * RandomWeights(30, rng);
  RowMatrix c = 1e8 * PairwiseCost(RandomPoints(20, 3, rng),
                                   RandomPoints(30, 3, rng), {});
  SolveControl control;
  auto r = SolveExact(a, b, c, {}, control);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectOptimal(*r, a, b, c);
}

TEST(NetworkSimplexTest, IterationLimitIsReportedNotHidden) {
  std::mt19937_64 rng(1);
  const int n = 50;
  RowMatrix c =
      PairwiseCost(RandomPoints(n, 2, rng), RandomPoints(n, 2, rng), {});
  ExactOptions options;
  options.max_iterations = 3;
  SolveControl control;
  auto r = SolveExact(Uniform(n), Uniform(n), c, options, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->summary.converged());
  EXPECT_EQ(r->summary.termination, Termination::kIterationLimit);
  EXPECT_EQ(r->summary.iterations, 3);
  EXPECT_GT(r->summary.marginal_error, 0.0);  // mass still on artificial arcs
  EXPECT_FALSE(r->summary.message.empty());
}

TEST(NetworkSimplexTest, RejectsBadInput) {
  Eigen::VectorXd a(2), b(2), neg(2);
  a << 0.5, 0.5;
  b << 0.3, 0.3;
  neg << 1.5, -0.5;
  RowMatrix c = RowMatrix::Zero(2, 2);
  SolveControl control;
  EXPECT_EQ(SolveExact(a, b, c, {}, control).status().code(),
            absl::StatusCode::kInvalidArgument);  // masses differ
  EXPECT_EQ(SolveExact(a, neg, c, {}, control).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      SolveExact(a, Eigen::VectorXd::Zero(2), c, {}, control).status().code(),
      absl::StatusCode::kInvalidArgument);
  RowMatrix bad = c;
  bad(1, 1) = std::nan("");
  EXPECT_EQ(SolveExact(a, a, bad, {}, control).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      SolveExact(a, a, RowMatrix::Zero(2, 3), {}, control).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(NetworkSimplexTest, HonoursCancelAndDeadline) {
  std::mt19937_64 rng(2);
  RowMatrix c =
      PairwiseCost(RandomPoints(30, 2, rng), RandomPoints(30, 2, rng), {});
  SolveControl cancelled;
  cancelled.Cancel();
  EXPECT_EQ(
      SolveExact(Uniform(30), Uniform(30), c, {}, cancelled).status().code(),
      absl::StatusCode::kCancelled);
  SolveControl late;
  late.set_deadline(absl::Now() - absl::Seconds(1));
  EXPECT_EQ(SolveExact(Uniform(30), Uniform(30), c, {}, late).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace otcore
