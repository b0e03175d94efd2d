// Core-level tests of the sliced, Gaussian, unbalanced and divergence solvers
// against closed forms and invariants (POT comparisons run in tests/python).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/barycenter/free_support.h"
#include "core/common/cost.h"
#include "core/common/iteration.h"
#include "core/common/symmetric.h"
#include "core/entropic/divergence.h"
#include "core/entropic/sinkhorn.h"
#include "core/exact/network_simplex.h"
#include "core/gaussian/gaussian.h"
#include "core/gromov/gromov.h"
#include "core/sliced/sliced.h"
#include "core/transport.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

using testing::RandomPoints;
using testing::RandomWeights;
using testing::Uniform;

TEST(SlicedTest, OneDirectionInOneDimensionIsTheExactValue) {
  std::mt19937_64 rng(1);
  RowMatrix x = RandomPoints(30, 1, rng), y = RandomPoints(20, 1, rng, 1.0);
  Eigen::VectorXd a = RandomWeights(30, rng), b = RandomWeights(20, rng);
  RowMatrix dir(1, 1);
  dir << -3.0;  // normalised to -1: W_p is invariant under reflection
  SolveControl control;
  auto s = SolveSliced(x, a, y, b, {}, MatrixView(dir), control);
  auto e = SolveExact(a, b, PairwiseCost(x, y, {}), {}, control);
  ASSERT_TRUE(s.ok() && e.ok());
  EXPECT_NEAR(s->value, e->cost, 1e-12);
  EXPECT_NEAR(s->distance, std::sqrt(e->cost), 1e-12);
}

TEST(SlicedTest, BoundsAndDeterminism) {
  std::mt19937_64 rng(2);
  RowMatrix x = RandomPoints(40, 3, rng), y = RandomPoints(40, 3, rng, 0.5);
  SolveControl control;
  SlicedOptions o;
  o.num_directions = 64;
  o.seed = 3;
  auto s1 =
      SolveSliced(x, Uniform(40), y, Uniform(40), o, std::nullopt, control);
  auto s2 =
      SolveSliced(x, Uniform(40), y, Uniform(40), o, std::nullopt, control);
  o.max_sliced = true;
  auto mx =
      SolveSliced(x, Uniform(40), y, Uniform(40), o, std::nullopt, control);
  auto e =
      SolveExact(Uniform(40), Uniform(40), PairwiseCost(x, y, {}), {}, control);
  ASSERT_TRUE(s1.ok() && s2.ok() && mx.ok() && e.ok());
  EXPECT_EQ(s1->value, s2->value);
  EXPECT_LE(s1->value, mx->value);
  EXPECT_LE(mx->value, e->cost + 1e-12);  // projections are 1-Lipschitz
  EXPECT_EQ(s1->directions.rows(), 64);
  EXPECT_NEAR(s1->directions.row(5).norm(), 1.0, 1e-15);
  RowMatrix zero = RowMatrix::Zero(1, 3);
  EXPECT_FALSE(
      SolveSliced(x, Uniform(40), y, Uniform(40), o, MatrixView(zero), control)
          .ok());
}

