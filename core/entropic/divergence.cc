// Sinkhorn divergences (symmetric self-transport by averaged updates) and MMDs.
#include "core/entropic/divergence.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/kernels.h"
#include "core/entropic/relaxation.h"
#include "core/entropic/softmin.h"
#include "core/entropic/stages.h"
#include "core/gradients.h"

namespace otcore {
namespace {

struct SelfResult {
  double regularized = 0.0;  // OT_eps(a, a) = 2 <a, f>
  double transport = 0.0;    // <P, C>
  int64_t iterations = 0;
  bool converged = false;
  double error = 0.0;
  Eigen::ArrayXd f;  // the symmetric potential
};

// OT_eps(a, a) with a symmetric cost: the fixed point f = T(f) reached by the
// averaged update f <- (f + T(f)) / 2, which converges fast and keeps symmetry.
absl::StatusOr<SelfResult> SelfTransport(const VectorView& a,
                                         const CostSource& c,
                                         const SinkhornOptions& o,
                                         const SolveControl& control) {
  const Eigen::ArrayXd wa = a.array(), log_a = wa.log();
  const double mass = wa.sum();
  const bool balanced = std::isinf(o.marginal_relaxation);
  const double lambda = o.marginal_relaxation;
  // Unbalanced: the update is damped by lambda / (lambda + eps).
  const double damp = balanced ? 1.0 : lambda / (lambda + o.epsilon);
  const EntropicKernels& kernels = KernelsFor(control);
  Eigen::ArrayXd f = Eigen::ArrayXd::Zero(a.size()), t(a.size());
  SelfResult r;
  for (r.iterations = 1; r.iterations <= o.max_iterations; ++r.iterations) {
    RETURN_IF_ERROR(control.Check());
    kernels.RowSoftMin(c, f, log_a, o.epsilon, &t, control);
    t *= damp;
    // Balanced: the marginal error of the plan built on (f, f), row_i =
    // a_i exp((f_i - t_i)/eps). Unbalanced: the sup-norm change / eps.
    r.error = balanced ? RowMarginalError(wa, f, t, o.epsilon) / mass
                       : (f - t).abs().maxCoeff() / o.epsilon;
    if (r.error <= o.tolerance) {
      r.converged = true;
      break;
    }
    f = 0.5 * (f + t);
  }
  r.iterations = std::min(r.iterations, o.max_iterations);
  // Primal: P_ij = a_i a_j exp((f_i + f_j - C_ij) / eps), one pass with
  // per-row partials (summed in order: independent of the thread split).
  Eigen::ArrayXd rows, row_cost;
  const Eigen::ArrayXd fa = f / o.epsilon + log_a;
  kernels.PrimalPass(c, fa, fa, o.epsilon, &rows, &row_cost, nullptr, control);
  r.transport = row_cost.sum();
  const double fr = 2.0 * (wa > 0).select(f * rows, 0.0).sum();
  const double total = rows.sum();
  // As SolveSinkhorn's regularized_cost, for the symmetric plan.
  r.regularized = fr - o.epsilon * (total - mass * mass);
  r.f = f;
  if (!balanced) r.regularized += 2.0 * lambda * GeneralizedKl(rows, wa);
  return r;
}

// The three problems of a balanced Sinkhorn divergence.
struct Parts {
  SinkhornResult ab;
  SelfResult aa, bb;
};

// The three problems solved together with their reductions batched: each
// iteration is one RowSoftMins call with OT(a, b)'s row update and the
// symmetric self updates of OT(a, a) and OT(b, b) (three reductions, one GPU
// launch), then one with OT(a, b)'s column update. OT(a, b) runs as
// SolveSinkhorn does (epsilon stages, over-relaxation in the last stage,
// convergence judged on exact columns); the self potentials take averaged
// steps (as SelfTransport) through the same stages. The reductions give the
// exact row marginals of the current plans, row_i = a_i exp((f_i - T(g)_i) /
// eps), so every problem stops on its marginal error. (Four reductions in one
// call - GeomLoss's averaged cross update - took 20 to 60 times more
// iterations than this at small epsilon: 30,000 against 508.)
absl::StatusOr<Parts> SolveJoint(const VectorView& a, const VectorView& b,
                                 const CostSource& sxy, const CostSource& sxx,
                                 const CostSource& syy,
                                 const SinkhornOptions& o,
                                 const SolveControl& control) {
  const absl::Time start = absl::Now();
  const EntropicKernels& kernels = KernelsFor(control);
  const Eigen::ArrayXd wa = a.array(), wb = b.array();
  const double mass = wa.sum(), mass_b = wb.sum();
  const Eigen::ArrayXd wbc = wb * (mass / mass_b);  // b at a's mass (cross)
  const Eigen::ArrayXd log_a = wa.log(), log_b = wb.log(), log_bc = wbc.log();
  const CostSource syx = sxy.Transposed();
  const Eigen::Index n = wa.size(), m = wb.size();
  Eigen::ArrayXd f = Eigen::ArrayXd::Zero(n), g = Eigen::ArrayXd::Zero(m);
  Eigen::ArrayXd p = Eigen::ArrayXd::Zero(n), q = Eigen::ArrayXd::Zero(m);
  Eigen::ArrayXd ft(n), gt(m), pt(n), qt(m);
  const SoftMinTask rows_and_selves[] = {{&sxy, &g, &log_bc, &ft},
                                         {&sxx, &p, &log_a, &pt},
                                         {&syy, &q, &log_b, &qt}};
  const SoftMinTask columns[] = {{&syx, &f, &log_a, &gt}};
  double eps = o.epsilon_scaling ? std::max(o.epsilon, sxy.Range()) : o.epsilon;
  kernels.RowSoftMins(columns, eps, control);
  g = gt;
  Parts parts;
  Summary& s = parts.ab.summary;
  s.method = Method::kSinkhorn;
  s.termination = Termination::kIterationLimit;
  int64_t it = 0;
  double cross = 0.0, self_a = 0.0, self_b = 0.0;
  for (bool done = false; !done;) {
    const bool last = eps <= o.epsilon;
    const double tol = last ? o.tolerance : kStageTolerance;
    RelaxationController relax(last);
    bool exact_g = true;
    for (int64_t stage_it = 1;; ++stage_it) {
      RETURN_IF_ERROR(control.Check());
      kernels.RowSoftMins(rows_and_selves, eps, control);
      ++it;
      cross = RowMarginalError(wa, f, ft, eps) / mass;
      self_a = RowMarginalError(wa, p, pt, eps) / mass;
      self_b = RowMarginalError(wb, q, qt, eps) / mass_b;
      if (std::isnan(cross) || !ft.allFinite() || !pt.allFinite() ||
          !qt.allFinite()) {
        s.termination = Termination::kNumericalError;
        done = true;
        break;
      }
      if (exact_g && std::max({cross, self_a, self_b}) <= tol) {
        if (last) s.termination = Termination::kConverged;
        done = last;
        break;
      }
      if (it >= o.max_iterations) {
        done = true;
        break;
      }
      if (!last && stage_it >= kStageIterations) break;
      if (exact_g) relax.Observe(stage_it, cross);
      const double omega = relax.omega();
      f += omega * (ft - f);
      p = 0.5 * (p + pt);
      q = 0.5 * (q + qt);
      kernels.RowSoftMins(columns, eps, control);
      exact_g = relax.ExactNext(stage_it, cross, tol);
      g = exact_g ? gt : Eigen::ArrayXd(g + omega * (gt - g));
      if (it % 10 == 0) {
        control.Report(
            {it, cross, eps, absl::ToDoubleSeconds(absl::Now() - start)});
      }
    }
    if (done || it >= o.max_iterations) break;
    // Next stage: keep f (the last row update), refit g at the smaller eps.
    eps = std::max(o.epsilon, eps * kStageShrink);
    f = ft;
    kernels.RowSoftMins(columns, eps, control);
    g = gt;
  }
  // The plans of the current potentials (those the errors were measured on).
  Eigen::ArrayXd rows, row_cost;
  kernels.PrimalPass(sxy, f / eps + log_a, g / eps + log_bc, eps, &rows,
                     &row_cost, nullptr, control);
  // gt = T(f) for the current f and eps: every column call follows the last
  // change of f, and the loop leaves before f moves again.
  const Eigen::ArrayXd cols =
      (wbc > 0).select(wbc * ((g - gt) / eps).exp(), 0.0);
  cross = std::max(cross, (cols - wbc).abs().sum() / mass);
  parts.ab.cost = row_cost.sum();
  parts.ab.regularized_cost = (wa > 0).select(f * rows, 0.0).sum() +
                              (wbc > 0).select(g * cols, 0.0).sum() -
                              eps * (rows.sum() - mass * wbc.sum());
  parts.ab.f = f.matrix();
  parts.ab.g = g.matrix();
  s.iterations = it;
  s.marginal_error = cross;
  s.epsilon = eps;
  if (eps > o.epsilon) {
    s.message = absl::StrCat("stopped at epsilon stage ", eps,
                             " above the target ", o.epsilon);
  }
  auto self = [&](const CostSource& c, const Eigen::ArrayXd& w,
                  const Eigen::ArrayXd& log_w, const Eigen::ArrayXd& pot,
                  double err, SelfResult* r) {
    Eigen::ArrayXd srows, scost;
    const Eigen::ArrayXd u = pot / eps + log_w;
    kernels.PrimalPass(c, u, u, eps, &srows, &scost, nullptr, control);
    const double wm = w.sum();
    r->transport = scost.sum();
    r->f = pot;
    r->regularized = 2.0 * (w > 0).select(pot * srows, 0.0).sum() -
                     eps * (srows.sum() - wm * wm);
    r->iterations = it;
    r->error = err;
    r->converged = eps <= o.epsilon && err <= o.tolerance &&
                   s.termination != Termination::kNumericalError;
  };
  self(sxx, wa, log_a, p, self_a, &parts.aa);
  self(syy, wb, log_b, q, self_b, &parts.bb);
  if (s.termination == Termination::kIterationLimit && eps <= o.epsilon &&
      cross <= o.tolerance) {
    s.termination = Termination::kConverged;  // this one problem converged
  }
  return parts;
}

double KernelSum(const MatrixView& x, const VectorView& wx, const MatrixView& y,
                 const VectorView& wy, DivergenceKind kind, double blur) {
  double total = 0.0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::ArrayXd d2 =
        (y.rowwise() - x.row(i)).rowwise().squaredNorm().array();
    Eigen::ArrayXd k;
    switch (kind) {
      case DivergenceKind::kEnergy:
        k = -d2.sqrt();
        break;
      case DivergenceKind::kGaussianMmd:
        k = (-d2 / (2 * blur * blur)).exp();
        break;
      default:
        k = (-d2.sqrt() / blur).exp();
        break;
    }
    total += wx(i) * (k * wy.array()).sum();
  }
  return total;
}

}  // namespace

