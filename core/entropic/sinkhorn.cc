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

namespace otcore {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// out_i = -eps * log sum_j exp(log_w_j + (h_j - C_ij) / eps), row by row.
void RowSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  Eigen::ArrayXd z(c.cols());
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    z = shifted - c.row(i).transpose().array() * inv_eps;
    const double mx = z.maxCoeff();
    (*out)(i) = mx == kNegInf ? std::numeric_limits<double>::infinity()
                              : -eps * (mx + std::log((z - mx).exp().sum()));
  }
}

// out_j = -eps * log sum_i exp(log_w_i + (h_i - C_ij) / eps), streaming rows.
void ColSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  const Eigen::Index m = c.cols();
  Eigen::ArrayXd mx = Eigen::ArrayXd::Constant(m, kNegInf);
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    if (shifted(i) == kNegInf) continue;
    mx = mx.max(shifted(i) - c.row(i).transpose().array() * inv_eps);
  }
  Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(m);
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    if (shifted(i) == kNegInf) continue;
    sum += ((shifted(i) - c.row(i).transpose().array() * inv_eps) - mx).exp();
  }
  *out = -eps * (mx + sum.log());
}

}  // namespace

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
  RETURN_IF_ERROR(ValidateBalanced(a, b));
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
  const Eigen::ArrayXd wb = b.array() * (mass / b.sum());
  const Eigen::ArrayXd log_a = wa.log(), log_b = wb.log();
  const double eps = options.epsilon;
  double eps_stage = eps;
  if (options.epsilon_scaling) {
    eps_stage = std::max(eps, cost.maxCoeff() - cost.minCoeff());
  }

  Eigen::ArrayXd f = Eigen::ArrayXd::Zero(n), g = Eigen::ArrayXd::Zero(m);
  Eigen::ArrayXd f_next(n);
  ColSoftMin(cost, f, log_a, eps_stage, &g);

  SinkhornResult result;
  Summary& s = result.summary;
  s.method = Method::kSinkhorn;
  s.termination = Termination::kIterationLimit;
  int64_t it = 0;
  double err = std::numeric_limits<double>::infinity();
  for (;;) {
    const bool last_stage = eps_stage <= eps;
    const double stage_tol = last_stage ? options.tolerance : 1e-2;
    int64_t stage_it = 0;
    // Invariant at the loop head: g is the exact column update for f, so the
    // plan (f, g) has exact column marginals; the row update below measures its
    // row error for free: row_i = a_i exp((f_i - f_next_i) / eps).
    for (;;) {
      RETURN_IF_ERROR(control.Check());
      RowSoftMin(cost, g, log_b, eps_stage, &f_next);
      err = (wa * ((f - f_next) / eps_stage).exp() - wa).abs().sum() / mass;
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
      ColSoftMin(cost, f, log_a, eps_stage, &g);
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
    ColSoftMin(cost, f, log_a, eps_stage, &g);
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
  // eps KL(P | a b^T) = sum P (f + g - C) - eps (sum P - mass^2); terms of
  // zero-weight points vanish.
  const double fr = (wa > 0).select(f * rows, 0.0).sum();
  const double gc = (wb > 0).select(g * cols, 0.0).sum();
  result.cost = transport;
  result.regularized_cost = fr + gc - eps_final * (rows.sum() - mass * mass);
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
                             " reached at marginal error ", err);
  } else if (s.termination == Termination::kNumericalError) {
    s.message = "non-finite values in the Sinkhorn iteration";
  }
  s.converged = s.termination == Termination::kConverged;
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
