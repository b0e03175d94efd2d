// Minimum-cost perfect matching on a dense k x k cost (the exact OT problem
// between two uniform measures of the same size, whose optimal plans include a
// permutation): shortest augmenting paths with row/column potentials (the
// Hungarian method in its O(k^3) Jonker-Volgenant form). Faster than the
// network simplex for small k. Pure function; thread-compatible.
#ifndef OTSERVE_CORE_EXACT_ASSIGNMENT_H_
#define OTSERVE_CORE_EXACT_ASSIGNMENT_H_

#include <cstdint>
#include <vector>

#include "core/common/types.h"

namespace otcore {

struct Assignment {
  std::vector<int64_t> col_of_row;  // the optimal permutation
  // Potentials: u_i + v_j <= C_ij, with equality on (i, col_of_row[i]).
  Eigen::VectorXd u, v;
};

// cost: k x k, finite.
Assignment SolveAssignment(const RowMatrix& cost);

}  // namespace otcore

#endif  // OTSERVE_CORE_EXACT_ASSIGNMENT_H_
