// Sliced and max-sliced Wasserstein by projection and the 1-D exact solver.
#include "core/sliced/sliced.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/exact/one_d.h"
#include "core/sliced/kernels.h"

namespace otcore {
namespace {
// Directions projected by one matrix product: n x 16 doubles per cloud keeps
// the product large enough for the GEMM kernel and the block in cache-sized
// memory (12.8 MB at n = 1e5).
constexpr int64_t kDirectionsPerProduct = 16;

class CpuSliced final : public SlicedKernels {
 public:
  absl::string_view name() const override { return "cpu"; }
  absl::Status ProjectedCosts(const MatrixView& x, const VectorView& a,
                              const MatrixView& y, const VectorView& b,
                              const RowMatrix& directions, double p,
                              Eigen::VectorXd* per_direction,
                              const SolveControl& control) const override {
    const Eigen::Index num = directions.rows();
    per_direction->resize(num);
    // Directions are independent: each range of them projects both clouds
    // with one matrix product (n x range, a column per direction), then sorts
    // and merges each column on its own, writing its own entries; the first
    // error (e.g. a cancel) is kept.
    absl::Status status;
    std::mutex mu;
    control.ParallelRange(
        num, /*min_chunk=*/1, [&](int64_t begin, int64_t end) {
          const SolveControl serial;  // the range is this task's share already
          for (int64_t l0 = begin; l0 < end; l0 += kDirectionsPerProduct) {
            const int64_t len = std::min(kDirectionsPerProduct, end - l0);
            const auto dirs = directions.middleRows(l0, len).transpose();
            const Eigen::MatrixXd px = x * dirs, py = y * dirs;
            for (int64_t k = 0; k < len; ++k) {
              absl::Status checked = control.Check();
              absl::StatusOr<OneDResult> r =
                  checked.ok()
                      ? SolveOneD(px.col(k), a, py.col(k), b, p, serial,
                                  /*compute_plan=*/false)
                      : absl::StatusOr<OneDResult>(checked);
              if (!r.ok()) {
                std::lock_guard<std::mutex> lock(mu);
                if (status.ok()) status = r.status();
                return;
              }
              (*per_direction)(l0 + k) = r->cost;
            }
          }
        });
    return status;
  }
};

// Subgradients of value: for each direction theta (all of them, weighted
// 1/L, or the maximising one) and each entry P_k of its sorted matching,
// d/ds |s - t|^p = p |s - t|^(p-1) sign(s - t) moves x_i along theta and y_j
// against it; weights: the 1-D tree potentials, centred, likewise averaged.
absl::Status AddSlicedGradients(const MatrixView& x, const VectorView& a,
                                const MatrixView& y, const VectorView& b,
                                const SlicedOptions& options,
                                SlicedResult* result,
                                const SolveControl& control) {
  const Eigen::Index num = result->directions.rows();
  std::vector<Eigen::Index> used;
  if (options.max_sliced) {
    Eigen::Index best = 0;
    result->per_direction.maxCoeff(&best);
    used.push_back(best);
  } else {
    for (Eigen::Index l = 0; l < num; ++l) used.push_back(l);
  }
  const double share = 1.0 / static_cast<double>(used.size());
  Gradients& g = result->gradients.emplace();
  g.source_points.setZero(x.rows(), x.cols());
  g.target_points.setZero(y.rows(), y.cols());
  g.source_weights.setZero(a.size());
  g.target_weights.setZero(b.size());
  g.of = "value";
  g.kind = "subgradient";
  CostSpec spec;
  spec.kind = CostKind::kPower;
  spec.p = options.p;
  absl::Status status;
  std::mutex mu;
  control.ParallelRange(
      static_cast<int64_t>(used.size()), 1, [&](int64_t begin, int64_t end) {
        const SolveControl serial;
        Gradients local;
        local.source_points.setZero(x.rows(), x.cols());
        local.target_points.setZero(y.rows(), y.cols());
        local.source_weights.setZero(a.size());
        local.target_weights.setZero(b.size());
        for (int64_t k = begin; k < end; ++k) {
          absl::Status checked = control.Check();
          const Eigen::RowVectorXd theta = result->directions.row(used[k]);
          const Eigen::VectorXd px = x * theta.transpose();
          const Eigen::VectorXd py = y * theta.transpose();
          absl::StatusOr<OneDResult> r =
              checked.ok() ? SolveOneD(px, a, py, b, options.p, serial,
                                       /*compute_plan=*/true)
                           : absl::StatusOr<OneDResult>(checked);
          if (!r.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (status.ok()) status = r.status();
            return;
          }
          const SparsePlan& plan = r->plan;
          for (size_t e = 0; e < plan.values.size(); ++e) {
            const double diff = px(plan.rows[e]) - py(plan.cols[e]);
            const double mag = std::abs(diff);
            const double slope =
                diff == 0.0 ? 0.0
                            : options.p * std::pow(mag, options.p - 1.0) *
                                  (diff > 0 ? 1.0 : -1.0);
            const double w = share * plan.values[e] * slope;
            local.source_points.row(plan.rows[e]) += w * theta;
            local.target_points.row(plan.cols[e]) -= w * theta;
          }
          Eigen::VectorXd f, h;
          TreePotentials(plan, MatrixView(px), MatrixView(py), spec, &f, &h);
          local.source_weights += share * Centred(f);
          local.target_weights += share * Centred(h);
        }
        std::lock_guard<std::mutex> lock(mu);
        g.source_points += local.source_points;
        g.target_points += local.target_points;
        g.source_weights += local.source_weights;
        g.target_weights += local.target_weights;
      });
  return status;
}

}  // namespace

const SlicedKernels& CpuSlicedKernels() {
  static const CpuSliced kernels;
  return kernels;
}

const SlicedKernels& SlicedKernelsFor(const SolveControl& control) {
  const SlicedKernels* set = control.sliced_kernels();
  return set ? *set : CpuSlicedKernels();
}

absl::Status SlicedOptions::Validate() const {
  if (num_directions < 1 || num_directions > 1'000'000) {
    return InvalidField(
        "options.num_directions",
        absl::StrCat("must be in [1, 1e6], got ", num_directions));
  }
  if (!(std::isfinite(p) && p >= 1.0)) {
    return InvalidField("cost.p", absl::StrCat("must be >= 1, got ", p));
  }
  return absl::OkStatus();
}

absl::StatusOr<SlicedResult> SolveSliced(
    const MatrixView& x, const VectorView& a, const MatrixView& y,
    const VectorView& b, const SlicedOptions& options,
    const std::optional<MatrixView>& directions, const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  const Eigen::Index d = x.cols();
  if (y.cols() != d) {
    return absl::InvalidArgumentError("source and target dimensions differ");
  }
  RETURN_IF_ERROR(ValidateWeights(a, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target.weights"));
  RETURN_IF_ERROR(ValidateBalanced(a, b));
  if (x.rows() != a.size() || y.rows() != b.size()) {
    return absl::InvalidArgumentError("points and weights differ in length");
  }
  if (!x.allFinite() || !y.allFinite()) {
    return absl::InvalidArgumentError("points must be finite");
  }
  SlicedResult result;
  if (directions) {
    if (directions->cols() != d || directions->rows() < 1) {
      return InvalidField(
          "options.directions",
          absl::StrCat("must have ", d, " columns (the dimension)"));
    }
    result.directions = *directions;
  } else {
    std::mt19937_64 rng(options.seed);
    std::normal_distribution<double> normal;
    result.directions.resize(options.num_directions, d);
    // Drawing many long directions takes seconds: honour cancel per direction
    // (the same draws in the same order as one flat loop).
    for (Eigen::Index l = 0; l < result.directions.rows(); ++l) {
      if (l % 64 == 0) RETURN_IF_ERROR(control.Check());
      for (Eigen::Index k = 0; k < d; ++k)
        result.directions(l, k) = normal(rng);
    }
  }
  for (Eigen::Index l = 0; l < result.directions.rows(); ++l) {
    const double norm = result.directions.row(l).norm();
    if (!(norm > 0.0) || !std::isfinite(norm)) {
      return absl::InvalidArgumentError(
          absl::StrCat("direction ", l, " is zero or not finite"));
    }
    result.directions.row(l) /= norm;
  }
  RETURN_IF_ERROR(SlicedKernelsFor(control).ProjectedCosts(
      x, a, y, b, result.directions, options.p, &result.per_direction,
      control));
  result.value = options.max_sliced ? result.per_direction.maxCoeff()
                                    : result.per_direction.mean();
  if (options.compute_gradients) {
    RETURN_IF_ERROR(AddSlicedGradients(x, a, y, b, options, &result, control));
  }
  result.distance = std::pow(std::max(result.value, 0.0), 1.0 / options.p);
  Summary& s = result.summary;
  s.method = options.max_sliced ? Method::kMaxSliced : Method::kSliced;
  s.termination = Termination::kConverged;
  s.iterations = result.directions.rows();
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
