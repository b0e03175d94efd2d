// Gradients of transport values against central finite differences of the
// same solver's value: positions coordinate by coordinate, balanced weights
// along the simplex (a + h (e_i - e_0): only differences of the returned
// potentials count), unbalanced weights one by one.
#include "core/gradients.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/entropic/divergence.h"
#include "core/transport.h"

namespace otcore {
namespace {

struct Data {
  RowMatrix x, y;
  Eigen::VectorXd a, b;
};

Data Make(int n, int m, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> unit(0.3, 1.0);
  Data s{RowMatrix(n, d), RowMatrix(m, d), Eigen::VectorXd(n),
         Eigen::VectorXd(m)};
  for (double& v : s.x.reshaped()) v = normal(rng);
  for (double& v : s.y.reshaped()) v = normal(rng) + 0.7;
  for (double& v : s.a) v = unit(rng);
  for (double& v : s.b) v = unit(rng);
  s.a /= s.a.sum();
  s.b /= s.b.sum();
  return s;
}

// The differentiated value of a solve of `s`.
double ValueOf(const Data& s, const TransportOptions& o, bool regularized) {
  TransportProblem p;
  p.x.emplace(s.x);
  p.y.emplace(s.y);
  p.a.emplace(s.a);
  p.b.emplace(s.b);
  auto r = SolveTransport(p, o, SolveControl());
  EXPECT_TRUE(r.ok()) << r.status();
  return regularized ? r->regularized_value : r->value;
}

Gradients GradientsOf(const Data& s, TransportOptions o) {
  o.compute_gradients = true;
  TransportProblem p;
  p.x.emplace(s.x);
  p.y.emplace(s.y);
  p.a.emplace(s.a);
  p.b.emplace(s.b);
  auto r = SolveTransport(p, o, SolveControl());
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->gradients.has_value());
  return *r->gradients;
}

// Checks every gradient entry `g` of `s` against central differences of
// `value`.
void CheckGradients(const Data& s, const Gradients& g,
                    const std::function<double(const Data&)>& value,
                    bool balanced, double h, double tol) {
  ASSERT_EQ(g.source_points.rows(), s.x.rows());
  ASSERT_EQ(g.target_points.rows(), s.y.rows());
  double scale = 1e-3;
  for (auto* grad : {&g.source_points, &g.target_points}) {
    scale = std::max(scale, grad->cwiseAbs().maxCoeff());
  }
  auto diff = [&](const std::function<void(Data*, double)>& move) {
    Data plus = s, minus = s;
    move(&plus, h);
    move(&minus, -h);
    return (value(plus) - value(minus)) / (2 * h);
  };
  for (int side = 0; side < 2; ++side) {
    const RowMatrix& pts = side == 0 ? s.x : s.y;
    const RowMatrix& grad = side == 0 ? g.source_points : g.target_points;
    for (Eigen::Index i = 0; i < pts.rows(); ++i) {
      for (Eigen::Index k = 0; k < pts.cols(); ++k) {
        const double fd = diff([&](Data* t, double step) {
          (side == 0 ? t->x : t->y)(i, k) += step;
        });
        EXPECT_NEAR(grad(i, k), fd, tol * scale)
            << (side == 0 ? "x" : "y") << "(" << i << "," << k << ")";
      }
    }
    const Eigen::VectorXd& gw = side == 0 ? g.source_weights : g.target_weights;
    const Eigen::Index count = side == 0 ? s.a.size() : s.b.size();
    ASSERT_EQ(gw.size(), count);
    for (Eigen::Index i = 1; i < count; ++i) {
      if (balanced) {
        // Along the simplex of the side: a + h (e_i - e_0); the other side
        // is moved alike so that the masses stay equal.
        const double fd = diff([&](Data* t, double step) {
          Eigen::VectorXd& w = side == 0 ? t->a : t->b;
          w(i) += step;
          w(0) -= step;
        });
        EXPECT_NEAR(gw(i) - gw(0), fd, tol * std::max(1.0, std::abs(fd)))
            << (side == 0 ? "a" : "b") << i;
      } else {
        const double fd = diff([&](Data* t, double step) {
          (side == 0 ? t->a : t->b)(i) += step;
        });
        EXPECT_NEAR(gw(i), fd, tol * std::max(1.0, std::abs(fd)))
            << (side == 0 ? "a" : "b") << i;
      }
    }
    EXPECT_NEAR(gw.mean(), balanced ? 0.0 : gw.mean(), 1e-12);
  }
}

void CheckAgainstDifferences(const Data& s, const TransportOptions& o,
                             bool regularized, bool balanced, double h,
                             double tol) {
  CheckGradients(
      s, GradientsOf(s, o),
      [&](const Data& t) { return ValueOf(t, o, regularized); }, balanced, h,
      tol);
}

TransportOptions Sinkhorn(double eps) {
  TransportOptions o;
  o.method = Method::kSinkhorn;
  o.epsilon.value = eps;
  o.tolerance = 1e-12;
  o.max_iterations = 100000;
  return o;
}

TEST(GradientsTest, SinkhornMatchesDifferencesOfTheRegularizedValue) {
  CheckAgainstDifferences(Make(9, 7, 2, 1), Sinkhorn(0.3),
                          /*regularized=*/true, /*balanced=*/true, 1e-5, 1e-6);
}

TEST(GradientsTest, UnbalancedWeightsAreFullGradients) {
  const Data s = Make(8, 6, 2, 2);
  TransportOptions o = Sinkhorn(0.4);
  o.method = Method::kUnbalanced;
  o.marginal_relaxation = 0.7;
  o.tolerance = 1e-13;
  CheckAgainstDifferences(s, o, true, /*balanced=*/false, 1e-5, 1e-5);
}

TEST(GradientsTest, ExactAndOneDGiveSubgradientsOfTheValue) {
  TransportOptions exact;
  exact.method = Method::kExact;
  CheckAgainstDifferences(Make(8, 6, 2, 3), exact, false, true, 1e-7, 1e-6);
  TransportOptions oned;
  oned.method = Method::kOneD;
  CheckAgainstDifferences(Make(9, 5, 1, 4), oned, false, true, 1e-7, 1e-6);
  const Gradients g = GradientsOf(Make(4, 4, 1, 5), oned);
  EXPECT_EQ(g.kind, "subgradient");
  EXPECT_EQ(g.of, "value");
}

TEST(GradientsTest, CostsOtherThanSquaredEuclidean) {
  // Euclidean and power 1.5, through a cloud problem built per cost.
  for (auto [kind, p] : {std::pair{CostKind::kEuclidean, 1.0},
                         std::pair{CostKind::kPower, 1.5}}) {
    const Data s = Make(7, 6, 3, 6);
    TransportOptions o = Sinkhorn(0.2);
    TransportProblem prob;
    prob.x.emplace(s.x);
    prob.y.emplace(s.y);
    prob.a.emplace(s.a);
    prob.b.emplace(s.b);
    prob.cost.kind = kind;
    prob.cost.p = p;
    o.compute_gradients = true;
    auto r = SolveTransport(prob, o, SolveControl());
    ASSERT_TRUE(r.ok()) << r.status();
    const double h = 1e-5;
    for (int i = 0; i < 7; ++i) {
      for (int k = 0; k < 3; ++k) {
        RowMatrix xp = s.x, xm = s.x;
        xp(i, k) += h;
        xm(i, k) -= h;
        TransportProblem pp = prob, pm = prob;
        pp.x.emplace(xp);
        pm.x.emplace(xm);
        TransportOptions plain = o;
        plain.compute_gradients = false;
        const double fd =
            (SolveTransport(pp, plain, SolveControl())->regularized_value -
             SolveTransport(pm, plain, SolveControl())->regularized_value) /
            (2 * h);
        EXPECT_NEAR(r->gradients->source_points(i, k), fd, 1e-6)
            << "p " << p << " x(" << i << "," << k << ")";
      }
    }
  }
}

TEST(GradientsTest, SinkhornDivergenceMatchesDifferences) {
  const Data s = Make(8, 7, 2, 8);
  DivergenceOptions o;
  o.epsilon.value = 0.3;
  o.sinkhorn.tolerance = 1e-12;
  o.sinkhorn.max_iterations = 100000;
  auto value = [&](const Data& t) {
    auto r = SolveDivergence(t.x, t.a, t.y, t.b, {}, o, SolveControl());
    EXPECT_TRUE(r.ok()) << r.status();
    return r->value;
  };
  DivergenceOptions with = o;
  with.compute_gradients = true;
  auto r = SolveDivergence(s.x, s.a, s.y, s.b, {}, with, SolveControl());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->gradients.has_value());
  CheckGradients(s, *r->gradients, value, /*balanced=*/true, 1e-5, 1e-6);
  // The divergence of a measure with itself is flat: zero gradients.
  auto same = SolveDivergence(s.x, s.a, s.x, s.a, {}, with, SolveControl());
  ASSERT_TRUE(same.ok());
  EXPECT_LE(same->gradients->source_points.cwiseAbs().maxCoeff(), 1e-8);
  DivergenceOptions mmd = with;
  mmd.kind = DivergenceKind::kSinkhornNoEntropy;
  EXPECT_EQ(SolveDivergence(s.x, s.a, s.y, s.b, {}, mmd, SolveControl())
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
}

TEST(GradientsTest, SlicedThroughTheSortedMatchings) {
  // Fixed directions make the value a function of the points alone.
  std::mt19937_64 rng(9);
  std::normal_distribution<double> normal;
  RowMatrix dirs(6, 2);
  for (double& v : dirs.reshaped()) v = normal(rng);
  for (bool max_sliced : {false, true}) {
    SCOPED_TRACE(max_sliced);
    const Data s = Make(9, 7, 2, 10);
    TransportOptions o;
    o.method = max_sliced ? Method::kMaxSliced : Method::kSliced;
    auto solve = [&](const Data& t, bool gradients) {
      TransportProblem p;
      p.x.emplace(t.x);
      p.y.emplace(t.y);
      p.a.emplace(t.a);
      p.b.emplace(t.b);
      p.directions.emplace(dirs);
      TransportOptions with = o;
      with.compute_gradients = gradients;
      auto r = SolveTransport(p, with, SolveControl());
      EXPECT_TRUE(r.ok()) << r.status();
      return *r;
    };
    const TransportResult r = solve(s, true);
    ASSERT_TRUE(r.gradients.has_value());
    EXPECT_EQ(r.gradients->kind, "subgradient");
    CheckGradients(
        s, *r.gradients, [&](const Data& t) { return solve(t, false).value; },
        /*balanced=*/true, 1e-7, 1e-6);
  }
}

TEST(GradientsTest, RefusedWhereThereIsNoGradient) {
  const Data s = Make(5, 5, 2, 7);
  TransportProblem p;
  const RowMatrix c = PairwiseCost(s.x, s.y, {});
  p.cost.kind = CostKind::kExplicit;
  p.cost_matrix.emplace(c);
  TransportOptions o;
  o.method = Method::kExact;
  o.compute_gradients = true;
  auto r = SolveTransport(p, o, SolveControl());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("return_gradients"), std::string::npos);
  TransportProblem q;
  q.x.emplace(s.x);
  q.y.emplace(s.y);
  o.method = Method::kGaussian;
  EXPECT_EQ(SolveTransport(q, o, SolveControl()).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace otcore
