// Hungarian method, one shortest augmenting path (Dijkstra on reduced costs)
// per row left free by a column-reduction start (Jonker-Volgenant's first
// phase: most rows take their cheapest column at once); potentials keep every
// reduced cost >= 0.
#include "core/exact/assignment.h"

#include <algorithm>
#include <limits>

namespace otcore {

Assignment SolveAssignment(const RowMatrix& cost) {
  const int64_t k = cost.rows();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // 1-based columns; column 0 is a virtual start holding the row being added.
  std::vector<double> u(k + 1, 0.0), v(k + 1, 0.0), min_slack(k + 1);
  std::vector<int64_t> row_of_col(k + 1, 0), prev_col(k + 1, 0);
  std::vector<char> visited(k + 1);
  std::vector<char> assigned(k + 1, 0);
  // Start: v_j = min_i C_ij, u_i = min_j (C_ij - v_j) (feasible duals), and
  // each row takes its tightest column when that column is still free.
  for (int64_t j = 1; j <= k; ++j) {
    double best = kInf;
    for (int64_t i = 0; i < k; ++i) best = std::min(best, cost(i, j - 1));
    v[j] = best;
  }
  for (int64_t i = 1; i <= k; ++i) {
    const double* row = cost.data() + (i - 1) * k;
    double best = kInf;
    int64_t best_j = 1;
    for (int64_t j = 1; j <= k; ++j) {
      if (row[j - 1] - v[j] < best) {
        best = row[j - 1] - v[j];
        best_j = j;
      }
    }
    u[i] = best;
    if (row_of_col[best_j] == 0) {
      row_of_col[best_j] = i;
      assigned[i] = 1;
    }
  }
  // Shortest augmenting paths for the free rows. Price changes are applied
  // lazily: `total` sums the Dijkstra steps' deltas, unvisited slacks are
  // stored plus `total`, and each visited column settles its prices once at
  // the end from the total at its visit. Only unvisited columns are scanned
  // (a compacted list).
  std::vector<int64_t> left(k), visit_order;
  std::vector<double> total_at(k + 1);
  visit_order.reserve(k + 1);
  for (int64_t i = 1; i <= k; ++i) {
    if (assigned[i]) continue;
    row_of_col[0] = i;
    int64_t j0 = 0, n_left = k;
    for (int64_t t = 0; t < k; ++t) left[t] = t + 1;
    std::fill(min_slack.begin(), min_slack.end(), kInf);
    visit_order.clear();
    double total = 0.0;
    // Grow the shortest-path tree until it reaches a free column.
    do {
      visit_order.push_back(j0);
      total_at[j0] = total;
      const int64_t i0 = row_of_col[j0];
      const double* row = cost.data() + (i0 - 1) * k;
      const double base = total - u[i0];
      double best = kInf;
      int64_t best_t = 0;
      for (int64_t t = 0; t < n_left; ++t) {
        const int64_t j = left[t];
        const double reduced = row[j - 1] - v[j] + base;
        if (reduced < min_slack[j]) {
          min_slack[j] = reduced;
          prev_col[j] = j0;
        }
        if (min_slack[j] < best) {
          best = min_slack[j];
          best_t = t;
        }
      }
      total = best;  // the slack of the next column, now 0
      j0 = left[best_t];
      left[best_t] = left[--n_left];
    } while (row_of_col[j0] != 0);
    // Settle the prices of the visited columns and their rows.
    for (int64_t j : visit_order) {
      const double delta = total - total_at[j];
      u[row_of_col[j]] += delta;
      v[j] -= delta;
    }
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
