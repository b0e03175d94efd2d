// Gromov-Wasserstein solvers on the decomposed tensor product
//   (L (x) T)_ij = constC_ij - (h1(C1) T h2(C2)^T)_ij,
//   constC = f1(C1) p 1^T + 1 q^T f2(C2)^T.
#include "core/gromov/gromov.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/sinkhorn.h"
#include "core/exact/network_simplex.h"

namespace otcore {
namespace {

struct Decomposition {
  RowMatrix const_c, h1, h2;
};

Decomposition Decompose(const MatrixView& c1, const MatrixView& c2,
                        const VectorView& p, const VectorView& q, GwLoss loss) {
  Decomposition d;
  RowMatrix f1, f2;
  if (loss == GwLoss::kSquare) {
    f1 = c1.array().square().matrix();
    f2 = c2.array().square().matrix();
    d.h1 = c1;
    d.h2 = 2.0 * c2;
  } else {
    // As POT: a log(a + 1e-15) - a, b, a, log(b + 1e-15).
    f1 = (c1.array() * (c1.array() + 1e-15).log() - c1.array()).matrix();
    f2 = c2;
    d.h1 = c1;
    d.h2 = (c2.array() + 1e-15).log().matrix();
  }
  const Eigen::VectorXd u = f1 * p;  // [n]
  const Eigen::VectorXd v = f2 * q;  // [m]
  d.const_c = u.replicate(1, q.size()) + v.transpose().replicate(p.size(), 1);
  return d;
}

// base - h1 X h2^T (base null: - h1 X h2^T), by blocks of rows across the
// control's pool; cancel and deadlines are honoured between blocks (one
// product is O(n^2 m + n m^2): seconds for a few thousand points).
absl::StatusOr<RowMatrix> Sandwich(const Decomposition& d,
                                   const RowMatrix* base, const RowMatrix& t,
                                   const SolveControl& control) {
  constexpr Eigen::Index kRows = 64;
  const Eigen::Index n = t.rows();
  RowMatrix out(n, t.cols());
  std::atomic<bool> stopped{false};
  control.ParallelRange(
      (n + kRows - 1) / kRows, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1 && !stopped.load(); ++b) {
          if (!control.Check().ok()) {
            stopped = true;
            return;
          }
          const Eigen::Index i0 = b * kRows, nr = std::min(kRows, n - i0);
          out.middleRows(i0, nr).noalias() =
              -(d.h1.middleRows(i0, nr) * t) * d.h2.transpose();
          if (base) out.middleRows(i0, nr) += base->middleRows(i0, nr);
        }
      });
  RETURN_IF_ERROR(control.Check());
  return out;
}

// L (x) T = const_c - h1 T h2^T for T with marginals (p, q).
absl::StatusOr<RowMatrix> TensorProduct(const Decomposition& d,
                                        const RowMatrix& t,
                                        const SolveControl& control) {
  return Sandwich(d, &d.const_c, t, control);
}

}  // namespace

absl::Status GromovOptions::Validate() const {
  if (!(epsilon >= 0 && std::isfinite(epsilon))) {
    return InvalidField("options.epsilon",
                        "must be >= 0 (0: conditional gradient)");
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    return InvalidField("alpha", "must be in [0, 1]");
  }
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/false));
  RETURN_IF_ERROR(CheckMaxIterations(max_iterations));
  RETURN_IF_ERROR(
      CheckMaxIterations(inner_max_iterations, "inner_max_iterations"));
  if (loss == GwLoss::kKl && epsilon == 0) {
    return absl::UnimplementedError(
        "the KL loss is served with the entropic method only "
        "(GROMOV_METHOD_ENTROPIC, epsilon > 0)");
  }
  return absl::OkStatus();
}

