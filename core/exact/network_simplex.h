// Exact (unregularised) discrete optimal transport by the primal network
// simplex on the complete bipartite graph, with block-search pivoting (the
// design of LEMON's NetworkSimplex and Bonneel et al.'s solver used by POT's
// ot.emd). Thread-compatible: one call per thread; the inputs are only read.
#ifndef OTSERVE_CORE_EXACT_NETWORK_SIMPLEX_H_
#define OTSERVE_CORE_EXACT_NETWORK_SIMPLEX_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

// The final spanning-tree basis of a network-simplex solve, kept to start the
// next solve of the same weights on another cost (Gromov-Wasserstein's
// conditional-gradient steps): an optimal tree stays a feasible basis when
// only the cost changes, so the next solve recomputes its potentials and
// pivots from there. Thread-compatible; one sequence of solves at a time.
class ExactBasis {
 public:
  ExactBasis();
  ~ExactBasis();
  ExactBasis(const ExactBasis&) = delete;
  ExactBasis& operator=(const ExactBasis&) = delete;
  // Whether a basis is held.
  bool empty() const { return state_ == nullptr; }

  struct State;  // network_simplex.cc
  std::unique_ptr<State>& state() { return state_; }

 private:
  std::unique_ptr<State> state_;
};

struct ExactOptions {
  // Pivot cap. Reaching it returns the current (feasible, suboptimal) basis
  // with converged = false. Default 100,000,000; must be > 0.
  int64_t max_iterations = 100'000'000;
  // Pivots between two SolveControl::Check() calls. Must be > 0.
  int64_t check_every = 1024;
  // When set: the solve starts from the basis held there if it was left by a
  // solve of the same weights, and leaves its own final basis there. Not
  // owned.
  ExactBasis* basis = nullptr;

  absl::Status Validate() const;
};

struct ExactResult {
  // <P, C>.
  double cost = 0.0;
  // At most n + m - 1 non-zeros (a basic solution).
  SparsePlan plan;
  // Dual potentials: f_i + g_j <= C_ij, equality on the support of the plan,
  // <a, f> + <b, g> = cost at optimality; shifted so that <a, f> = <b, g>.
  Eigen::VectorXd f;
  Eigen::VectorXd g;
  Summary summary;
};

// Solves min_P <P, C> s.t. P 1 = a, P^T 1 = b, P >= 0 for a [n], b [m], C [n,
// m]. Errors: INVALID_ARGUMENT (shapes, weights, masses differing by more than
// kMassTolerance, non-finite costs), CANCELLED / DEADLINE_EXCEEDED from
// `control`. Zero weights are allowed. b is rescaled to the mass of a.
absl::StatusOr<ExactResult> SolveExact(const VectorView& a, const VectorView& b,
                                       const MatrixView& cost,
                                       const ExactOptions& options,
                                       const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_EXACT_NETWORK_SIMPLEX_H_
