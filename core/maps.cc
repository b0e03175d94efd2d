// Barycentric projections and the entropic map.
#include "core/maps.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/methods.h"

namespace otcore {
namespace {

void NormaliseRows(const Eigen::VectorXd& mass, const MatrixView& y,
                   RowMatrix* out) {
  for (Eigen::Index i = 0; i < out->rows(); ++i) {
    if (mass(i) > 0) {
      out->row(i) /= mass(i);
    } else {
      out->row(i) = y.colwise().mean();
    }
  }
}

}  // namespace

RowMatrix BarycentricProjection(const SparsePlan& plan, int64_t n,
                                const MatrixView& y) {
  RowMatrix out = RowMatrix::Zero(n, y.cols());
  Eigen::VectorXd mass = Eigen::VectorXd::Zero(n);
  for (size_t k = 0; k < plan.values.size(); ++k) {
    out.row(plan.rows[k]) += plan.values[k] * y.row(plan.cols[k]);
    mass(plan.rows[k]) += plan.values[k];
  }
  NormaliseRows(mass, y, &out);
  return out;
}

RowMatrix BarycentricProjection(const MatrixView& plan, const MatrixView& y) {
  RowMatrix out = plan * y;
  NormaliseRows(plan.rowwise().sum(), y, &out);
  return out;
}

absl::StatusOr<RowMatrix> EntropicMap(const MatrixView& query,
                                      const MatrixView& y, const VectorView& b,
                                      const VectorView& g, double eps,
                                      const SolveControl& control) {
  if (query.cols() != y.cols()) {
    return absl::InvalidArgumentError(
        "query points and target points differ in dimension");
  }
  if (b.size() != y.rows() || g.size() != y.rows() || !(eps > 0)) {
    return absl::InvalidArgumentError(
        "entropic map needs b [m], g [m], eps > 0");
  }
  const Eigen::ArrayXd base = b.array().log() + g.array() / eps;
  RowMatrix out(query.rows(), y.cols());
  constexpr Eigen::Index kBlock = 64;  // queries between two checks
  const Eigen::Index blocks = (query.rows() + kBlock - 1) / kBlock;
  std::atomic<bool> stopped{false};
  control.ParallelRange(blocks, 1, [&](int64_t begin, int64_t end) {
    Eigen::ArrayXd logits(y.rows());
    for (int64_t blk = begin; blk < end && !stopped.load(); ++blk) {
      if (!control.Check().ok()) {
        stopped = true;
        return;
      }
      const Eigen::Index last = std::min(query.rows(), (blk + 1) * kBlock);
      for (Eigen::Index i = blk * kBlock; i < last; ++i) {
        logits =
            base -
            (y.rowwise() - query.row(i)).rowwise().squaredNorm().array() / eps;
        const double mx = logits.maxCoeff();
        const Eigen::ArrayXd w = (logits - mx).exp();
        out.row(i) = (w.matrix().transpose() * y) / w.sum();
      }
    }
  });
  RETURN_IF_ERROR(control.Check());
  return out;
}

TransportOptions MapOptions(TransportOptions options, bool has_query) {
  options.compute_plan = true;
  if (has_query && options.method == Method::kAuto) {
    options.method = Method::kSinkhorn;
  }
  return options;
}

absl::Status ValidateMap(const TransportProblem& p,
                         const TransportOptions& options,
                         const std::optional<MatrixView>& query,
                         absl::Span<const double> times) {
  if (!p.y) return InvalidField("target.points", "a map needs target points");
  if (!times.empty()) {
    if (query) {
      return InvalidField("interpolation_times",
                          "interpolates the source and target measures: not "
                          "with query_points");
    }
    if (static_cast<int64_t>(times.size()) > kMaxInterpolationTimes) {
      return InvalidField("interpolation_times",
                          absl::StrCat("at most ", kMaxInterpolationTimes,
                                       " times, got ", times.size()));
    }
    for (double t : times) {
      if (!(t >= 0.0 && t <= 1.0)) {
        return InvalidField("interpolation_times",
                            absl::StrCat("must be in [0, 1], got ", t));
      }
    }
  }
  if (query) {
    if (options.method != Method::kSinkhorn) {
      return InvalidField(
          "method",
          "new points are mapped with the entropic map: METHOD_SINKHORN");
    }
    if (p.cost.kind != CostKind::kSqEuclidean) {
      return InvalidField(
          "cost.kind",
          "the entropic map is defined for the squared Euclidean cost");
    }
    if (query->cols() != p.y->cols()) {
      return InvalidField("query_points",
                          "dimension differs from the target points'");
    }
    return absl::OkStatus();
  }
  const PlanKind plan = InfoOf(ResolveMethod(p, options)).plan;
  if (plan != PlanKind::kSparse && plan != PlanKind::kDense) {
    return InvalidField("method",
                        "the barycentric projection needs a method with a "
                        "plan");
  }
  return absl::OkStatus();
}

std::vector<Interpolant> DisplacementInterpolation(
    const TransportProblem& p, const TransportResult& r,
    absl::Span<const double> times) {
  std::vector<Interpolant> out;
  const MatrixView& x = *p.x;
  const MatrixView& y = *p.y;
  RowMatrix image;  // dense plans: the barycentric images T(x_i)
  Eigen::VectorXd mass;
  if (!r.sparse_plan) {
    image = BarycentricProjection(*r.dense_plan, y);
    mass = r.dense_plan->rowwise().sum();
  }
  for (double t : times) {
    Interpolant& it = out.emplace_back();
    it.t = t;
    if (r.sparse_plan) {
      const SparsePlan& plan = *r.sparse_plan;
      const int64_t k = static_cast<int64_t>(plan.values.size());
      it.points.resize(k, x.cols());
      it.weights.resize(k);
      for (int64_t e = 0; e < k; ++e) {
        it.points.row(e) =
            (1.0 - t) * x.row(plan.rows[e]) + t * y.row(plan.cols[e]);
        it.weights(e) = plan.values[e];
      }
    } else {
      it.points = (1.0 - t) * x + t * image;
      it.weights = mass;
    }
  }
  return out;
}

absl::StatusOr<MapResult> SolveMap(const TransportProblem& p,
                                   const TransportOptions& options,
                                   const std::optional<MatrixView>& query,
                                   const SolveControl& control,
                                   absl::Span<const double> times) {
  RETURN_IF_ERROR(ValidateMap(p, options, query, times));
  MapResult out;
  ASSIGN_OR_RETURN(out.transport, SolveTransport(p, options, control));
  const TransportResult& r = out.transport;
  if (query) {
    const Eigen::VectorXd uniform =
        Eigen::VectorXd::Constant(p.m(), 1.0 / p.m());
    ASSIGN_OR_RETURN(out.mapped,
                     EntropicMap(*query, *p.y, p.b ? *p.b : VectorView(uniform),
                                 r.g, r.summary.epsilon, control));
  } else if (r.sparse_plan) {
    out.mapped = BarycentricProjection(*r.sparse_plan, p.n(), *p.y);
  } else {
    out.mapped = BarycentricProjection(*r.dense_plan, *p.y);
  }
  if (!times.empty()) out.interpolants = DisplacementInterpolation(p, r, times);
  return out;
}

}  // namespace otcore
