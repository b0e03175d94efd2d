// 1-D exact OT by merging the two sorted cumulative distributions.
#include "core/exact/one_d.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"

namespace otcore {
namespace {

std::vector<int64_t> ArgSort(const VectorView& v) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&v](int64_t i, int64_t j) { return v(i) < v(j); });
  return idx;
}

double PowAbs(double d, double p) {
  d = std::abs(d);
  if (p == 1.0) return d;
  if (p == 2.0) return d * d;
  return std::pow(d, p);
}

}  // namespace

absl::StatusOr<OneDResult> SolveOneD(const VectorView& x, const VectorView& a,
                                     const VectorView& y, const VectorView& b,
                                     double p, const SolveControl& control) {
  const absl::Time start = absl::Now();
  if (!(std::isfinite(p) && p >= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("p must be >= 1, got ", p));
  }
  if (x.size() != a.size() || y.size() != b.size()) {
    return absl::InvalidArgumentError("points and weights differ in length");
  }
  if (!x.allFinite() || !y.allFinite()) {
    return absl::InvalidArgumentError("points must be finite");
  }
  RETURN_IF_ERROR(ValidateWeights(a, "source weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target weights"));
  RETURN_IF_ERROR(ValidateBalanced(a, b));
  RETURN_IF_ERROR(control.Check());

  const std::vector<int64_t> ix = ArgSort(x), iy = ArgSort(y);
  const double scale = a.sum() / b.sum();
  const int64_t n = x.size(), m = y.size();
  OneDResult result;
  SparsePlan& plan = result.plan;
  plan.rows.reserve(n + m - 1);
  plan.cols.reserve(n + m - 1);
  plan.values.reserve(n + m - 1);
  int64_t i = 0, j = 0;
  double wa = a(ix[0]), wb = b(iy[0]) * scale;
  // Walk both sorted supports; each step moves min(remaining mass) and exhausts
  // at least one point. Rounding may leave a dust of mass at the very end.
  while (i < n && j < m) {
    const double t = std::min(wa, wb);
    if (t > 0.0) {
      plan.rows.push_back(ix[i]);
      plan.cols.push_back(iy[j]);
      plan.values.push_back(t);
      result.cost += t * PowAbs(x(ix[i]) - y(iy[j]), p);
    }
    wa -= t;
    wb -= t;
    if (wa <= 0.0 && i + 1 < n) {
      wa = a(ix[++i]);
    } else if (wb <= 0.0 && j + 1 < m) {
      wb = b(iy[++j]) * scale;
    } else if (wa <= 0.0 || wb <= 0.0) {
      break;  // one side is exhausted
    }
  }
  Summary& s = result.summary;
  s.method = Method::kOneD;
  s.termination = Termination::kConverged;
  s.converged = true;
  s.marginal_error = SparseMarginalError(plan, a, b);
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
