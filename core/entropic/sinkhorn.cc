// Log-domain Sinkhorn. Both half-steps stream the row-major cost matrix by rows
// (the column half-step keeps per-column running maxima and sums), so each
// iteration is two passes over C with one exp per entry and pass.
#include "core/entropic/sinkhorn.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"
#include "core/entropic/softmin.h"

namespace otcore {

absl::Status SinkhornOptions::Validate() const {
  if (!(std::isfinite(epsilon) && epsilon > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("epsilon must be finite and > 0, got ", epsilon));
  }
  if (!(tolerance > 0.0 && tolerance < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tolerance must be in (0, 1), got ", tolerance));
  }
  if (max_iterations <= 0) {
    return absl::InvalidArgumentError("max_iterations must be > 0");
  }
  if (!(marginal_relaxation > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "marginal_relaxation must be > 0 (infinity: balanced), got ",
        marginal_relaxation));
  }
  return absl::OkStatus();
}

absl::StatusOr<SinkhornResult> SolveSinkhorn(const VectorView& a,
                                             const VectorView& b,
                                             const MatrixView& cost,
                                             const SinkhornOptions& options,
                                             const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(ValidateWeights(a, "source weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target weights"));
  const bool balanced = std::isinf(options.marginal_relaxation);
  if (balanced) RETURN_IF_ERROR(ValidateBalanced(a, b));
  const Eigen::Index n = a.size(), m = b.size();
  if (cost.rows() != n || cost.cols() != m) {
    return absl::InvalidArgumentError(
        absl::StrCat("cost matrix is ", cost.rows(), " x ", cost.cols(),
                     ", expected ", n, " x ", m));
  }
  if (!cost.allFinite()) {
    return absl::InvalidArgumentError("cost matrix has non-finite entries");
  }

  const double mass = a.sum();
  const Eigen::ArrayXd wa = a.array();
  const Eigen::ArrayXd wb = balanced
                                ? Eigen::ArrayXd(b.array() * (mass / b.sum()))
                                : Eigen::ArrayXd(b.array());
  const double lambda = options.marginal_relaxation;
  // Unbalanced updates are the balanced ones damped by lambda / (lambda + eps).
  auto damping = [&](double e) {
    return balanced ? 1.0 : lambda / (lambda + e);
  };
  const Eigen::ArrayXd log_a = wa.log(), log_b = wb.log();
  const double eps = options.epsilon;
  double eps_stage = eps;
  if (options.initial_f && options.initial_f->size() != n) {
    return absl::InvalidArgumentError(
        "initial_f must have one entry per source point");
  }
  if (options.epsilon_scaling && !options.initial_f) {
    eps_stage = std::max(eps, cost.maxCoeff() - cost.minCoeff());
  }

  Eigen::ArrayXd f = options.initial_f
                         ? Eigen::ArrayXd(options.initial_f->array())
                         : Eigen::ArrayXd::Zero(n);
  Eigen::ArrayXd g = Eigen::ArrayXd::Zero(m);
  Eigen::ArrayXd f_next(n);
  ColSoftMin(cost, f, log_a, eps_stage, &g, &control);
  g *= damping(eps_stage);

  SinkhornResult result;
  Summary& s = result.summary;
  s.method = balanced ? Method::kSinkhorn : Method::kUnbalanced;
  s.termination = Termination::kIterationLimit;
  int64_t it = 0;
  double err = std::numeric_limits<double>::infinity();
  for (;;) {
    const bool last_stage = eps_stage <= eps;
    const double stage_tol = last_stage ? options.tolerance : 1e-2;
    int64_t stage_it = 0;
    const double damp = damping(eps_stage);
    // Invariant at the loop head: g is the exact column update for f. Balanced:
    // the plan (f, g) has exact column marginals, and the row update below
    // measures its row error for free: row_i = a_i exp((f_i - f_next_i) / eps).
    // Unbalanced: the error is the sup-norm change of f / eps.
    for (;;) {
      RETURN_IF_ERROR(control.Check());
      RowSoftMin(cost, g, log_b, eps_stage, &f_next, &control);
      if (balanced) {
        err = (wa * ((f - f_next) / eps_stage).exp() - wa).abs().sum() / mass;
      } else {
        f_next *= damp;
        err = (f_next - f).abs().maxCoeff() / eps_stage;
      }
      ++it;
      ++stage_it;
      // err may overflow to +inf far from the solution; only NaN or non-finite
      // potentials mean the iteration broke down.
      if (std::isnan(err) || !f_next.allFinite()) {
        s.termination = Termination::kNumericalError;
        break;
      }
      if (err <= stage_tol) {
        if (last_stage) s.termination = Termination::kConverged;
        break;
      }
      if (it >= options.max_iterations) break;
      if (!last_stage && stage_it >= 100) break;
      f = f_next;
      ColSoftMin(cost, f, log_a, eps_stage, &g, &control);
      g *= damp;
      if (it % 10 == 0) {
        control.Report(
            {it, err, eps_stage, absl::ToDoubleSeconds(absl::Now() - start)});
      }
    }
    if (last_stage || s.termination == Termination::kNumericalError ||
        it >= options.max_iterations) {
      break;
    }
    // Next stage: keep f, refit g at the smaller epsilon.
    eps_stage = std::max(eps, eps_stage * 0.5);
    f = f_next;
    ColSoftMin(cost, f, log_a, eps_stage, &g, &control);
    g *= damping(eps_stage);
  }
  if (eps_stage > eps && s.termination != Termination::kNumericalError) {
    s.message = absl::StrCat("stopped at epsilon stage ", eps_stage,
                             " above the target ", eps);
  }

  // Primal quantities of the plan (f, g) at the epsilon the potentials belong
  // to (the target, unless the iteration cap struck in an earlier stage).
  const double eps_final = eps_stage;
  s.epsilon = eps_final;
  Eigen::ArrayXd rows = Eigen::ArrayXd::Zero(n), cols = Eigen::ArrayXd::Zero(m);
  double transport = 0.0;
  if (options.compute_plan) result.plan.emplace(n, m);
  const Eigen::ArrayXd gb = g / eps_final + log_b;
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::ArrayXd p_row = ((f(i) / eps_final + log_a(i)) + gb -
                            cost.row(i).transpose().array() / eps_final)
                               .exp();
    if (wa(i) == 0.0) p_row.setZero();
    rows(i) = p_row.sum();
    cols += p_row;
    transport += (p_row * cost.row(i).transpose().array()).sum();
    if (result.plan) result.plan->row(i) = p_row.transpose().matrix();
  }
  // <P, C> + eps KL(P | a b^T) = sum P (f + g) - eps (sum P - sum a sum b);
  // terms of zero-weight points vanish. Unbalanced adds the marginal penalties.
  const double fr = (wa > 0).select(f * rows, 0.0).sum();
  const double gc = (wb > 0).select(g * cols, 0.0).sum();
  result.cost = transport;
  result.regularized_cost =
      fr + gc - eps_final * (rows.sum() - mass * wb.sum());
  if (!balanced) {
    result.regularized_cost +=
        lambda * (GeneralizedKl(rows, wa) + GeneralizedKl(cols, wb));
  }
  result.f = f.matrix();
  result.g = g.matrix();
  s.iterations = it;
  s.marginal_error =
      std::max((rows - wa).abs().sum(), (cols - wb).abs().sum()) / mass;
  if (!std::isfinite(transport) || !std::isfinite(s.marginal_error)) {
    s.termination = Termination::kNumericalError;
  }
  if (s.termination == Termination::kIterationLimit && s.message.empty()) {
    s.message = absl::StrCat("max_iterations ", options.max_iterations,
                             " reached at error ", err);
  } else if (s.termination == Termination::kNumericalError) {
    s.message = "non-finite values in the Sinkhorn iteration";
  }
  s.converged = s.termination == Termination::kConverged;
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
