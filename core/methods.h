// The method table: one row per transport method with what it returns, what it
// needs and allocates, and its solve function. Dispatch (SolveTransport),
// validation, size limits, capability lists and names are read from it; a new
// method is one row here plus its solver. Immutable; thread-safe.
#ifndef OTSERVE_CORE_METHODS_H_
#define OTSERVE_CORE_METHODS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/common/control.h"
#include "core/common/cost_source.h"
#include "core/common/types.h"
#include "core/entropic/sinkhorn.h"
#include "core/transport.h"

namespace otcore {

// What a method's plan request returns.
enum class PlanKind {
  kNone,       // no plan (sliced): Plan and maps refuse the method
  kSparse,     // a sparse plan (exact, 1-D)
  kDense,      // a dense n x m plan (entropic)
  kLinearMap,  // the Monge map x -> A x + b (Gaussian closed form)
};

// The cost memory a method needs.
enum class CostMemory {
  kNone,                   // no cost matrix (1-D, sliced, closed form)
  kDense,                  // forms or views the n x m cost
  kDenseUnlessMatrixFree,  // point clouds are reduced matrix-free when cheap
};

struct MethodInfo {
  Method method;
  // Stable lower-case name, also the API enum value's (ot.v1.name) option and
  // the clients' --method / method= spelling.
  absl::string_view name;
  PlanKind plan;
  bool potentials;        // returns dual potentials f, g with a plan
  bool needs_clouds;      // point clouds required (no explicit cost)
  bool needs_1d;          // 1-D clouds only
  bool sqeuclidean_only;  // the squared Euclidean cost only
  bool balanced;          // source and target masses must agree
  bool entropic;          // reads epsilon
  bool gradients;         // returns gradients (TransportOptions)
  CostMemory cost_memory;
  // What it will allocate for a problem (TransportFootprint); null for kAuto.
  Footprint (*footprint)(const TransportProblem& problem,
                         const TransportOptions& options);
  // The solver; null for kAuto (resolved before dispatch). Called with a
  // validated problem whose weights are given (uniform filled in).
  absl::StatusOr<TransportResult> (*solve)(const TransportProblem& problem,
                                           const TransportOptions& options,
                                           const SolveControl& control);
};

// Every method, kAuto first, in the order of the Method enum.
absl::Span<const MethodInfo> AllMethods();
// The row of `method` (every Method has one).
const MethodInfo& InfoOf(Method method);

// The Sinkhorn solve of kSinkhorn / kUnbalanced for a problem whose weights
// are given: the cost source (a cloud source by the matrix-free rule, the cost
// formed into *formed otherwise; always matrix-free when `formed` is null) and
// the options, epsilon resolved. FromSinkhorn turns its result into the
// transport result. The one home of these conversions (single and batch).
struct EntropicSetup {
  CostSource source;
  SinkhornOptions options;
};
absl::StatusOr<EntropicSetup> SetUpEntropic(const TransportProblem& problem,
                                            const TransportOptions& options,
                                            RowMatrix* formed);
TransportResult FromSinkhorn(SinkhornResult result,
                             const TransportOptions& options);

// Whether `method` reduces this problem's cost matrix-free (PreferMatrixFree).
bool RunsMatrixFree(const TransportProblem& problem, const MethodInfo& method);

}  // namespace otcore

#endif  // OTSERVE_CORE_METHODS_H_
