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

#include "absl/status/statusor.h"
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
struct MapResult {
  RowMatrix mapped;           // [n, d] or [k, d]
  TransportResult transport;  // value and diagnostics of the solve
};

// The options a map solves with: compute_plan on; with a query, AUTO is
// SINKHORN (the entropic map needs its potential).
TransportOptions MapOptions(TransportOptions options, bool has_query);

// The checks of a map beyond ValidateTransport, for options from MapOptions:
// target points ("target.points"); with a query, METHOD_SINKHORN ("method"),
// the squared Euclidean cost ("cost.kind") and the dimension
// ("query_points"); without, a method with a plan ("method").
absl::Status ValidateMap(const TransportProblem& problem,
                         const TransportOptions& options,
                         const std::optional<MatrixView>& query);

absl::StatusOr<MapResult> SolveMap(const TransportProblem& problem,
                                   const TransportOptions& options,
                                   const std::optional<MatrixView>& query,
                                   const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_MAPS_H_
