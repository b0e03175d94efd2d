// Log-domain Sinkhorn: marginals, convergence to the exact value as epsilon
// shrinks, stability at small epsilon, the primal/dual identity, honest
// non-convergence, cancellation.
#include "core/entropic/sinkhorn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/common/cost.h"
#include "core/exact/network_simplex.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

using testing::RandomPoints;
using testing::RandomWeights;
using testing::Uniform;

double Median(const RowMatrix& c) {
  std::vector<double> v(c.data(), c.data() + c.size());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Problem {
  Eigen::VectorXd a, b;
  RowMatrix c;
};

Problem MakeProblem(int n, int m, uint64_t seed, int zeros = 0) {
  std::mt19937_64 rng(seed);
  Problem p;
  p.a = RandomWeights(n, rng, zeros);
  p.b = RandomWeights(m, rng);
  p.c = PairwiseCost(RandomPoints(n, 2, rng), RandomPoints(m, 2, rng, 1.0), {});
  return p;
}

TEST(SinkhornTest, MarginalsAndPlanMatchPotentials) {
  Problem p = MakeProblem(40, 30, 1);
  SinkhornOptions o;
  o.epsilon = 0.1;
  o.compute_plan = true;
  SolveControl control;
  auto r = SolveSinkhorn(p.a, p.b, p.c, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->summary.converged()) << r->summary.message;
  const RowMatrix& plan = *r->plan;
  EXPECT_LT((plan.rowwise().sum() - p.a).lpNorm<1>(), 1e-6);
  EXPECT_LT((plan.colwise().sum().transpose() - p.b).lpNorm<1>(), 1e-6);
  EXPECT_LE(r->summary.marginal_error, 1e-6);
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 30; ++j)
      EXPECT_NEAR(
          plan(i, j),
          p.a(i) * p.b(j) * std::exp((r->f(i) + r->g(j) - p.c(i, j)) / 0.1),
          1e-12);
  EXPECT_NEAR(r->cost, (plan.array() * p.c.array()).sum(), 1e-12);
  // Balanced entropic duality: primal objective = <a, f> + <b, g>.
  EXPECT_NEAR(r->regularized_cost, p.a.dot(r->f) + p.b.dot(r->g), 1e-5);
  // KL >= 0, so the regularised objective is at least the transport cost.
  EXPECT_GE(r->regularized_cost, r->cost - 1e-9);
}

TEST(SinkhornTest, ApproachesExactAsEpsilonShrinks) {
  Problem p = MakeProblem(60, 50, 2);
  SolveControl control;
  auto exact = SolveExact(p.a, p.b, p.c, {}, control);
  ASSERT_TRUE(exact.ok());
  const double med = Median(p.c);
  double previous_gap = 1e300;
  for (double rel : {1e-1, 1e-2, 1e-3}) {
    SinkhornOptions o;
    o.epsilon = rel * med;
    o.max_iterations = 100000;
    auto r = SolveSinkhorn(p.a, p.b, p.c, o, control);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->summary.converged()) << rel << " " << r->summary.message;
    EXPECT_TRUE(std::isfinite(r->cost) && std::isfinite(r->regularized_cost));
    const double gap = std::abs(r->cost - exact->cost);
    EXPECT_LT(gap, previous_gap) << "rel=" << rel;
    // <P_eps, C> >= OT and the regularised value upper-bounds it too.
    EXPECT_GE(r->cost, exact->cost - 1e-6);
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 1e-2 * exact->cost);
}

TEST(SinkhornTest, SmallEpsilonWithoutScalingStaysFinite) {
  Problem p = MakeProblem(30, 30, 3);
  SinkhornOptions o;
  o.epsilon = 1e-3 * Median(p.c);
  o.epsilon_scaling = false;
  o.max_iterations = 200;
  SolveControl control;
  auto r = SolveSinkhorn(p.a, p.b, p.c, o, control);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::isfinite(r->cost));
  EXPECT_TRUE(r->f.allFinite() && r->g.allFinite());
  EXPECT_NE(r->summary.termination, Termination::kNumericalError);
}