absl::StatusOr<GromovResult> SolveGromov(
    const MatrixView& c1, const MatrixView& c2, const VectorView& p,
    const VectorView& q, const std::optional<MatrixView>& feature_cost,
    const GromovOptions& options, const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(ValidateWeights(p, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(q, "target.weights"));
  RETURN_IF_ERROR(ValidateBalanced(p, q));
  const Eigen::Index n = p.size(), m = q.size();
  if (c1.rows() != n || c1.cols() != n || c2.rows() != m || c2.cols() != m) {
    return absl::InvalidArgumentError("C1 must be [n, n] and C2 [m, m]");
  }
  if (!c1.allFinite() || !c2.allFinite()) {
    return absl::InvalidArgumentError("intra-space costs must be finite");
  }
  if (options.loss == GwLoss::kKl &&
      ((c1.array() < 0).any() || (c2.array() < 0).any())) {
    return absl::InvalidArgumentError("the KL loss needs non-negative costs");
  }
  const bool fused = options.alpha < 1.0;
  if (fused && (!feature_cost || feature_cost->rows() != n ||
                feature_cost->cols() != m || !feature_cost->allFinite())) {
    return absl::InvalidArgumentError(
        "fused GW needs a finite feature cost [n, m]");
  }
  const double alpha = options.alpha;
  const Eigen::VectorXd q_scaled = q * (p.sum() / q.sum());
  const Decomposition d = Decompose(c1, c2, p, q_scaled, options.loss);
  RowMatrix t = p * q_scaled.transpose();
  auto objective = [&](const RowMatrix& plan) -> absl::StatusOr<double> {
    ASSIGN_OR_RETURN(const RowMatrix tensor, TensorProduct(d, plan, control));
    double value = alpha * (tensor.array() * plan.array()).sum();
    if (fused)
      value += (1 - alpha) * (feature_cost->array() * plan.array()).sum();
    return value;
  };

  GromovResult result;
  Summary& s = result.summary;
  s.termination = Termination::kIterationLimit;
  s.epsilon = options.epsilon;
  ASSIGN_OR_RETURN(double value, objective(t));
  std::optional<Eigen::VectorXd> warm_f;  // inner potentials, carried over
  ExactBasis basis;  // the conditional gradient's LP basis, carried over
  // Inner accuracy follows the outer progress: loose while T still moves a lot,
  // down to kInnerFloor (relative L1 marginal error) as the outer iteration
  // settles, so that warm-started inner solves do not leave a noise floor in T
  // above the outer tolerance.
  constexpr double kInnerFloor = 1e-12;
  double inner_tolerance = 1e-4;
  // Outer steps in a row whose inner solve stopped at its iteration cap
  // without reaching its tolerance while T still moved by more than the
  // outer tolerance: at kMaxStalledSteps the solve ends, not converged (a
  // small epsilon against the gradient's range makes inner solves too slow to
  // reach what the outer tolerance needs).
  constexpr int kMaxStalledSteps = 10;
  int stalled = 0;
  // Gradient of the objective at t: 2 alpha L (x) T (+ (1 - alpha) M). The
  // entropic steps recompute it; conditional-gradient steps update it with
  // the product their line search forms anyway (L is linear in T on plans of
  // fixed marginals).
  RowMatrix grad;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    if (options.epsilon > 0 || it == 1) {
      ASSIGN_OR_RETURN(grad, TensorProduct(d, t, control));
      grad *= 2.0 * alpha;
      if (fused) grad += (1 - alpha) * *feature_cost;
    }
    s.iterations = it;
    if (options.epsilon > 0) {
      SinkhornOptions so;
      so.epsilon = options.epsilon;
      so.tolerance = inner_tolerance;
      so.max_iterations = options.inner_max_iterations;
      so.compute_plan = true;
      so.initial_f = warm_f;
      so.report_progress = false;  // this loop reports its outer steps
      ASSIGN_OR_RETURN(SinkhornResult inner,
                       SolveSinkhorn(p, q_scaled, grad, so, control));
      warm_f = std::move(inner.f);
      const double change = (*inner.plan - t).norm();
      const bool inner_met = inner.summary.converged();
      const bool inner_tight = so.tolerance <= kInnerFloor && inner_met;
      inner_tolerance = std::clamp(0.01 * change, kInnerFloor, 1e-4);
      stalled = (!inner_met && change > options.tolerance) ? stalled + 1 : 0;
      if (stalled >= kMaxStalledSteps) {
        s.message = absl::StrCat(
            "inner Sinkhorn solves stop at their iteration cap (",
            options.inner_max_iterations, ") at marginal error ",
            inner.summary.marginal_error, " while the plan still changes by ",
            change, " per step (tolerance ", options.tolerance,
            "): raise inner_max_iterations or epsilon");
        break;
      }
      t = std::move(*inner.plan);
      s.stopping_value = change;
      if (!std::isfinite(change)) {
        s.termination = Termination::kNumericalError;
        break;
      }
      if (change <= options.tolerance && inner_tight) {
        s.termination = Termination::kConverged;
        break;
      }
      // Every outer step is long at small epsilon: each one is reported.
      control.Report({it, s.stopping_value, options.epsilon,
                      absl::ToDoubleSeconds(absl::Now() - start)});
    } else {
      // Frank-Wolfe: direction from the exact LP on the gradient, then the
      // exact line search on the quadratic objective along it.
      // Each step's LP starts from the previous step's optimal basis.
      ExactOptions lp_options;
      lp_options.basis = &basis;
      ASSIGN_OR_RETURN(ExactResult lp,
                       SolveExact(p, q_scaled, grad, lp_options, control));
      RowMatrix delta = -t;
      for (size_t k = 0; k < lp.plan.values.size(); ++k) {
        delta(lp.plan.rows[k], lp.plan.cols[k]) += lp.plan.values[k];
      }
      // f(T + x D) = f(T) + b x + a x^2 (D has zero marginals, costs
      // symmetric): a = -alpha <h1 D h2^T, D>, b = <grad, D>.
      ASSIGN_OR_RETURN(const RowMatrix neg_hdh,
                       Sandwich(d, nullptr, delta, control));
      const double a = alpha * (neg_hdh.array() * delta.array()).sum();
      double b = (grad.array() * delta.array()).sum();
      double step;
      if (a > 0) {
        step = std::clamp(-b / (2 * a), 0.0, 1.0);
      } else {
        step = (a + b < 0) ? 1.0 : 0.0;
      }
      t += step * delta;
      grad += (2.0 * alpha * step) * neg_hdh;  // L (x) D = const - h1 D h2^T
      const double next = value + (b + a * step) * step;
      const double change = std::abs(next - value);
      value = next;
      s.stopping_value = change / std::max(1.0, std::abs(value));
      if (change <= options.tolerance * std::max(1.0, std::abs(value)) ||
          step == 0.0) {
        s.termination = Termination::kConverged;
        break;
      }
    }
    if (options.epsilon == 0 && it % 10 == 0) {
      control.Report({it, s.stopping_value, options.epsilon,
                      absl::ToDoubleSeconds(absl::Now() - start)});
    }
  }
  ASSIGN_OR_RETURN(result.value, objective(t));
  CheckFiniteValue(result.value, &s);
  Eigen::VectorXd rows = t.rowwise().sum(),
                  cols = t.colwise().sum().transpose();
  s.marginal_error =
      std::max((rows - p).lpNorm<1>(), (cols - q_scaled).lpNorm<1>()) / p.sum();
  result.plan = std::move(t);
  s.stopping_rule =
      options.epsilon > 0 ? "plan_change" : "relative_objective_change";
  if (s.termination == Termination::kIterationLimit && s.message.empty()) {
    s.message = "max_iterations reached before the outer iteration settled";
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

absl::StatusOr<GromovResult> SolveGromov(
    const GromovSpace& source, const GromovSpace& target, const VectorView& p,
    const VectorView& q, const std::optional<MatrixView>& feature_cost,
    const GromovOptions& options, const SolveControl& control) {
  // Views the given costs; forms those of point spaces.
  RowMatrix formed[2];
  std::optional<MatrixView> intra[2];
  const GromovSpace* spaces[2] = {&source, &target};
  for (int k = 0; k < 2; ++k) {
    const GromovSpace& s = *spaces[k];
    const char* side = k == 0 ? "source" : "target";
    if (s.costs) {
      intra[k].emplace(*s.costs);
    } else if (s.points && s.cost.kind != CostKind::kExplicit) {
      RETURN_IF_ERROR(s.cost.Validate());
      formed[k] = PairwiseCost(*s.points, *s.points, s.cost);
      intra[k].emplace(formed[k]);
    } else {
      return InvalidField(absl::StrCat(side, ".points"),
                          "points (with a non-explicit cost) or intra-space "
                          "costs are required");
    }
  }
  return SolveGromov(*intra[0], *intra[1], p, q, feature_cost, options,
                     control);
}

}  // namespace otcore
