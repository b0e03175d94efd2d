// One entry point for balanced OT between two measures: picks the method
// (AUTO), forms the cost, runs the solver and returns a uniform result. This is
// what the server calls; the per-family solvers stay usable on their own.
// Thread-compatible: one call per thread; the problem's arrays are only read.
#ifndef OTSERVE_CORE_TRANSPORT_H_
#define OTSERVE_CORE_TRANSPORT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/common/control.h"
#include "core/common/cost.h"
#include "core/common/types.h"
#include "core/entropic/epsilon.h"
#include "core/gaussian/gaussian.h"
#include "core/gradients.h"

namespace otcore {

// AUTO picks EXACT up to this many cost entries (about 5792 x 5792, a 256 MB
// cost matrix), SINKHORN above. Measured on 2-D clouds (2 cores, 2026-11-22):
// the network simplex takes 0.75 s at 3000 x 3000, 3.4 s at 6000 x 6000,
// while Sinkhorn at the default epsilon was as slow and ~100% above the exact
// W2^2 there; so AUTO stays exact as long as the cost fits.
inline constexpr int64_t kAutoExactMaxEntries = int64_t{1} << 25;

// Views of the inputs; nothing is copied unless a layout conversion is needed.
struct TransportProblem {
  // Point clouds x [n, d] and y [m, d]; absent with an explicit cost matrix.
  std::optional<MatrixView> x, y;
  // Weights [n] and [m]; absent means uniform 1/n and 1/m.
  std::optional<VectorView> a, b;
  CostSpec cost;
  // [n, m] when cost.kind == kExplicit.
  std::optional<MatrixView> cost_matrix;
  // METHOD kGaussian: Gaussians given by their parameters instead of points.
  std::optional<Gaussian> source_gaussian, target_gaussian;
  // kSliced / kMaxSliced: given directions [L, d] instead of random ones.
  std::optional<MatrixView> directions;

  int64_t n() const;
  int64_t m() const;
};

struct TransportOptions {
  // kAuto resolves with ChooseMethod (see there).
  Method method = Method::kAuto;
  // Entropic methods: absent value = kDefaultRelativeEpsilon x mean cost.
  EpsilonSpec epsilon;
  // Sinkhorn marginal tolerance (relative L1), in (0, 1). Default 1e-6.
  std::optional<double> tolerance;
  // Sinkhorn iterations (default 10,000) or simplex pivots (default 1e8); in
  // [1, kMaxIterationsCap].
  std::optional<int64_t> max_iterations;
  bool epsilon_scaling = true;
  // kUnbalanced: lambda of the KL marginal penalties (POT's reg_m); required.
  std::optional<double> marginal_relaxation;
  // kSliced / kMaxSliced: random directions and their seed.
  int64_t num_directions = 50;
  uint64_t seed = 0;
  // Return the plan (sparse for EXACT / ONE_D, dense for SINKHORN) and
  // potentials.
  bool compute_plan = false;
  // Return the gradients of the value with respect to the points and weights
  // (core/gradients.h; methods whose MethodInfo says so).
  bool compute_gradients = false;

  // Each given field in range; errors name "options.<field>".
  absl::Status Validate() const;
};

struct TransportResult {
  double value = 0.0;              // <P, C>
  double regularized_value = 0.0;  // SINKHORN: <P, C> + eps KL(P | a b^T)
  // value^(1/p) for costs ||x - y||^p (W_p; SW_p for sliced); 0 for explicit.
  double distance = 0.0;
  // kGaussian with compute_plan: the Monge map x -> A x + b.
  std::optional<LinearMap> linear_map;
  std::optional<SparsePlan> sparse_plan;
  std::optional<RowMatrix> dense_plan;
  Eigen::VectorXd f, g;  // empty for ONE_D
  // With compute_gradients.
  std::optional<Gradients> gradients;
  Summary summary;
};

// The method AUTO resolves to for this problem (documented in the API): 1-D
// for 1-D clouds, EXACT up to kAutoExactMaxEntries cost entries, else
// SINKHORN. The one place AUTO is decided.
Method ChooseMethod(const TransportProblem& problem);

// `options.method`, or ChooseMethod's choice for kAuto.
Method ResolveMethod(const TransportProblem& problem,
                     const TransportOptions& options);

// Every check that needs no solve, in one place: the cost, the shapes, the
// weights, the method against the problem (from its MethodInfo), balanced
// masses and the options. Errors are InvalidField errors naming the API field
// (e.g. "target.weights", "options.epsilon", "method"). SolveTransport runs it
// first; the server runs it before admitting a job.
absl::Status ValidateTransport(const TransportProblem& problem,
                               const TransportOptions& options);

// What a solve will allocate beyond its inputs, known before it starts: the
// server's size limits ask this instead of keeping their own lists.
struct Footprint {
  // Doubles held: the cost matrix and a dense plan (n * m each, 0 when
  // matrix-free), random directions (L * d), d x d covariance work.
  int64_t entries = 0;
  // d of the d x d eigendecompositions it runs (O(d^3), not interruptible);
  // 0 when none.
  int64_t dense_dimension = 0;
  // The request field that sets these sizes (for error messages).
  absl::string_view field = "source";
  // Doubles held only to go faster (the in-memory kernel of small Sinkhorn
  // solves, KernelCache): charged to memory, not to max_cost_entries.
  int64_t cache_entries = 0;
};
// For the resolved method (the MethodInfo's footprint function).
Footprint TransportFootprint(const TransportProblem& problem,
                             const TransportOptions& options);

// Validates, resolves AUTO and runs the method's solver (from the method
// table). Errors: INVALID_ARGUMENT (an InvalidField error), CANCELLED /
// DEADLINE_EXCEEDED.
absl::StatusOr<TransportResult> SolveTransport(const TransportProblem& problem,
                                               const TransportOptions& options,
                                               const SolveControl& control);

// Many independent problems, one result (or error) per problem in
// *results. With kernels that solve batches (a GPU's, set on `control`), the
// balanced Sinkhorn problems between point clouds without a plan go to them
// together (one launch); every other problem is SolveTransport's, one at a
// time, as are the batch's when the kernels fail. Returns CANCELLED /
// DEADLINE_EXCEEDED when the call must fail as a whole.
absl::Status SolveTransportBatch(
    absl::Span<const TransportProblem> problems,
    absl::Span<const TransportOptions> options, const SolveControl& control,
    std::vector<absl::StatusOr<TransportResult>>* results);

// Plan format conversions.
RowMatrix Densify(const SparsePlan& plan, int64_t n, int64_t m);
SparsePlan Sparsify(const MatrixView& plan);

}  // namespace otcore

#endif  // OTSERVE_CORE_TRANSPORT_H_