// Issue 10: a zero-weight source point nearer the targets than any weighted
// one made exp((f - f_next) / eps) overflow, and 0 x inf turned the error into
// NaN (NUMERICAL_ERROR) when epsilon scaling was off.
TEST(SinkhornTest, ZeroWeightRowsAreMaskedWithoutScaling) {
  RowMatrix c(3, 2);
  c << 0, 0, 100, 101, 101, 100;
  const Eigen::Vector3d a(0, 0.5, 0.5);
  const Eigen::Vector2d b(0.5, 0.5);
  SinkhornOptions o;
  o.epsilon = 0.01;
  o.epsilon_scaling = false;
  SolveControl control;
  auto r = SolveSinkhorn(a, b, c, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->summary.termination, Termination::kConverged)
      << r->summary.message;
  EXPECT_NEAR(r->cost, 100.0, 1e-6);
}

TEST(SinkhornTest, IterationLimitIsReported) {
  Problem p = MakeProblem(30, 30, 4);
  SinkhornOptions o;
  o.epsilon = 1e-3;
  o.max_iterations = 3;
  SolveControl control;
  auto r = SolveSinkhorn(p.a, p.b, p.c, o, control);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->summary.converged());
  EXPECT_EQ(r->summary.termination, Termination::kIterationLimit);
  EXPECT_EQ(r->summary.iterations, 3);
  EXPECT_GT(r->summary.marginal_error, o.tolerance);
  EXPECT_FALSE(r->summary.message.empty());
}

TEST(SinkhornTest, ZeroWeightsAndTransposeSymmetry) {
  Problem p = MakeProblem(25, 35, 5, 5);
  SinkhornOptions o;
  o.epsilon = 0.05;
  o.compute_plan = true;
  SolveControl control;
  auto r = SolveSinkhorn(p.a, p.b, p.c, o, control);
  RowMatrix ct = p.c.transpose();
  auto t = SolveSinkhorn(p.b, p.a, ct, o, control);
  ASSERT_TRUE(r.ok() && t.ok());
  EXPECT_TRUE(r->summary.converged() && t->summary.converged());
  EXPECT_NEAR(r->cost, t->cost, 1e-6 * r->cost);
  EXPECT_NEAR(r->regularized_cost, t->regularized_cost,
              1e-6 * std::abs(r->regularized_cost));
  for (int i = 0; i < 25; ++i)
    if (p.a(i) == 0) {
      EXPECT_EQ(r->plan->row(i).sum(), 0.0);
    }
}

TEST(SinkhornTest, RejectsBadOptionsAndHonoursCancel) {
  Problem p = MakeProblem(10, 10, 6);
  SolveControl control;
  SinkhornOptions o;
  o.epsilon = 0;
  EXPECT_EQ(SolveSinkhorn(p.a, p.b, p.c, o, control).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.epsilon = 0.1;
  o.tolerance = 2;
  EXPECT_EQ(SolveSinkhorn(p.a, p.b, p.c, o, control).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.tolerance = 1e-6;
  SolveControl cancelled;
  cancelled.Cancel();
  EXPECT_EQ(SolveSinkhorn(p.a, p.b, p.c, o, cancelled).status().code(),
            absl::StatusCode::kCancelled);
}

// Tiles of a cloud source equal the formed matrix, for every cost kind, both
// orientations, and the matrix-product form used above 16 dimensions.
}  // namespace
}  // namespace otcore

