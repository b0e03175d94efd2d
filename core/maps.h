// Transport maps from solved problems: the barycentric projection of the source
// points, T(x_i) = sum_j P_ij y_j / sum_j P_ij, and the entropic map that moves
// new, unseen points with the Sinkhorn potential g (as OTT-JAX's
// DualPotentials.transport): for the squared Euclidean cost,
//   T(x) = sum_j w_j(x) y_j,  w(x) = softmax_j(log b_j + (g_j - ||x - y_j||^2)
//   / eps),
// which equals x - grad f_eps(x) / 2 and coincides with the barycentric
// projection at the source points. Pure functions; thread-compatible.
#ifndef OTSERVE_CORE_MAPS_H_
#define OTSERVE_CORE_MAPS_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/common/control.h"
#include "core/common/types.h"
#include "core/transport.h"

namespace otcore {

// A source point that carries no mass has no image; its row is the plain mean
// of y.
RowMatrix BarycentricProjection(const SparsePlan& plan, int64_t n,
                                const MatrixView& y);
RowMatrix BarycentricProjection(const MatrixView& plan, const MatrixView& y);

// query [k, d], y [m, d], b [m] > 0 somewhere, g [m], eps > 0. Queries are
// split across the control's parallel-for; cancel and deadlines are honoured
// between blocks of queries.
absl::StatusOr<RowMatrix> EntropicMap(const MatrixView& query,
                                      const MatrixView& y, const VectorView& b,
                                      const VectorView& g, double eps,
                                      const SolveControl& control);

// The map workflow (the Map RPC): solve the transport with its plan, then map
// the source points by the barycentric projection or, given `query` [k, d],
// new points by the entropic map of the Sinkhorn potential g.
// McCann's displacement interpolant at time t in [0, 1] of a solved problem,
// a weighted point cloud: sparse plans (exact, 1-D) give one point (1 - t)
// x_i + t y_j of mass P_ij per non-zero (at most n + m - 1 for a basic plan),
// the geodesic between the measures; dense (entropic) plans give the
// barycentric interpolant (1 - t) x_i + t T(x_i) of mass sum_j P_ij per source
// point.
struct Interpolant {
  double t = 0.0;
  RowMatrix points;
  Eigen::VectorXd weights;
};
// Most times one map call interpolates at.
inline constexpr int64_t kMaxInterpolationTimes = 1024;

struct MapResult {
  RowMatrix mapped;                       // [n, d] or [k, d]
  TransportResult transport;              // value and diagnostics of the solve
  std::vector<Interpolant> interpolants;  // one per time asked for
};

// The options a map solves with: compute_plan on; with a query, AUTO is
// SINKHORN (the entropic map needs its potential).
TransportOptions MapOptions(TransportOptions options, bool has_query);

// The checks of a map beyond ValidateTransport, for options from MapOptions:
// target points ("target.points"); with a query, METHOD_SINKHORN ("method"),
// the squared Euclidean cost ("cost.kind") and the dimension
// ("query_points"); without, a method with a plan ("method").
// Times ("interpolation_times") must be finite, in [0, 1], at most
// kMaxInterpolationTimes, and not given with a query.
absl::Status ValidateMap(const TransportProblem& problem,
                         const TransportOptions& options,
                         const std::optional<MatrixView>& query,
                         absl::Span<const double> times = {});

absl::StatusOr<MapResult> SolveMap(const TransportProblem& problem,
                                   const TransportOptions& options,
                                   const std::optional<MatrixView>& query,
                                   const SolveControl& control,
                                   absl::Span<const double> times = {});

// The interpolants of a solve `r` of `problem` (a plan in r) at `times`.
std::vector<Interpolant> DisplacementInterpolation(
    const TransportProblem& problem, const TransportResult& r,
    absl::Span<const double> times);

}  // namespace otcore

#endif  // OTSERVE_CORE_MAPS_H_