TEST(GaussianTest, ClosedFormsAndMap) {
  Gaussian g1{Eigen::Vector2d(0, 0), Eigen::Vector2d(1, 4).asDiagonal()};
  Gaussian g2{Eigen::Vector2d(1, 2), Eigen::Vector2d(9, 1).asDiagonal()};
  auto w = GaussianW2(g1, g2);
  ASSERT_TRUE(w.ok());
  // Commuting: |dm|^2 + sum (sqrt s1 - sqrt s2)^2 = 5 + 4 + 1.
  EXPECT_NEAR(w->value, 10.0, 1e-12);
  auto map = GaussianMongeMap(g1, g2);
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE((map->a * g1.cov * map->a.transpose()).isApprox(g2.cov, 1e-12));
  EXPECT_TRUE((map->a * g1.mean + map->b).isApprox(g2.mean, 1e-12));
  EXPECT_NEAR(GaussianW2(g1, g1)->value, 0.0, 1e-12);
  Gaussian singular{Eigen::Vector2d(0, 0), Eigen::Vector2d(1, 0).asDiagonal()};
  EXPECT_TRUE(GaussianW2(singular, g2).ok());
  EXPECT_FALSE(GaussianMongeMap(singular, g2).ok());
  Gaussian bad{Eigen::Vector2d(0, 0), Eigen::Vector2d(1, -1).asDiagonal()};
  EXPECT_EQ(GaussianW2(bad, g2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SymmetricTest, EigenvaluesAgreeWithEigenAndHonourCancel) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  for (int d : {1, 2, 5, 64, 200}) {
    Eigen::MatrixXd a(d, d);
    for (double& v : a.reshaped()) v = normal(rng);
    const Eigen::MatrixXd s = 1e3 * (a + a.transpose());  // indefinite
    auto mine = SymmetricEigenvalues(s, nullptr);
    ASSERT_TRUE(mine.ok());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ref(s,
                                                       Eigen::EigenvaluesOnly);
    EXPECT_LE((*mine - ref.eigenvalues()).cwiseAbs().maxCoeff(),
              1e-12 * ref.eigenvalues().cwiseAbs().maxCoeff())
        << d;
  }
  SolveControl control;
  control.Cancel();
  EXPECT_EQ(SymmetricEigenvalues(Eigen::MatrixXd::Identity(40, 40), &control)
                .status()
                .code(),
            absl::StatusCode::kCancelled);
}

TEST(GaussianTest, W2IsExactOnSingularCovariances) {
  // Covariances of rank 3 in d = 12 (and full rank), either side first: the
  // LDL^T route must match tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) computed
  // from the factor F of S1 = F F^T.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  const int d = 12;
  for (int rank : {3, 12}) {
    Eigen::MatrixXd f1(d, rank), f2(d, d);
    for (double& v : f1.reshaped()) v = normal(rng);
    for (double& v : f2.reshaped()) v = normal(rng);
    Gaussian g1{Eigen::VectorXd::Zero(d), f1 * f1.transpose()};
    Gaussian g2{Eigen::VectorXd::Ones(d), f2 * f2.transpose() / d};
    // S1 = F F^T: S1^1/2 S2 S1^1/2 has the nonzero spectrum of F^T S2 F.
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> small(
        f1.transpose() * g2.cov * f1, Eigen::EigenvaluesOnly);
    const double cross = small.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
    const double expected = d + g1.cov.trace() + g2.cov.trace() - 2 * cross;
    for (const auto& [p, q] : {std::pair(&g1, &g2), std::pair(&g2, &g1)}) {
      auto w = GaussianW2(*p, *q);
      ASSERT_TRUE(w.ok());
      EXPECT_NEAR(w->value, expected, 1e-10 * expected) << rank;
    }
  }
  SolveControl control;
  control.Cancel();
  Gaussian g{Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(3, 3)};
  EXPECT_EQ(GaussianW2(g, g, &control).status().code(),
            absl::StatusCode::kCancelled);
}

TEST(GaussianTest, FitAndBarycenter) {
  RowMatrix x(4, 2);
  x << 0, 0, 2, 0, 0, 2, 2, 2;
  auto g = FitGaussian(x, Uniform(4));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->mean.isApprox(Eigen::Vector2d(1, 1)));
  EXPECT_TRUE(g->cov.isApprox(Eigen::Matrix2d::Identity()));
  std::vector<Gaussian> gs = {
      {Eigen::Vector2d(0, 0), Eigen::Vector2d(1, 4).asDiagonal()},
      {Eigen::Vector2d(2, 2), Eigen::Vector2d(9, 16).asDiagonal()}};
  SolveControl control;
  auto bar = GaussianBarycenter(gs, Eigen::Vector2d(1, 1), {}, control);
  ASSERT_TRUE(bar.ok());
  EXPECT_TRUE(bar->summary.converged());
  EXPECT_TRUE(bar->barycenter.cov.isApprox(
      Eigen::Vector2d(4, 9).asDiagonal().toDenseMatrix(), 1e-10));
  EXPECT_TRUE(bar->barycenter.mean.isApprox(Eigen::Vector2d(1, 1)));
  // No plan: no marginal error; the stopping rule says what converged.
  EXPECT_EQ(bar->summary.marginal_error, 0.0);
  EXPECT_EQ(bar->summary.stopping_rule, "relative_covariance_change");
  EXPECT_LE(bar->summary.stopping_value, GaussianBarycenterOptions{}.tolerance);
}

