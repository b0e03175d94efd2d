// Ground costs and weight checks.
#include "core/common/cost.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"

namespace otcore {

double CostSpec::Exponent() const {
  switch (kind) {
    case CostKind::kSqEuclidean:
      return 2.0;
    case CostKind::kEuclidean:
      return 1.0;
    case CostKind::kPower:
      return p;
    case CostKind::kExplicit:
      return 0.0;
  }
  return 0.0;
}

absl::Status CostSpec::Validate() const {
  if (kind == CostKind::kPower && !(std::isfinite(p) && p >= 1.0)) {
    return InvalidField(
        "cost.p", absl::StrCat("must be >= 1 for COST_KIND_POWER, got ", p));
  }
  return absl::OkStatus();
}

RowMatrix PairwiseCost(const MatrixView& x, const MatrixView& y,
                       const CostSpec& spec) {
  const Eigen::Index n = x.rows(), m = y.rows();
  RowMatrix c(n, m);
  // ||x||^2 + ||y||^2 - 2 x.y is fast but loses accuracy for nearby points, so
  // the cost is formed from differences, one row at a time.
  const double p = spec.Exponent();
  for (Eigen::Index i = 0; i < n; ++i) {
    auto row = c.row(i);
    for (Eigen::Index j = 0; j < m; ++j) {
      row(j) = (y.row(j) - x.row(i)).squaredNorm();
    }
    if (spec.kind == CostKind::kEuclidean) {
      row = row.array().sqrt();
    } else if (spec.kind == CostKind::kPower && p != 2.0) {
      row = row.array().pow(p / 2.0);
    }
  }
  return c;
}

absl::Status ValidateWeights(const VectorView& w, absl::string_view field) {
  if (w.size() == 0) return InvalidField(field, "is empty");
  double total = 0.0;
  for (Eigen::Index i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w(i)) || w(i) < 0.0) {
      return InvalidField(field,
                          absl::StrCat("entry ", i, " is ", w(i),
                                       "; weights must be finite and >= 0"));
    }
    total += w(i);
  }
  if (total <= 0.0) return InvalidField(field, "all weights are zero");
  return absl::OkStatus();
}

absl::Status ValidateProbability(const VectorView& w, absl::string_view field) {
  RETURN_IF_ERROR(ValidateWeights(w, field));
  if (std::abs(w.sum() - 1.0) > kMassTolerance) {
    return InvalidField(field,
                        absl::StrCat("must sum to 1 (within ", kMassTolerance,
                                     "), sums to ", w.sum()));
  }
  return absl::OkStatus();
}

absl::Status ValidateBalanced(const VectorView& a, const VectorView& b) {
  return ValidateBalancedMasses(a.sum(), b.sum());
}

absl::Status ValidateBalancedMasses(double sa, double sb) {
  if (std::abs(sa - sb) > kMassTolerance * std::max(sa, sb)) {
    return InvalidField(
        "target.weights",
        absl::StrCat("total mass ", sb, " differs from source mass ", sa,
                     " (relative tolerance ", kMassTolerance, ")"));
  }
  return absl::OkStatus();
}

double SparseMarginalError(const SparsePlan& plan, const VectorView& a,
                           const VectorView& b) {
  Eigen::VectorXd r = -a, c = -b;
  for (size_t k = 0; k < plan.values.size(); ++k) {
    r(plan.rows[k]) += plan.values[k];
    c(plan.cols[k]) += plan.values[k];
  }
  return std::max(r.lpNorm<1>(), c.lpNorm<1>()) / a.sum();
}

}  // namespace otcore
