// SolveTransport: the AUTO rule, method routing, plan format helpers.
#include "core/transport.h"

#include <gtest/gtest.h>

#include <random>

#include "core/common/cost_source.h"
#include "core/common/validate.h"
#include "tests/core/test_util.h"

namespace otcore {
namespace {

TEST(TransportTest, AutoRule) {
  std::mt19937_64 rng(1);
  RowMatrix x1 = testing::RandomPoints(10, 1, rng),
            x2 = testing::RandomPoints(10, 2, rng);
  TransportProblem p;
  p.x.emplace(x1);
  p.y.emplace(x1);
  EXPECT_EQ(ChooseMethod(p), Method::kOneD);
  p.x.emplace(x2);
  p.y.emplace(x2);
  EXPECT_EQ(ChooseMethod(p), Method::kExact);
  RowMatrix big(kAutoExactMaxEntries / 2048 + 1, 2), big2(2048, 2);
  p.x.emplace(big);
  p.y.emplace(big2);
  EXPECT_EQ(ChooseMethod(p), Method::kSinkhorn);
  // Issue 10: 3000 x 3000 clouds are solved exactly.
  RowMatrix x3(3000, 2);
  p.x.emplace(x3);
  p.y.emplace(x3);
  EXPECT_EQ(ChooseMethod(p), Method::kExact);
}

TEST(TransportTest, AutoSaysWhenItApproximates) {
  std::mt19937_64 rng(4);
  const RowMatrix x = testing::RandomPoints(6000, 2, rng);
  const RowMatrix y = testing::RandomPoints(5600, 2, rng);
  ASSERT_GT(6000 * 5600, kAutoExactMaxEntries);
  TransportProblem p;
  p.x.emplace(x);
  p.y.emplace(y);
  TransportOptions o;
  o.max_iterations = 2;  // the message is the point, not the value
  SolveControl control;
  auto r = SolveTransport(p, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->summary.method, Method::kSinkhorn);
  EXPECT_NE(r->summary.message.find("AUTO approximated"), std::string::npos)
      << r->summary.message;
}

TEST(TransportTest, SeedExampleWithExplicitCostEveryMethod) {
  Eigen::VectorXd a(2), b(2);
  a << 0.5, 0.5;
  b << 0.2, 0.8;
  RowMatrix c(2, 2);
  c << 0, 1, 1, 0;
  TransportProblem p;
  p.a.emplace(a);
  p.b.emplace(b);
  p.cost.kind = CostKind::kExplicit;
  p.cost_matrix.emplace(c);
  TransportOptions o;
  o.compute_plan = true;
  SolveControl control;
  auto r = SolveTransport(p, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->summary.method, Method::kExact);
  EXPECT_NEAR(r->value, 0.3, 1e-15);
  RowMatrix dense = Densify(*r->sparse_plan, 2, 2);
  EXPECT_NEAR(dense(0, 1), 0.3, 1e-15);
  EXPECT_EQ(Sparsify(dense).values.size(), 3u);

  o.method = Method::kSinkhorn;
  o.epsilon.value = 1e-3;
  r = SolveTransport(p, o, control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->value, 0.3, 1e-3);
  EXPECT_NEAR(r->summary.epsilon, 1e-3, 1e-18);

  o.method = Method::kOneD;
  EXPECT_EQ(SolveTransport(p, o, control).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TransportTest, RelativeEpsilonAndDefaults) {
  std::mt19937_64 rng(2);
  RowMatrix x = testing::RandomPoints(20, 2, rng),
            y = testing::RandomPoints(15, 2, rng);
  TransportProblem p;
  p.x.emplace(x);
  p.y.emplace(y);
  TransportOptions o;
  o.method = Method::kSinkhorn;
  SolveControl control;
  auto r = SolveTransport(p, o, control);
  ASSERT_TRUE(r.ok());
  const double mean = PairwiseCost(x, y, {}).mean();
  EXPECT_NEAR(r->summary.epsilon, 0.05 * mean, 1e-12);
  o.epsilon.value = 0.2;
  o.epsilon.scale = EpsilonScale::kRelativeToMeanCost;
  r = SolveTransport(p, o, control);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->summary.epsilon, 0.2 * mean, 1e-12);
}

TEST(TransportTest, DimensionMismatchIsAnError) {
  RowMatrix x = RowMatrix::Zero(3, 2), y = RowMatrix::Zero(3, 3);
  TransportProblem p;
  p.x.emplace(x);
  p.y.emplace(y);
  SolveControl control;
  EXPECT_EQ(SolveTransport(p, {}, control).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Issue 10: the mean cost (and so a relative epsilon) and the GEMM-form tiles
// must not change when both clouds are translated far from the origin.
TEST(CostSourceTest, TranslationInvariantMeanAndTiles) {
  std::mt19937_64 rng(21);
  for (int d : {2, 20}) {
    const RowMatrix x = testing::RandomPoints(50, d, rng);
    const RowMatrix y = testing::RandomPoints(40, d, rng, 0.5);
    const CostSource base = CostSource::Clouds(x, y, {});
    const double mean = PairwiseCost(x, y, {}).mean();
    EXPECT_NEAR(base.Mean(), mean, 1e-12 * mean);
    for (double offset : {1e7, 1e8}) {
      const RowMatrix xs = x.array() + offset, ys = y.array() + offset;
      const CostSource shifted = CostSource::Clouds(xs, ys, {});
      EXPECT_NEAR(shifted.Mean(), mean, 1e-6 * mean) << d << " " << offset;
      RowMatrix tile;
      shifted.Tile(0, 50, 0, 40, &tile);
      const RowMatrix exact = PairwiseCost(x, y, {});
      EXPECT_LE((tile - exact).cwiseAbs().maxCoeff(), 1e-6 * exact.maxCoeff())
          << d << " " << offset;
    }
  }
}

TEST(EpsilonSpecTest, TheDefaultAndTheScalesHaveOneHome) {
  EpsilonSpec unset;  // absent: kDefaultRelativeEpsilon x the mean cost
  EXPECT_TRUE(unset.relative());
  EXPECT_DOUBLE_EQ(*unset.Resolve(4.0), kDefaultRelativeEpsilon * 4.0);
  EXPECT_DOUBLE_EQ(kDefaultRelativeEpsilon, 0.05);
  EpsilonSpec absolute{0.3, EpsilonScale::kAbsolute};
  EXPECT_FALSE(absolute.relative());
  EXPECT_DOUBLE_EQ(*absolute.Resolve(1.0), 0.3);
  EpsilonSpec relative{0.3, EpsilonScale::kRelativeToMeanCost};
  EXPECT_DOUBLE_EQ(*relative.Resolve(2.0), 0.6);
  // A relative epsilon over an all-zero cost, and a bad given value, name the
  // field.
  EXPECT_EQ(FieldOf(unset.Resolve(0.0).status()), "options.epsilon");
  EXPECT_EQ(FieldOf(EpsilonSpec{-1.0}.Validate()), "options.epsilon");
  EXPECT_EQ(FieldOf(EpsilonSpec{std::nan("")}.Validate()), "options.epsilon");
}

TEST(TransportTest, ValidationErrorsNameTheApiField) {
  RowMatrix x = RowMatrix::Zero(3, 2), y = RowMatrix::Zero(3, 2);
  const Eigen::VectorXd heavy = Eigen::VectorXd::Constant(3, 1.0);
  TransportProblem p;
  p.x.emplace(x);
  p.y.emplace(y);
  p.b.emplace(heavy);
  EXPECT_EQ(FieldOf(ValidateTransport(p, {})), "target.weights");
  TransportOptions unbalanced;
  unbalanced.method = Method::kUnbalanced;
  EXPECT_EQ(FieldOf(ValidateTransport(p, unbalanced)),
            "options.marginal_relaxation");
  unbalanced.marginal_relaxation = 1.0;
  EXPECT_TRUE(ValidateTransport(p, unbalanced).ok());
  TransportOptions one_d;
  one_d.method = Method::kOneD;
  p.b.reset();
  EXPECT_EQ(FieldOf(ValidateTransport(p, one_d)), "method");
}

}  // namespace
}  // namespace otcore
