// Log-domain Sinkhorn in three parts: the stage loop (epsilon scaling, one
// RunStage per stage), the over-relaxation controller (relaxation.h), and the
// primal pass that turns the potentials into the plan's quantities. The
// reductions run on the control's entropic kernels.
#include "core/entropic/sinkhorn.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/kernel_cache.h"
#include "core/entropic/kernels.h"
#include "core/entropic/relaxation.h"
#include "core/entropic/softmin.h"
#include "core/entropic/stages.h"

namespace otcore {

namespace {

// The fixed inputs of one solve.
struct Setup {
  const CostSource& cost;
  const EntropicKernels& kernels;
  const SinkhornOptions& options;
  const SolveControl& control;
  absl::Time start;
  bool balanced;
  double mass;  // sum a
  Eigen::ArrayXd wa, wb, log_a, log_b;
  // The in-memory kernel of small CPU solves (null: every reduction by the
  // kernels).
  KernelCache* cache = nullptr;
  // The iteration's reductions (the final pass always uses the kernels).
  void Rows(const Eigen::ArrayXd& g, double eps, Eigen::ArrayXd* out) const {
    if (cache) return cache->RowSoftMin(g, log_b, eps, out);
    kernels.RowSoftMin(cost, g, log_b, eps, out, control);
  }
  void Cols(const Eigen::ArrayXd& f, double eps, Eigen::ArrayXd* out) const {
    if (cache) return cache->ColSoftMin(f, log_a, eps, out);
    kernels.ColSoftMin(cost, f, log_a, eps, out, control);
  }
  // Unbalanced updates are the balanced ones damped by lambda / (lambda + e).
  double Damping(double e) const {
    return balanced ? 1.0
                    : options.marginal_relaxation /
                          (options.marginal_relaxation + e);
  }
};

// The potentials and counters carried across stages.
struct Iterate {
  Eigen::ArrayXd f, g, f_next, g_fit;
  int64_t it = 0;  // over all stages
  double err = std::numeric_limits<double>::infinity();
};

// g = damping x the column soft-min of f (the exact column update).
void FitColumns(const Setup& su, double eps, Iterate* x) {
  su.Cols(x->f, eps, &x->g);
  x->g *= su.Damping(eps);
}

// One epsilon stage. Returns kConverged when the stage tolerance was reached
// on an exact plan, kNumericalError on a breakdown, else kIterationLimit (the
// stage's or the solve's cap).
absl::StatusOr<Termination> RunStage(const Setup& su, double eps,
                                     bool last_stage, Iterate* x) {
  const double tolerance = last_stage ? su.options.tolerance : kStageTolerance;
  const double damp = su.Damping(eps);
  RelaxationController relax(su.balanced && last_stage);
  int64_t stage_it = 0;
  // Whether g is the exact column update for f at the loop head. Then the
  // plan (f, g) has exact column marginals and the row update below measures
  // its row error for free: row_i = a_i exp((f_i - f_next_i) / eps); only
  // such errors stop the solve. Unbalanced: the error is the sup-norm change
  // of f / eps (and g is always exact).
  bool exact_g = true;
  for (;;) {
    RETURN_IF_ERROR(su.control.Check());
    su.Rows(x->g, eps, &x->f_next);
    if (su.balanced) {
      x->err = RowMarginalError(su.wa, x->f, x->f_next, eps) / su.mass;
    } else {
      x->f_next *= damp;
      x->err = (x->f_next - x->f).abs().maxCoeff() / eps;
    }
    ++x->it;
    ++stage_it;
    // err may overflow to +inf far from the solution; only NaN or non-finite
    // potentials mean the iteration broke down.
    if (std::isnan(x->err) || !x->f_next.allFinite()) {
      return Termination::kNumericalError;
    }
    if (x->err <= tolerance && exact_g) return Termination::kConverged;
    if (x->it >= su.options.max_iterations) return Termination::kIterationLimit;
    if (!last_stage && stage_it >= kStageIterations) {
      return Termination::kIterationLimit;
    }
    if (exact_g) relax.Observe(stage_it, x->err);
    const double omega = relax.omega();
    x->f += omega * (x->f_next - x->f);
    su.Cols(x->f, eps, &x->g_fit);
    exact_g = relax.ExactNext(stage_it, x->err, tolerance);
    if (exact_g) {
      x->g = x->g_fit * damp;
    } else {
      x->g += omega * (x->g_fit - x->g);
    }
    if (su.options.report_progress && x->it % 10 == 0) {
      su.control.Report(
          {x->it, x->err, eps, absl::ToDoubleSeconds(absl::Now() - su.start)});
    }
  }
}

// The plan (f, g) at `eps`: <P, C>, the regularised value, the marginal error
// and the plan itself when asked for. Rows (and <P, C> per row) in one pass;
// the column sums are b_j exp((g_j - T(f)_j) / eps) by one column soft-min.
void PrimalQuantities(const Setup& su, const Iterate& x, double eps,
                      SinkhornResult* result) {
  const Eigen::Index n = su.wa.size(), m = su.wb.size();
  Eigen::ArrayXd rows(n), row_cost(n), cols(m);
  if (su.options.compute_plan) result->plan.emplace(n, m);
  su.kernels.PrimalPass(su.cost, x.f / eps + su.log_a, x.g / eps + su.log_b,
                        eps, &rows, &row_cost,
                        result->plan ? &*result->plan : nullptr, su.control);
  su.kernels.ColSoftMin(su.cost, x.f, su.log_a, eps, &cols, su.control);
  cols = (su.wb > 0).select(su.wb * ((x.g - cols) / eps).exp(), 0.0);
  // <P, C> + eps KL(P | a b^T) = sum P (f + g) - eps (sum P - sum a sum b);
  // terms of zero-weight points vanish. Unbalanced adds the marginal penalties.
  const double fr = (su.wa > 0).select(x.f * rows, 0.0).sum();
  const double gc = (su.wb > 0).select(x.g * cols, 0.0).sum();
  result->cost = row_cost.sum();
  result->regularized_cost =
      fr + gc - eps * (rows.sum() - su.mass * su.wb.sum());
  if (!su.balanced) {
    result->regularized_cost +=
        su.options.marginal_relaxation *
        (GeneralizedKl(rows, su.wa) + GeneralizedKl(cols, su.wb));
  }
  result->summary.marginal_error =
      std::max((rows - su.wa).abs().sum(), (cols - su.wb).abs().sum()) /
      su.mass;
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
  if (options.initial_f && options.initial_f->size() != n) {
    return absl::InvalidArgumentError(
        "initial_f must have one entry per source point");
  }

  const double mass = a.sum();
  const Eigen::ArrayXd wa = a.array();
  const Eigen::ArrayXd wb = balanced
                                ? Eigen::ArrayXd(b.array() * (mass / b.sum()))
                                : Eigen::ArrayXd(b.array());
  Setup su{cost,    KernelsFor(control),
           options, control,
           start,   balanced,
           mass,    wa,
           wb,      wa.log(),
           wb.log()};
  // Small problems on the CPU (at either precision: the in-memory kernel's
  // float64 products beat float32 exponentials) iterate on their kernel in
  // memory; its absorptions run on the job's kernels.
  std::optional<KernelCache> cache;
  if (su.kernels.name() == "cpu" && KernelCache::Applies(n, m)) {
    su.cache = &cache.emplace(cost, su.kernels, control);
  }

  // Epsilon scaling: from max(eps, the cost range) down to eps by halves,
  // warm-starting the potentials; not with a given initial f.
  const double eps = options.epsilon;
  double eps_stage = eps;
  if (options.epsilon_scaling && !options.initial_f) {
    eps_stage = std::max(eps, cost.Range());
  }
  Iterate x;
  x.f = options.initial_f ? Eigen::ArrayXd(options.initial_f->array())
                          : Eigen::ArrayXd::Zero(n);
  x.g = Eigen::ArrayXd::Zero(m);
  x.f_next.resize(n);
  x.g_fit.resize(m);
  FitColumns(su, eps_stage, &x);

  SinkhornResult result;
  Summary& s = result.summary;
  s.method = balanced ? Method::kSinkhorn : Method::kUnbalanced;
  for (;;) {
    const bool last_stage = eps_stage <= eps;
    ASSIGN_OR_RETURN(const Termination stage,
                     RunStage(su, eps_stage, last_stage, &x));
    s.termination =
        last_stage && stage == Termination::kConverged ? Termination::kConverged
        : stage == Termination::kNumericalError ? Termination::kNumericalError
                                                : Termination::kIterationLimit;
    if (last_stage || stage == Termination::kNumericalError ||
        x.it >= options.max_iterations) {
      break;
    }
    // Next stage: keep f, refit g at the smaller epsilon.
    eps_stage = std::max(eps, eps_stage * kStageShrink);
    x.f = x.f_next;
    FitColumns(su, eps_stage, &x);
  }
  if (eps_stage > eps && s.termination != Termination::kNumericalError) {
    s.message = absl::StrCat("stopped at epsilon stage ", eps_stage,
                             " above the target ", eps);
  }

  // The potentials belong to eps_stage (the target, unless the iteration cap
  // struck in an earlier stage).
  s.epsilon = eps_stage;
  PrimalQuantities(su, x, eps_stage, &result);
  result.f = x.f.matrix();
  result.g = x.g.matrix();
  s.iterations = x.it;
  if (!balanced) {
    s.stopping_rule = "potential_change";
    s.stopping_value = x.err;
  }
  if (!std::isfinite(result.cost) || !std::isfinite(s.marginal_error)) {
    s.termination = Termination::kNumericalError;
  }
  if (s.termination == Termination::kIterationLimit && s.message.empty()) {
    s.message = absl::StrCat("max_iterations ", options.max_iterations,
                             " reached at error ", x.err);
  } else if (s.termination == Termination::kNumericalError) {
    s.message = "non-finite values in the Sinkhorn iteration";
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
