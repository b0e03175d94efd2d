// Semi-discrete OT by averaged SGD against the 1-D closed form (quantiles of
// the uniform source), against exact OT between a large sample and the
// target, and its entropic version against the unregularised one.
#include "core/semidiscrete/semidiscrete.h"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>

#include "core/exact/network_simplex.h"

namespace otcore {
namespace {

// Dynamic-size vectors and matrices (fixed-size Eigen temporaries trip GCC
// 12's -Warray-bounds under AVX-512 when assigned to dynamic ones).
Eigen::VectorXd Vec(std::initializer_list<double> v) {
  Eigen::VectorXd out(v.size());
  int k = 0;
  for (double x : v) out(k++) = x;
  return out;
}
Eigen::MatrixXd Scaled(int d, double s) {
  return Eigen::MatrixXd::Identity(d, d) * s;
}

TEST(SemiDiscreteTest, OneDimensionalUniformMatchesTheQuantileFormula) {
  Density box;
  box.low = Eigen::VectorXd::Constant(1, 0.0);
  box.high = Eigen::VectorXd::Constant(1, 1.0);
  RowMatrix y(3, 1);
  y << 0.1, 0.5, 0.8;
  Eigen::VectorXd b(3);
  b << 0.2, 0.5, 0.3;
  // W2^2 = sum_j int_{c_{j-1}}^{c_j} (t - y_j)^2 dt, c = cumulative b.
  double want = 0.0, lo = 0.0;
  for (int j = 0; j < 3; ++j) {
    const double hi = lo + b(j);
    want += (std::pow(hi - y(j, 0), 3) - std::pow(lo - y(j, 0), 3)) / 3.0;
    lo = hi;
  }
  SemiDiscreteOptions o;
  o.iterations = 20000;
  RowMatrix query(2, 1);
  query << 0.05, 0.95;
  auto r =
      SolveSemiDiscrete(box, y, b, {}, o, MatrixView(query), SolveControl());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->summary.converged()) << r->summary.message;
  EXPECT_NEAR(r->value, want, 4 * r->standard_error + 2e-3 * want)
      << "se " << r->standard_error;
  EXPECT_LE(r->summary.marginal_error, 1e-2);
  // The Laguerre boundaries sit at the cumulative weights 0.2 and 0.7:
  // (t - y_j)^2 - g_j = (t - y_k)^2 - g_k.
  for (auto [j, c] : {std::pair{0, 0.2}, std::pair{1, 0.7}}) {
    const double yj = y(j, 0), yk = y(j + 1, 0);
    const double t =
        (yk * yk - yj * yj + r->g(j) - r->g(j + 1)) / (2 * (yk - yj));
    EXPECT_NEAR(t, c, 1e-2) << j;
  }
  EXPECT_EQ(r->assignment, (std::vector<int64_t>{0, 2}));
}

TEST(SemiDiscreteTest, GaussianMixtureAgreesWithExactOtOfALargeSample) {
  Density mix;
  mix.kind = Density::Kind::kMixture;
  Gaussian g1{Vec({-1, 0}), Scaled(2, 0.3)};
  Gaussian g2{Vec({1, 1}), Scaled(2, 0.2)};
  mix.components = {g1, g2};
  mix.component_weights = Vec({0.6, 0.4});
  RowMatrix y(5, 2);
  y << -1, 0, 0, 0, 1, 1, 1, -1, -2, 1;
  Eigen::VectorXd b(5);
  b << 0.3, 0.2, 0.2, 0.1, 0.2;
  SemiDiscreteOptions o;
  o.iterations = 20000;
  o.seed = 3;
  auto r = SolveSemiDiscrete(mix, y, b, {}, o, std::nullopt, SolveControl());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->summary.converged()) << r->summary.message;
  // Exact OT between 4000 samples and the target: an estimate of the same
  // cost with its own sampling error (about 1-2% here).
  const RowMatrix xs = SampleDensity(mix, 4000, 99);
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(4000, 1.0 / 4000);
  auto exact = SolveExact(a, b, PairwiseCost(xs, y, {}), {}, SolveControl());
  ASSERT_TRUE(exact.ok());
  EXPECT_NEAR(r->value, exact->cost, 0.03 * exact->cost)
      << "semi-discrete " << r->value << " +- " << r->standard_error;
}

TEST(SemiDiscreteTest, EntropicApproachesTheUnregularisedValue) {
  Density gauss;
  gauss.kind = Density::Kind::kGaussian;
  gauss.components = {Gaussian{Vec({0, 0}), Scaled(2, 1.0)}};
  RowMatrix y(4, 2);
  y << 1, 1, -1, 1, 1, -1, -1, -1;
  const Eigen::VectorXd b = Eigen::VectorXd::Constant(4, 0.25);
  SemiDiscreteOptions o;
  o.iterations = 10000;
  auto plain =
      SolveSemiDiscrete(gauss, y, b, {}, o, std::nullopt, SolveControl());
  o.epsilon = 0.01;
  auto smooth =
      SolveSemiDiscrete(gauss, y, b, {}, o, std::nullopt, SolveControl());
  ASSERT_TRUE(plain.ok() && smooth.ok());
  EXPECT_NEAR(smooth->value, plain->value, 0.02 * plain->value);
  // By symmetry the cells are the quadrants and g is 0.
  EXPECT_LE(plain->g.cwiseAbs().maxCoeff(), 0.05 * plain->value);
}

TEST(SemiDiscreteTest, BadInputsNameTheirField) {
  Density box;
  box.low = Vec({0, 0});
  box.high = Vec({1, 0});  // empty in y
  RowMatrix y = RowMatrix::Zero(2, 2);
  const Eigen::VectorXd b = Eigen::VectorXd::Constant(2, 0.5);
  auto r = SolveSemiDiscrete(box, y, b, {}, {}, std::nullopt, SolveControl());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("source.box"), std::string::npos);
  box.high = Vec({1, 1});
  SemiDiscreteOptions o;
  o.batch_size = 0;
  r = SolveSemiDiscrete(box, y, b, {}, o, std::nullopt, SolveControl());
  EXPECT_NE(r.status().message().find("batch_size"), std::string::npos);
}

}  // namespace
}  // namespace otcore
