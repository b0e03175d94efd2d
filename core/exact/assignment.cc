// Hungarian method, one shortest augmenting path (Dijkstra on reduced costs)
// per row; potentials keep every reduced cost >= 0.
#include "core/exact/assignment.h"

#include <limits>

namespace otcore {

Assignment SolveAssignment(const RowMatrix& cost) {
  const int64_t k = cost.rows();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // 1-based columns; column 0 is a virtual start holding the row being added.
  std::vector<double> u(k + 1, 0.0), v(k + 1, 0.0), min_slack(k + 1);
  std::vector<int64_t> row_of_col(k + 1, 0), prev_col(k + 1, 0);
  std::vector<char> visited(k + 1);
  for (int64_t i = 1; i <= k; ++i) {
    row_of_col[0] = i;
    int64_t j0 = 0;
    std::fill(min_slack.begin(), min_slack.end(), kInf);
    std::fill(visited.begin(), visited.end(), 0);
    // Grow the shortest-path tree until it reaches a free column.
    do {
      visited[j0] = 1;
      const int64_t i0 = row_of_col[j0];
      const double* row = cost.data() + (i0 - 1) * k;
      double delta = kInf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= k; ++j) {
        if (visited[j]) continue;
        const double reduced = row[j - 1] - u[i0] - v[j];
        if (reduced < min_slack[j]) {
          min_slack[j] = reduced;
          prev_col[j] = j0;
        }
        if (min_slack[j] < delta) {
          delta = min_slack[j];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= k; ++j) {
        if (visited[j]) {
          u[row_of_col[j]] += delta;
          v[j] -= delta;
        } else {
          min_slack[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of_col[j0] != 0);
    // Augment along the path back to the virtual column.
    do {
      const int64_t j1 = prev_col[j0];
      row_of_col[j0] = row_of_col[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  Assignment result;
  result.col_of_row.assign(k, 0);
  result.u.resize(k);
  result.v.resize(k);
  for (int64_t j = 1; j <= k; ++j) result.col_of_row[row_of_col[j] - 1] = j - 1;
  for (int64_t i = 0; i < k; ++i) result.u(i) = u[i + 1];
  for (int64_t j = 0; j < k; ++j) result.v(j) = v[j + 1];
  return result;
}

}  // namespace otcore
