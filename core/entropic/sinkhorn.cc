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
#include "core/common/validate.h"
#include "core/entropic/softmin.h"

namespace otcore {

namespace {
// Plain iterations of the last stage before the contraction rate is measured
// (from kProbeStart over kProbeLength iterations) to set over-relaxation.
constexpr int64_t kProbeStart = 10;
constexpr int64_t kProbeLength = 10;
constexpr double kMaxOmega = 1.95;
// Over-relaxed runs refit g exactly (and test convergence) this often.
constexpr int64_t kCheckEvery = 10;
// Iteration cap of each intermediate epsilon stage.
constexpr int64_t kStageIterations = 100;

// Young's optimal SOR factor for a plain contraction rate theta.
double OptimalOmega(double theta) {
  if (!(theta > 0.0)) return 1.0;
  return std::min(kMaxOmega,
                  2.0 / (1.0 + std::sqrt(1.0 - std::min(theta, 1.0))));
}
}  // namespace

absl::Status SinkhornOptions::Validate() const {
  RETURN_IF_ERROR(CheckPositive(epsilon, "options.epsilon"));
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/true));
  RETURN_IF_ERROR(CheckMaxIterations(max_iterations));
  if (!(marginal_relaxation > 0.0)) {
    return InvalidField("options.marginal_relaxation",
                        absl::StrCat("must be > 0 (infinity: balanced), got ",
                                     marginal_relaxation));
  }
  return absl::OkStatus();
}

absl::StatusOr<SinkhornResult> SolveSinkhorn(const VectorView& a,
                                             const VectorView& b,
                                             const MatrixView& cost,
                                             const SinkhornOptions& options,
                                             const SolveControl& control) {
  return SolveSinkhorn(a, b, CostSource::Dense(cost), options, control);
}

absl::StatusOr<SinkhornResult> SolveSinkhorn(const VectorView& a,
                                             const VectorView& b,
                                             const CostSource& cost,
                                             const SinkhornOptions& options,
                                             const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(ValidateWeights(a, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target.weights"));
  const bool balanced = std::isinf(options.marginal_relaxation);
  if (balanced) RETURN_IF_ERROR(ValidateBalanced(a, b));
  const Eigen::Index n = a.size(), m = b.size();
  if (cost.rows() != n || cost.cols() != m) {
    return absl::InvalidArgumentError(
        absl::StrCat("cost matrix is ", cost.rows(), " x ", cost.cols(),
                     ", expected ", n, " x ", m));
  }
  if (!cost.AllFinite()) {
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
    eps_stage = std::max(eps, cost.Range());
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
  Eigen::ArrayXd g_fit(m);
  for (;;) {
    const bool last_stage = eps_stage <= eps;
    const double stage_tol = last_stage ? options.tolerance : 1e-2;
    int64_t stage_it = 0;
    const double damp = damping(eps_stage);
    // Over-relaxation (balanced, last stage): both half-steps move omega times
    // the plain step. omega = 2 / (1 + sqrt(1 - theta)) from the observed
    // per-iteration contraction theta of the plain iteration (Young's optimum
    // for two-block SOR; Lehmann et al. 2021 for Sinkhorn), halved back
    // towards 1 whenever the checked error grows.
    double omega = 1.0;
    double probe_err = 0.0, last_check_err = 0.0;
    int64_t last_check_it = 0;
    // Whether g is the exact column update for f at the loop head. Then the
    // plan (f, g) has exact column marginals and the row update below measures
    // its row error for free: row_i = a_i exp((f_i - f_next_i) / eps); only
    // such errors stop the solve. Unbalanced: the error is the sup-norm change
    // of f / eps (and g is always exact).
    bool exact_g = true;
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
      if (err <= stage_tol && exact_g) {
        if (last_stage) s.termination = Termination::kConverged;
        break;
      }
      if (it >= options.max_iterations) break;
      if (!last_stage && stage_it >= kStageIterations) break;
      if (balanced && last_stage && exact_g) {
        if (omega == 1.0 && stage_it == kProbeStart) probe_err = err;
        if (omega == 1.0 && stage_it == kProbeStart + kProbeLength &&
            probe_err > 0.0 && err < probe_err) {
          omega = OptimalOmega(std::pow(err / probe_err, 1.0 / kProbeLength));
        } else if (omega > 1.0 && err > last_check_err) {
          omega = 1.0 + 0.5 * (omega - 1.0);
        } else if (omega > 1.0 && last_check_err > 0.0) {
          // The over-relaxed rate r reveals the plain rate theta through
          // (r + omega - 1)^2 = r omega^2 theta; raise omega if it is slower
          // than assumed (the early plain rate underestimates it).
          const double r =
              std::pow(err / last_check_err, 1.0 / (stage_it - last_check_it));
          const double theta =
              (r + omega - 1) * (r + omega - 1) / (r * omega * omega);
          omega = std::max(omega, OptimalOmega(theta));
        }
        last_check_err = err;
        last_check_it = stage_it;
      }
      f += omega * (f_next - f);
      ColSoftMin(cost, f, log_a, eps_stage, &g_fit, &control);
      // Exact every kCheckEvery iterations and once the error is near the
      // tolerance, so that convergence is always judged on a true plan.
      exact_g = omega == 1.0 || err <= 10.0 * stage_tol ||
                stage_it % kCheckEvery == 0;
      if (exact_g) {
        g = g_fit * damp;
      } else {
        g += omega * (g_fit - g);
      }
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
  // Rows (and <P, C> per row) in one tiled pass; the column sums are
  // b_j exp((g_j - T(f)_j) / eps) by one column soft-min. Per-row partials are
  // summed in order, so the result does not depend on the thread split.
  Eigen::ArrayXd rows(n), row_cost(n), cols(m);
  if (options.compute_plan) result.plan.emplace(n, m);
  const Eigen::ArrayXd gb = g / eps_final + log_b;
  ForEachRowBlock(cost, &control, [&](Eigen::Index i0, const RowMatrix& tile) {
    for (Eigen::Index r = 0; r < tile.rows(); ++r) {
      const Eigen::Index i = i0 + r;
      Eigen::ArrayXd p_row = ((f(i) / eps_final + log_a(i)) + gb -
                              tile.row(r).transpose().array() / eps_final)
                                 .exp();
      if (wa(i) == 0.0) p_row.setZero();
      rows(i) = p_row.sum();
      row_cost(i) = (p_row * tile.row(r).transpose().array()).sum();
      if (result.plan) result.plan->row(i) = p_row.transpose().matrix();
    }
  });
  ColSoftMin(cost, f, log_a, eps_final, &cols, &control);
  cols = (wb > 0).select(wb * ((g - cols) / eps_final).exp(), 0.0);
  const double transport = row_cost.sum();
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
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