// Issue 10: non-finite or meaningless values are never CONVERGED: either
// NUMERICAL_ERROR or INVALID_ARGUMENT on the input's range.
TEST(FiniteResultTest, OverflowingInputsAreNumericalErrorsOrRejected) {
  SolveControl control;
  RowMatrix x(3, 1), y(3, 1);
  x << 0, 1e200, -1e200;
  y << 1, 2, 3;
  for (Method m : {Method::kOneD, Method::kSliced}) {
    TransportProblem p;
    p.x.emplace(x);
    p.y.emplace(y);
    TransportOptions o;
    o.method = m;
    auto r = SolveTransport(p, o, control);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->summary.termination, Termination::kNumericalError)
        << MethodName(m) << " value " << r->value;
    EXPECT_FALSE(r->summary.converged());
    EXPECT_FALSE(r->summary.message.empty());
  }
  // A Gaussian-MMD blur so small that every kernel entry underflows.
  std::mt19937_64 rng(5);
  const RowMatrix a = RandomPoints(5, 2, rng), b = RandomPoints(4, 2, rng);
  DivergenceOptions mmd;
  mmd.kind = DivergenceKind::kGaussianMmd;
  mmd.blur = 1e-300;
  auto div = SolveDivergence(a, Uniform(5), b, Uniform(4), {}, mmd, control);
  ASSERT_TRUE(div.ok()) << div.status();
  if (!std::isfinite(div->value)) {
    EXPECT_EQ(div->summary.termination, Termination::kNumericalError);
  }
  // Gaussians: out-of-range entries are refused, sums that overflow are
  // numerical errors.
  Gaussian huge{Eigen::Vector2d(1e155, 0), Eigen::Matrix2d::Identity()};
  EXPECT_EQ(ValidateGaussian(huge).code(), absl::StatusCode::kInvalidArgument);
  Gaussian wide{Eigen::Vector2d(0, 0), 1e308 * Eigen::Matrix2d::Identity()};
  EXPECT_EQ(ValidateGaussian(wide).code(), absl::StatusCode::kInvalidArgument);
  const int d = 64;
  TransportProblem p;
  p.source_gaussian = Gaussian{Eigen::VectorXd::Constant(d, 1e150),
                               Eigen::MatrixXd::Identity(d, d)};
  p.target_gaussian = Gaussian{Eigen::VectorXd::Constant(d, -1e150),
                               Eigen::MatrixXd::Identity(d, d)};
  TransportOptions o;
  o.method = Method::kGaussian;
  // At the bound the value stays finite and exact.
  auto g = SolveTransport(p, o, control);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->summary.converged());
  EXPECT_NEAR(g->value, d * 4e300, 1e-12 * d * 4e300);
  Summary s;
  EXPECT_FALSE(CheckFiniteValue(std::nan(""), &s));
  EXPECT_EQ(s.termination, Termination::kNumericalError);
}

TEST(FreeSupportTest, MarginalErrorIsOfThePlansAndTheDisplacementIsSeparate) {
  std::mt19937_64 rng(9);
  std::vector<std::pair<RowMatrix, Eigen::VectorXd>> measures = {
      {RandomPoints(12, 2, rng), Uniform(12)},
      {RandomPoints(12, 2, rng, 3.0), Uniform(12)}};
  const RowMatrix x0 = RandomPoints(6, 2, rng);
  SolveControl control;
  auto r = FreeSupportBarycenter(measures, Eigen::Vector2d(1, 1), x0,
                                 Uniform(6), {}, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->summary.converged());
  EXPECT_EQ(r->summary.stopping_rule, "squared_displacement");
  EXPECT_LE(r->summary.stopping_value, FreeSupportOptions{}.tolerance);
  // Exact inner plans: marginals exact to rounding.
  EXPECT_LT(r->summary.marginal_error, 1e-12);
}

TEST(UnbalancedTest, MassesMayDifferAndLargeLambdaIsBalanced) {
  std::mt19937_64 rng(4);
  RowMatrix c =
      PairwiseCost(RandomPoints(20, 2, rng), RandomPoints(25, 2, rng), {});
  Eigen::VectorXd a = RandomWeights(20, rng), b = 3.0 * RandomWeights(25, rng);
  SinkhornOptions o;
  o.epsilon = 0.2;
  o.marginal_relaxation = 1.0;
  o.compute_plan = true;
  o.tolerance = 1e-10;
  SolveControl control;
  auto r = SolveSinkhorn(a, b, c, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->summary.converged());
  EXPECT_EQ(r->summary.method, Method::kUnbalanced);
  const double mass = r->plan->sum();
  EXPECT_GT(mass, 1.0);  // between the two masses
  EXPECT_LT(mass, 3.0);
  // First-order conditions: row_i = a_i exp(-f_i / lambda), col_j likewise.
  Eigen::VectorXd rows = r->plan->rowwise().sum();
  for (int i = 0; i < 20; ++i) {
    EXPECT_NEAR(rows(i), a(i) * std::exp(-r->f(i) / o.marginal_relaxation),
                1e-8);
  }
  // lambda -> infinity approaches the balanced problem (masses equal).
  Eigen::VectorXd b1 = b / 3.0;
  o.marginal_relaxation = 1e7;
  auto big = SolveSinkhorn(a, b1, c, o, control);
  o.marginal_relaxation = std::numeric_limits<double>::infinity();
  auto bal = SolveSinkhorn(a, b1, c, o, control);
  ASSERT_TRUE(big.ok() && bal.ok());
  EXPECT_NEAR(big->cost, bal->cost, 1e-5);
}