int64_t DivergenceDenseEntries(int64_t n, int64_t m, int64_t d,
                               DivergenceKind kind) {
  const bool sinkhorn = kind == DivergenceKind::kSinkhorn ||
                        kind == DivergenceKind::kSinkhornNoEntropy;
  if (!sinkhorn) return 0;
  int64_t entries = 0;
  for (const auto& [p, q] : {std::pair{n, m}, {n, n}, {m, m}}) {
    if (!PreferMatrixFree(p, q, d)) entries += p * q;
  }
  return entries;
}

absl::StatusOr<DivergenceResult> SolveDivergence(
    const MatrixView& x, const VectorView& a, const MatrixView& y,
    const VectorView& b, const CostSpec& cost, const DivergenceOptions& options,
    const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(ValidateWeights(a, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target.weights"));
  if (std::isinf(options.sinkhorn.marginal_relaxation)) {
    RETURN_IF_ERROR(ValidateBalanced(a, b));
  }
  if (x.cols() != y.cols()) {
    return InvalidField("target.points",
                        absl::StrCat("dimension ", y.cols(),
                                     " differs from the source's ", x.cols()));
  }
  if (x.rows() != a.size()) {
    return InvalidField("source.weights", "length differs from the points'");
  }
  if (y.rows() != b.size()) {
    return InvalidField("target.weights", "length differs from the points'");
  }
  RETURN_IF_ERROR(options.epsilon.Validate());
  if (options.compute_gradients && options.kind != DivergenceKind::kSinkhorn) {
    return absl::UnimplementedError(
        "options.return_gradients: built for DIVERGENCE_KIND_SINKHORN only "
        "(the no-entropy variant is not an envelope of its solve)");
  }
  DivergenceResult result;
  Summary& s = result.summary;
  s.termination = Termination::kConverged;
  if (options.kind == DivergenceKind::kEnergy ||
      options.kind == DivergenceKind::kGaussianMmd ||
      options.kind == DivergenceKind::kLaplacianMmd) {
    RETURN_IF_ERROR(CheckPositive(options.blur, "blur"));
    result.self_source = KernelSum(x, a, x, a, options.kind, options.blur);
    result.self_target = KernelSum(y, b, y, b, options.kind, options.blur);
    result.cross = KernelSum(x, a, y, b, options.kind, options.blur);
    result.value =
        0.5 * result.self_source + 0.5 * result.self_target - result.cross;
    s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    CheckFiniteValue(result.value, &s);
    return result;
  }

  SinkhornOptions so = options.sinkhorn;
  // Each of the three costs is reduced matrix-free or formed once, by the one
  // matrix-free rule (PreferMatrixFree).
  RowMatrix cxy, cxx, cyy;
  const CostSource sxy = CostSource::ForClouds(x, y, cost, &cxy);
  ASSIGN_OR_RETURN(
      so.epsilon,
      options.epsilon.Resolve(options.epsilon.relative() ? sxy.Mean() : 1));
  RETURN_IF_ERROR(so.Validate());
  const bool balanced = std::isinf(so.marginal_relaxation);
  if (!balanced && options.kind != DivergenceKind::kSinkhorn) {
    return InvalidField("options.marginal_relaxation",
                        "the unbalanced divergence is DIVERGENCE_KIND_SINKHORN "
                        "only (entropic terms included)");
  }
  const CostSource sxx = CostSource::ForClouds(x, x, cost, &cxx);
  const CostSource syy = CostSource::ForClouds(y, y, cost, &cyy);
  Parts parts;
  if (KernelsFor(control).FusesSoftMins() && balanced && sxy.clouds() &&
      sxx.clouds() && syy.clouds()) {
    ASSIGN_OR_RETURN(parts, SolveJoint(a, b, sxy, sxx, syy, so, control));
  } else {
    ASSIGN_OR_RETURN(parts.ab, SolveSinkhorn(a, b, sxy, so, control));
    ASSIGN_OR_RETURN(parts.aa, SelfTransport(a, sxx, so, control));
    ASSIGN_OR_RETURN(parts.bb, SelfTransport(b, syy, so, control));
  }
  const SinkhornResult& ab = parts.ab;
  const SelfResult &aa = parts.aa, &bb = parts.bb;
  const bool entropic = options.kind == DivergenceKind::kSinkhorn;
  result.cross = entropic ? ab.regularized_cost : ab.cost;
  result.self_source = entropic ? aa.regularized : aa.transport;
  result.self_target = entropic ? bb.regularized : bb.transport;
  result.value =
      result.cross - 0.5 * result.self_source - 0.5 * result.self_target;
  if (!balanced) {
    // Sejourne et al. 2019: + eps/2 (m(a) - m(b))^2 makes S(a, b) >= 0.
    const double dm = a.sum() - b.sum();
    result.value += 0.5 * so.epsilon * dm * dm;
  }
  s.method = Method::kSinkhorn;
  s.iterations = ab.summary.iterations + aa.iterations + bb.iterations;
  s.marginal_error = std::max({ab.summary.marginal_error, aa.error, bb.error});
  s.epsilon = so.epsilon;
  const bool all = ab.summary.converged() && aa.converged && bb.converged;
  s.termination =
      ab.summary.termination != Termination::kConverged
          ? ab.summary.termination
          : (all ? Termination::kConverged : Termination::kIterationLimit);
  if (!s.converged()) {
    s.message = absl::StrCat("not converged: OT(a,b) ",
                             ab.summary.converged() ? "yes" : "no",
                             ", OT(a,a) ", aa.converged ? "yes" : "no",
                             ", OT(b,b) ", bb.converged ? "yes" : "no");
  }
  if (options.compute_gradients) {
    // Envelope theorem on each term: d/dx_i S = sum_j P^ab_ij grad c(x_i,
    // y_j) - sum_j P^aa_ij grad c(x_i, x_j) (the self term depends on x twice,
    // halved); weights: f_ab - f_aa, centred (balanced).
    const double eps_ab = ab.summary.epsilon, eps = so.epsilon;
    const Eigen::ArrayXd wa = a.array();
    const Eigen::ArrayXd wbc =
        balanced ? Eigen::ArrayXd(b.array() * (wa.sum() / b.sum()))
                 : Eigen::ArrayXd(b.array());
    const Eigen::ArrayXd u = ab.f.array() / eps_ab + wa.log();
    const Eigen::ArrayXd v = ab.g.array() / eps_ab + wbc.log();
    const Eigen::ArrayXd ua = aa.f / eps + wa.log();
    const Eigen::ArrayXd vb = bb.f / eps + b.array().log();
    Gradients& g = result.gradients.emplace();
    RowMatrix self;
    EntropicPlanGradient(x, y, cost, u, v, eps_ab, &g.source_points, control);
    EntropicPlanGradient(x, x, cost, ua, ua, eps, &self, control);
    g.source_points -= self;
    EntropicPlanGradient(y, x, cost, v, u, eps_ab, &g.target_points, control);
    EntropicPlanGradient(y, y, cost, vb, vb, eps, &self, control);
    g.target_points -= self;
    if (balanced) {
      g.source_weights = Centred(ab.f - aa.f.matrix());
      g.target_weights = Centred(ab.g - bb.f.matrix());
    }
    g.of = "value";
    g.kind = "gradient";
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  CheckFiniteValue(result.value, &s);
  return result;
}

}  // namespace otcore
