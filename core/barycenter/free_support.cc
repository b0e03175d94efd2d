// Free-support barycenter by fixed-point updates of the support.
#include "core/barycenter/free_support.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/sinkhorn.h"
#include "core/exact/network_simplex.h"

namespace otcore {

absl::Status FreeSupportOptions::Validate() const {
  if (!(epsilon >= 0 && std::isfinite(epsilon))) {
    return InvalidField("options.epsilon",
                        "must be >= 0 (0: exact inner solves)");
  }
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/false));
  return CheckMaxIterations(max_iterations);
}

absl::StatusOr<FreeSupportResult> FreeSupportBarycenter(
    const std::vector<std::pair<RowMatrix, Eigen::VectorXd>>& measures,
    const VectorView& lambdas, const MatrixView& x_init, const VectorView& b,
    const FreeSupportOptions& options, const SolveControl& control) {
  const absl::Time start = absl::Now();
  if (measures.empty() ||
      lambdas.size() != static_cast<Eigen::Index>(measures.size())) {
    return absl::InvalidArgumentError("one weight per measure is required");
  }
  RETURN_IF_ERROR(ValidateWeights(lambdas, "weights"));
  RETURN_IF_ERROR(ValidateProbability(b, "support_weights"));
  if (b.size() != x_init.rows()) {
    return absl::InvalidArgumentError(
        "one weight per initial support point is required");
  }
  RETURN_IF_ERROR(options.Validate());
  for (const auto& [y, w] : measures) {
    if (y.cols() != x_init.cols() || y.rows() != w.size()) {
      return absl::InvalidArgumentError(
          "measure shapes do not match the support");
    }
  }
  const Eigen::VectorXd lam = lambdas / lambdas.sum();
  FreeSupportResult result;
  result.points = x_init;
  Summary& s = result.summary;
  s.termination = Termination::kIterationLimit;
  s.epsilon = options.epsilon;
  const Eigen::ArrayXd inv_b = b.array().inverse();
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    RowMatrix next =
        RowMatrix::Zero(result.points.rows(), result.points.cols());
    double marginal_error = 0.0;  // of this sweep's inner plans
    for (size_t k = 0; k < measures.size(); ++k) {
      const auto& [y, w] = measures[k];
      const RowMatrix cost = PairwiseCost(result.points, y, {});
      RowMatrix ty;  // T_k Y_k
      if (options.epsilon > 0) {
        SinkhornOptions so;
        so.epsilon = options.epsilon;
        so.tolerance = 1e-9;
        so.max_iterations = 100'000;
        so.compute_plan = true;
        absl::StatusOr<SinkhornResult> r =
            SolveSinkhorn(b, w, cost, so, control);
        if (!r.ok()) return r.status();
        const RowMatrix& plan = r->plan.value();  // compute_plan was set
        ty = plan * y;
        marginal_error = std::max(marginal_error, r->summary.marginal_error);
      } else {
        ASSIGN_OR_RETURN(ExactResult r, SolveExact(b, w, cost, {}, control));
        marginal_error = std::max(marginal_error, r.summary.marginal_error);
        ty = RowMatrix::Zero(b.size(), y.cols());
        for (size_t e = 0; e < r.plan.values.size(); ++e) {
          ty.row(r.plan.rows[e]) += r.plan.values[e] * y.row(r.plan.cols[e]);
        }
      }
      next += lam(k) * (inv_b.matrix().asDiagonal() * ty);
    }
    const double displacement = (next - result.points).squaredNorm();
    result.points = std::move(next);
    s.iterations = it;
    s.marginal_error = marginal_error;
    s.stopping_value = displacement;
    if (displacement <= options.tolerance) {
      s.termination = Termination::kConverged;
      break;
    }
  }
  s.stopping_rule = "squared_displacement";
  if (!s.converged()) {
    s.message = absl::StrCat("support still moving (squared displacement ",
                             s.stopping_value, ") at max_iterations");
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
