// Sinkhorn divergences (symmetric self-transport by averaged updates) and MMDs.
#include "core/entropic/divergence.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/kernels.h"
#include "core/entropic/softmin.h"

namespace otcore {
namespace {

struct SelfResult {
  double regularized = 0.0;  // OT_eps(a, a) = 2 <a, f>
  double transport = 0.0;    // <P, C>
  int64_t iterations = 0;
  bool converged = false;
  double error = 0.0;
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
  if (!balanced) r.regularized += 2.0 * lambda * GeneralizedKl(rows, wa);
  return r;
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
  ASSIGN_OR_RETURN(SinkhornResult ab, SolveSinkhorn(a, b, sxy, so, control));
  ASSIGN_OR_RETURN(
      SelfResult aa,
      SelfTransport(a, CostSource::ForClouds(x, x, cost, &cxx), so, control));
  ASSIGN_OR_RETURN(
      SelfResult bb,
      SelfTransport(b, CostSource::ForClouds(y, y, cost, &cyy), so, control));
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
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  CheckFiniteValue(result.value, &s);
  return result;
}

}  // namespace otcore