TEST(DivergenceTest, SelfIsZeroSymmetricPositive) {
  std::mt19937_64 rng(5);
  RowMatrix x = RandomPoints(25, 2, rng), y = RandomPoints(30, 2, rng, 0.7);
  Eigen::VectorXd a = RandomWeights(25, rng), b = RandomWeights(30, rng);
  SolveControl control;
  for (DivergenceKind kind :
       {DivergenceKind::kSinkhorn, DivergenceKind::kSinkhornNoEntropy,
        DivergenceKind::kEnergy, DivergenceKind::kGaussianMmd,
        DivergenceKind::kLaplacianMmd}) {
    DivergenceOptions o;
    o.kind = kind;
    o.epsilon.value = 0.5;
    o.sinkhorn.tolerance = 1e-11;
    o.sinkhorn.max_iterations = 100000;
    auto xx = SolveDivergence(x, a, x, a, {}, o, control);
    auto xy = SolveDivergence(x, a, y, b, {}, o, control);
    auto yx = SolveDivergence(y, b, x, a, {}, o, control);
    ASSERT_TRUE(xx.ok() && xy.ok() && yx.ok());
    EXPECT_TRUE(xy->summary.converged());
    EXPECT_NEAR(xx->value, 0.0, 1e-9) << int(kind);
    EXPECT_NEAR(xy->value, yx->value, 1e-8) << int(kind);
    if (kind != DivergenceKind::kSinkhornNoEntropy) {
      EXPECT_GT(xy->value, 0.0);
    }
  }
}

}  // namespace
}  // namespace otcore

namespace otcore {
namespace {

TEST(GromovTest, IsometricSpacesHaveZeroGwAndSymmetry) {
  std::mt19937_64 rng(6);
  RowMatrix x = testing::RandomPoints(9, 2, rng);
  // y: x embedded in 3-D (zero third coordinate), shifted and reversed.
  RowMatrix y = RowMatrix::Zero(9, 3);
  for (int i = 0; i < 9; ++i) y.row(8 - i) << x(i, 0) + 1, x(i, 1) - 2, 0.0;
  const RowMatrix c1 = PairwiseCost(x, x, {}), c2 = PairwiseCost(y, y, {});
  SolveControl control;
  auto r = SolveGromov(c1, c2, testing::Uniform(9), testing::Uniform(9),
                       std::nullopt, {}, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->value, 0.0, 1e-12);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(r->plan(i, 8 - i), 1.0 / 9, 1e-12);
  // Entropic: marginals hold and the value is symmetric in the two spaces.
  GromovOptions o;
  o.epsilon = 0.1;
  RowMatrix z = testing::RandomPoints(7, 4, rng);
  const RowMatrix c3 = PairwiseCost(z, z, {});
  auto ab = SolveGromov(c1, c3, testing::Uniform(9), testing::Uniform(7),
                        std::nullopt, o, control);
  auto ba = SolveGromov(c3, c1, testing::Uniform(7), testing::Uniform(9),
                        std::nullopt, o, control);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(ab->summary.converged())
      << ab->summary.iterations << " " << ab->summary.message << " "
      << ab->summary.marginal_error;
  EXPECT_LT(ab->summary.marginal_error, 1e-8);
  EXPECT_NEAR(ab->value, ba->value, 1e-7);
  o.loss = GwLoss::kKl;
  o.epsilon = 0;
  EXPECT_EQ(SolveGromov(c1, c3, testing::Uniform(9), testing::Uniform(7),
                        std::nullopt, o, control)
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
}

// Entropic GW at an epsilon far below the gradient's range with a small
// inner cap: the inner solves cannot reach what the outer tolerance needs, so
// the solve ends early, not converged, and says why; every outer step is
// reported to the progress callback.
TEST(GromovTest, StalledInnerSolvesEndTheSolveHonestly) {
  std::mt19937_64 rng(8);
  const RowMatrix x = testing::RandomPoints(40, 2, rng) * 3.0;
  const RowMatrix y = testing::RandomPoints(30, 3, rng) * 3.0;
  const RowMatrix c1 = PairwiseCost(x, x, {}), c2 = PairwiseCost(y, y, {});
  GromovOptions o;
  o.epsilon = 1e-3;
  o.inner_max_iterations = 400;
  o.max_iterations = 500;
  SolveControl control;
  int64_t reports = 0;
  control.set_progress_callback([&](const Progress&) { ++reports; });
  auto r = SolveGromov(c1, c2, testing::Uniform(40), testing::Uniform(30),
                       std::nullopt, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->summary.converged()) << r->summary.message;
  EXPECT_EQ(r->summary.termination, Termination::kIterationLimit)
      << r->summary.message;
  EXPECT_LT(r->summary.iterations, o.max_iterations);
  EXPECT_NE(r->summary.message.find("inner Sinkhorn solves stop"),
            std::string::npos)
      << r->summary.message;
  EXPECT_EQ(reports, r->summary.iterations - 1);  // all but the last step
  EXPECT_TRUE(r->plan.allFinite());
}

}  // namespace
}  // namespace otcore