namespace otcore {
namespace {

// Three uneven ranges run in reverse and in forward order: the result equals
// the serial one to rounding, and both orders give the same bits (partial sums
// merge in range order, not in completion order).
SolveControl::ParallelFor ThreeRanges(bool reverse) {
  return [reverse](int64_t n, int64_t,
                   const std::function<void(int64_t, int64_t)>& body) {
    const int64_t a = n / 5, b = n / 2;
    if (reverse) {
      body(b, n);
      body(a, b);
      body(0, a);
    } else {
      body(0, a);
      body(a, b);
      body(b, n);
    }
  };
}

TEST(SinkhornTest, RangeSplitGivesTheSerialResult) {
  Problem p = MakeProblem(101, 37, 8);
  SinkhornOptions o;
  o.epsilon = 0.05;
  SolveControl serial, backward, forward;
  backward.set_parallel_for(ThreeRanges(true));
  forward.set_parallel_for(ThreeRanges(false));
  auto r1 = SolveSinkhorn(p.a, p.b, p.c, o, serial);
  auto r2 = SolveSinkhorn(p.a, p.b, p.c, o, backward);
  auto r3 = SolveSinkhorn(p.a, p.b, p.c, o, forward);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_EQ(r2->cost, r3->cost);
  EXPECT_TRUE((r2->f.array() == r3->f.array()).all());
  EXPECT_EQ(r1->summary.iterations, r2->summary.iterations);
  EXPECT_NEAR(r1->cost, r2->cost, 1e-12 * r1->cost);
  EXPECT_TRUE(r2->summary.converged());
}

// Tiles of a cloud source equal the formed matrix, for every cost kind, both
// orientations, and the matrix-product form used above 16 dimensions.
TEST(CostSourceTest, TilesMatchTheFormedMatrix) {
  std::mt19937_64 rng(11);
  for (int d : {1, 3, 20}) {
    const RowMatrix x = RandomPoints(37, d, rng), y = RandomPoints(530, d, rng);
    for (CostSpec spec :
         {CostSpec{CostKind::kSqEuclidean}, CostSpec{CostKind::kEuclidean},
          CostSpec{CostKind::kPower, 1.5}}) {
      const RowMatrix c = PairwiseCost(x, y, spec);
      const CostSource s = CostSource::Clouds(x, y, spec);
      RowMatrix tile;
      s.Tile(3, 9, 500, 30, &tile);
      const double tol = d > 16 ? 1e-12 * c.maxCoeff() : 1e-14;
      EXPECT_LE((tile - c.block(3, 500, 9, 30)).cwiseAbs().maxCoeff(), tol);
      s.Transposed().Tile(500, 30, 3, 9, &tile);
      EXPECT_LE(
          (tile - c.block(3, 500, 9, 30).transpose()).cwiseAbs().maxCoeff(),
          tol);
      EXPECT_NEAR(s.Mean(), c.mean(), 1e-12 * c.mean());
      EXPECT_GE(s.Range(), c.maxCoeff() - c.minCoeff());
    }
  }
}

// The matrix-free solve (kernels on tiles, online log-sum-exp, no n x m
// matrix) gives the dense solve's potentials, value and plan, also with zero
// weights, unbalanced marginals and a split into ranges.
TEST(SinkhornTest, MatrixFreeMatchesDense) {
  std::mt19937_64 rng(12);
  const RowMatrix x = RandomPoints(230, 3, rng),
                  y = RandomPoints(1100, 3, rng, 1.0);
  const Eigen::VectorXd a = RandomWeights(230, rng, 5),
                        b = RandomWeights(1100, rng);
  const RowMatrix c = PairwiseCost(x, y, {});
  for (double lambda : {std::numeric_limits<double>::infinity(), 2.0}) {
    SinkhornOptions o;
    o.epsilon = 0.1;
    o.tolerance = 1e-13;  // the epsilon stages differ (bounding-box range)
    o.compute_plan = true;
    o.marginal_relaxation = lambda;
    SolveControl control;
    control.set_parallel_for(ThreeRanges(false));
    auto dense = SolveSinkhorn(a, b, c, o, SolveControl());
    auto free = SolveSinkhorn(a, b, CostSource::Clouds(x, y, {}), o, control);
    ASSERT_TRUE(dense.ok() && free.ok()) << free.status();
    EXPECT_TRUE(free->summary.converged());
    EXPECT_NEAR(free->cost, dense->cost, 1e-9 * dense->cost);
    EXPECT_NEAR(free->regularized_cost, dense->regularized_cost,
                1e-9 * std::abs(dense->regularized_cost));
    EXPECT_LE((*free->plan - *dense->plan).cwiseAbs().maxCoeff(), 1e-10);
    // Marginals of the returned plan are what the summary reports.
    const double row_err = (free->plan->rowwise().sum() - a).cwiseAbs().sum();
    if (std::isinf(lambda)) {
      EXPECT_LE(row_err, 1e-6);
    }
  }
}

}  // namespace
}  // namespace otcore
