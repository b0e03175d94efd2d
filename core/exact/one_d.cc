// 1-D exact OT by merging the two sorted cumulative distributions.
#include "core/exact/one_d.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/radix_sort.h"
#include "core/common/status_macros.h"

namespace otcore {
namespace {

double PowAbs(double d, double p) {
  d = std::abs(d);
  if (p == 1.0) return d;
  if (p == 2.0) return d * d;
  return std::pow(d, p);
}

bool IsUniform(const VectorView& w) {
  return w.size() > 0 && (w.array() == w(0)).all();
}

// One measure sorted by position: keys ascending, with the weights (and the
// original indices, when a plan is wanted) in the same order. Uniform weights
// without a plan sort the keys alone.
struct SortedSide {
  std::vector<double> keys;
  std::vector<double> weights;  // empty: uniform, `uniform_weight` each
  std::vector<int64_t> index;   // empty unless a plan is wanted
  double uniform_weight = 0.0;

  double weight(int64_t k) const {
    return weights.empty() ? uniform_weight : weights[k];
  }
};

SortedSide SortSide(const VectorView& x, const VectorView& w, bool with_index) {
  SortedSide side;
  const int64_t n = x.size();
  if (!with_index && IsUniform(w)) {
    side.keys.assign(x.data(), x.data() + n);  // a VectorView is contiguous
    RadixSort(&side.keys);
    side.uniform_weight = w(0);
    return side;
  }
  std::vector<KeyedItem> items(n);
  for (int64_t i = 0; i < n; ++i) {
    items[i].key = x(i);
    items[i].payload = static_cast<uint64_t>(i);
  }
  RadixSort(&items);
  side.keys.resize(n);
  side.weights.resize(n);
  if (with_index) side.index.resize(n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = static_cast<int64_t>(items[k].payload);
    side.keys[k] = items[k].key;
    side.weights[k] = w(i);
    if (with_index) side.index[k] = i;
  }
  return side;
}

}  // namespace

absl::StatusOr<OneDResult> SolveOneD(const VectorView& x, const VectorView& a,
                                     const VectorView& y, const VectorView& b,
                                     double p, const SolveControl& control,
                                     bool compute_plan) {
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
  RETURN_IF_ERROR(ValidateWeights(a, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target.weights"));
  RETURN_IF_ERROR(ValidateBalanced(a, b));
  RETURN_IF_ERROR(control.Check());

  // The two sorts are independent: run them side by side.
  SortedSide sx, sy;
  control.ParallelRange(2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      if (k == 0) sx = SortSide(x, a, compute_plan);
      if (k == 1) sy = SortSide(y, b, compute_plan);
    }
  });
  RETURN_IF_ERROR(control.Check());
  const double scale = a.sum() / b.sum();
  const int64_t n = x.size(), m = y.size();
  OneDResult result;
  SparsePlan& plan = result.plan;
  if (compute_plan) {
    plan.rows.reserve(n + m - 1);
    plan.cols.reserve(n + m - 1);
    plan.values.reserve(n + m - 1);
  }
  int64_t i = 0, j = 0;
  double wa = sx.weight(0), wb = sy.weight(0) * scale;
  // Walk both sorted supports; each step moves min(remaining mass) and exhausts
  // at least one point. Rounding may leave a dust of mass at the very end.
  while (i < n && j < m) {
    const double t = std::min(wa, wb);
    if (t > 0.0) {
      if (compute_plan) {
        plan.rows.push_back(sx.index[i]);
        plan.cols.push_back(sy.index[j]);
        plan.values.push_back(t);
      }
      result.cost += t * PowAbs(sx.keys[i] - sy.keys[j], p);
    }
    wa -= t;
    wb -= t;
    if (wa <= 0.0 && i + 1 < n) {
      wa = sx.weight(++i);
    } else if (wb <= 0.0 && j + 1 < m) {
      wb = sy.weight(++j) * scale;
    } else if (wa <= 0.0 || wb <= 0.0) {
      break;  // one side is exhausted
    }
  }
  Summary& s = result.summary;
  s.method = Method::kOneD;
  s.termination = Termination::kConverged;
  if (compute_plan) {
    s.marginal_error = SparseMarginalError(plan, a, b);
  } else {
    // Every point before (i, j) was fully transported; what is left is the
    // dust at the current points plus the points never reached.
    double left_a = std::max(wa, 0.0), left_b = std::max(wb, 0.0);
    for (int64_t k = i + 1; k < n; ++k) left_a += sx.weight(k);
    for (int64_t k = j + 1; k < m; ++k) left_b += sy.weight(k) * scale;
    s.marginal_error = std::max(left_a, left_b) / a.sum();
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
