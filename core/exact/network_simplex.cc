// Network simplex for the transportation problem.
//
// Graph: source nodes 0..n-1 (supply a_i), sink nodes n..n+m-1 (demand b_j) and
// an artificial root. Real arcs i -> j are implicit (index i*m + j, cost C_ij),
// so only O(n + m) memory is used beside the cost matrix. Because arcs are
// uncapacitated, non-tree arcs carry no flow, and each node stores the flow of
// the tree arc to its parent. The spanning tree keeps parent / depth / child
// lists; a pivot re-roots the cut subtree and recomputes its potentials and
// depths in one walk. The leaving arc is chosen so the tree stays strongly
// feasible (no cycling).
#include "core/exact/network_simplex.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/simd.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/exact/assignment.h"

namespace otcore {
namespace {

// Uniform problems of equal size up to this many points go to the assignment
// solver: O(k^3) with tiny constants beats the simplex there (measured: 32
// points: 20 us vs 38 us per solve; at 64 the simplex is twice as fast).
constexpr int64_t kAssignmentMaxSize = 40;

constexpr int32_t kNone = -1;

// The simplex state on the positive-weight sub-problem.
class TransportSimplex {
 public:
  TransportSimplex(const double* cost, int64_t stride,
                   const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& cols,
                   const Eigen::VectorXd& supply, const Eigen::VectorXd& demand)
      : cost_(cost),
        stride_(stride),
        rows_(rows),
        cols_(cols),
        supply_(supply),
        demand_(demand),
        n_(static_cast<int32_t>(rows_.size())),
        m_(static_cast<int32_t>(cols_.size())),
        root_(n_ + m_),
        num_arcs_(static_cast<int64_t>(n_) * m_) {
    const int32_t nodes = n_ + m_ + 1;
    parent_.assign(nodes, kNone);
    pred_.assign(nodes, -1);
    up_.assign(nodes, 0);
    flow_.assign(nodes, 0.0);
    pi_.assign(nodes, 0.0);
    depth_.assign(nodes, 0);
    first_child_.assign(nodes, kNone);
    next_sib_.assign(nodes, kNone);
    prev_sib_.assign(nodes, kNone);

    contiguous_ = true;
    for (int32_t j = 0; j < m_; ++j) contiguous_ &= cols_[j] == j;
    SetCostScale();
    for (int32_t u = 0; u < n_ + m_; ++u) {
      const bool source = u < n_;
      parent_[u] = root_;
      pred_[u] = num_arcs_ + u;
      up_[u] = source ? 1 : 0;
      flow_[u] = source ? supply(u) : demand(u - n_);
      pi_[u] = source ? 0.0 : art_cost_;
      depth_[u] = 1;
      AddChild(root_, u);
    }
    block_size_ = std::max<int64_t>(
        10, static_cast<int64_t>(std::ceil(std::sqrt(double(num_arcs_)))));
  }

  // Whether this basis was built for these weights (then it is feasible for
  // any cost on them).
  bool SameWeights(const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& cols,
                   const Eigen::VectorXd& supply,
                   const Eigen::VectorXd& demand) const {
    return rows == rows_ && cols == cols_ && supply == supply_ &&
           demand == demand_;
  }

  // Moves the basis to a new cost of the same shape: potentials (and depths)
  // recomputed down the tree; flows and the tree are kept.
  void Rebind(const double* cost, int64_t stride) {
    cost_ = cost;
    stride_ = stride;
    SetCostScale();
    pi_[root_] = 0.0;
    depth_[root_] = 0;
    for (int32_t c = first_child_[root_]; c != kNone; c = next_sib_[c]) {
      UpdateSubtree(c);
    }
    next_arc_ = 0;
  }

  // Runs pivots until optimal, the cap, or a control stop.
  absl::Status Run(const ExactOptions& options, const SolveControl& control,
                   int64_t* pivots, bool* hit_limit) {
    *hit_limit = false;
    for (int64_t it = 0;; ++it) {
      if (it % options.check_every == 0) RETURN_IF_ERROR(control.Check());
      if (it >= options.max_iterations) {
        *hit_limit = true;
        *pivots = it;
        return absl::OkStatus();
      }
      int32_t s, t;
      if (!FindEnteringArc(&s, &t)) {
        *pivots = it;
        return absl::OkStatus();
      }
      Pivot(s, t);
    }
  }

  // Flow left on artificial arcs (zero for a feasible basis).
  double ArtificialFlow() const {
    double total = 0.0;
    for (int32_t u = 0; u < n_ + m_; ++u) {
      if (pred_[u] >= num_arcs_) total += flow_[u];
    }
    return total;
  }

  // Appends the positive flows on real tree arcs, in original indices.
  void ExtractPlan(SparsePlan* plan) const {
    for (int32_t u = 0; u < n_ + m_; ++u) {
      if (pred_[u] >= num_arcs_ || flow_[u] <= 0.0) continue;
      const int32_t i = static_cast<int32_t>(pred_[u] / m_);
      const int32_t j = static_cast<int32_t>(pred_[u] % m_);
      plan->rows.push_back(rows_[i]);
      plan->cols.push_back(cols_[j]);
      plan->values.push_back(flow_[u]);
    }
  }

  // Dual potentials of the sub-problem: f_i = -pi_i, g_j = pi_j.
  double f(int32_t i) const { return -pi_[i]; }
  double g(int32_t j) const { return pi_[n_ + j]; }

 private:
  // The artificial arcs' cost and the reduced-cost tolerance from the cost.
  void SetCostScale() {
    double max_cost = 0.0;
    for (int32_t i = 0; i < n_; ++i) {
      for (int32_t j = 0; j < m_; ++j) {
        max_cost = std::max(max_cost, std::abs(Cost(i, j)));
      }
    }
    // Artificial arcs root <-> node: cost 0 out of sources, a prohibitive cost
    // into sinks, so they carry flow only while that is unavoidable.
    art_cost_ = (max_cost + 1.0) * (n_ + m_);
    // Reduced costs within this band of zero count as zero (rounding).
    tolerance_ = 1e-12 * std::max(max_cost, 1e-300);
  }

  double Cost(int32_t i, int32_t j) const {
    return cost_[rows_[i] * stride_ + cols_[j]];
  }
  double ArcCost(int64_t arc) const {
    if (arc >= num_arcs_) {
      return arc - num_arcs_ < n_ ? 0.0 : art_cost_;
    }
    return Cost(static_cast<int32_t>(arc / m_), static_cast<int32_t>(arc % m_));
  }

  // Block search (Grigoriadis): scan arcs in blocks from where the last search
  // stopped; take the most negative reduced cost of the first block that has
  // one (the earliest on ties). Blocks are scanned as row segments.
  bool FindEnteringArc(int32_t* s, int32_t* t) {
    double best = -tolerance_;
    int64_t best_arc = -1;
    int64_t pos = next_arc_, scanned = 0, block_left = block_size_;
    while (scanned < num_arcs_) {
      const int32_t i = static_cast<int32_t>(pos / m_);
      const int32_t j = static_cast<int32_t>(pos % m_);
      const int64_t len = std::min(
          {static_cast<int64_t>(m_ - j), block_left, num_arcs_ - scanned});
      ScanSegment(i, j, len, &best, &best_arc);
      scanned += len;
      block_left -= len;
      pos += len;
      if (pos == num_arcs_) pos = 0;
      if (block_left == 0) {
        if (best_arc >= 0) break;
        block_left = block_size_;
      }
    }
    if (best_arc < 0) return false;
    next_arc_ = pos;
    *s = static_cast<int32_t>(best_arc / m_);
    *t = n_ + static_cast<int32_t>(best_arc % m_);
    in_arc_ = best_arc;
    return true;
  }

  // Arcs (i, j .. j + len): the smallest reduced cost below *best (strictly;
  // the earliest on ties) into *best / *best_arc. Without zero-weight targets
  // the row is contiguous and scanned in SIMD packets, lane-wise minima
  // reduced to the scalar scan's choice (the same pivots).
  void ScanSegment(int32_t i, int32_t j, int64_t len, double* best,
                   int64_t* best_arc) const {
    const double pi_i = pi_[i];
    const double* sink_pi = pi_.data() + n_ + j;
    const int64_t arc0 = static_cast<int64_t>(i) * m_ + j;
    int64_t k = 0;
    if (contiguous_) {
      using simd::V8d;
      using simd::V8l;
      const double* c = cost_ + rows_[i] * stride_ + j;
      V8d lane_best = simd::Broadcast(*best);
      V8l lane_k = V8l{} - 1;
      const V8l step = {0, 1, 2, 3, 4, 5, 6, 7};
      for (; k + simd::kLanes <= len; k += simd::kLanes) {
        const V8d rc = (simd::Load(c + k) + pi_i) - simd::Load(sink_pi + k);
        const V8l better = rc < lane_best;
        lane_best = better ? rc : lane_best;
        lane_k = better ? (V8l{} + k) + step : lane_k;
      }
      for (int l = 0; l < simd::kLanes; ++l) {
        if (lane_k[l] < 0) continue;
        if (lane_best[l] < *best ||
            (lane_best[l] == *best && arc0 + lane_k[l] < *best_arc)) {
          *best = lane_best[l];
          *best_arc = arc0 + lane_k[l];
        }
      }
      for (; k < len; ++k) {
        const double rc = (c[k] + pi_i) - sink_pi[k];
        if (rc < *best) {
          *best = rc;
          *best_arc = arc0 + k;
        }
      }
      return;
    }
    for (; k < len; ++k) {
      const double rc =
          (Cost(i, j + static_cast<int32_t>(k)) + pi_i) - sink_pi[k];
      if (rc < *best) {
        *best = rc;
        *best_arc = arc0 + k;
      }
    }
  }

  void Pivot(int32_t first, int32_t second) {
    // The cycle: entering arc first -> second, then the tree path back via
    // join.
    int32_t u = first, v = second;
    while (u != v) {
      if (depth_[u] > depth_[v]) {
        u = parent_[u];
      } else if (depth_[v] > depth_[u]) {
        v = parent_[v];
      } else {
        u = parent_[u];
        v = parent_[v];
      }
    }
    const int32_t join = u;

    // Leaving arc: the last blocking arc in the cycle's direction from join. On
    // the first side flow decreases on arcs pointing up; on the second side on
    // arcs pointing down.
    double delta = std::numeric_limits<double>::infinity();
    int32_t u_out = kNone;
    bool out_on_first = false;
    for (int32_t w = first; w != join; w = parent_[w]) {
      if (up_[w] && flow_[w] < delta) {
        delta = flow_[w];
        u_out = w;
        out_on_first = true;
      }
    }
    for (int32_t w = second; w != join; w = parent_[w]) {
      if (!up_[w] && flow_[w] <= delta) {
        delta = flow_[w];
        u_out = w;
        out_on_first = false;
      }
    }
    // Uncapacitated arcs from sources to sinks cannot form an unbounded cycle,
    // and the artificial arcs always block; u_out is therefore set.

    if (delta > 0.0) {
      for (int32_t w = first; w != join; w = parent_[w]) {
        flow_[w] += up_[w] ? -delta : delta;
      }
      for (int32_t w = second; w != join; w = parent_[w]) {
        flow_[w] += up_[w] ? delta : -delta;
      }
    }

    // u_in is the endpoint of the entering arc inside the subtree cut off by
    // removing u_out's tree arc; that subtree is re-rooted at u_in, under v_in.
    const int32_t u_in = out_on_first ? first : second;
    const int32_t v_in = out_on_first ? second : first;
    RemoveChild(parent_[u_out], u_out);
    int32_t new_parent = v_in;
    int64_t arc = in_arc_;
    uint8_t up = (u_in == first) ? 1 : 0;  // entering arc leaves `first`
    double flow = delta;
    for (int32_t w = u_in;;) {
      const int32_t old_parent = parent_[w];
      const int64_t old_arc = pred_[w];
      const uint8_t old_up = up_[w];
      const double old_flow = flow_[w];
      if (w != u_out) RemoveChild(old_parent, w);
      parent_[w] = new_parent;
      pred_[w] = arc;
      up_[w] = up;
      flow_[w] = flow;
      AddChild(new_parent, w);
      if (w == u_out) break;
      new_parent = w;
      arc = old_arc;
      up = old_up ? 0 : 1;
      flow = old_flow;
      w = old_parent;
    }
    UpdateSubtree(u_in);
  }

  // Recomputes potentials (zero reduced cost on tree arcs) and depths below u.
  void UpdateSubtree(int32_t top) {
    auto visit = [this](int32_t w) {
      const int32_t p = parent_[w];
      const double c = ArcCost(pred_[w]);
      pi_[w] = up_[w] ? pi_[p] - c : pi_[p] + c;
      depth_[w] = depth_[p] + 1;
    };
    visit(top);
    int32_t w = top;
    for (;;) {
      if (first_child_[w] != kNone) {
        w = first_child_[w];
      } else {
        while (w != top && next_sib_[w] == kNone) w = parent_[w];
        if (w == top) return;
        w = next_sib_[w];
      }
      visit(w);
    }
  }

  void AddChild(int32_t p, int32_t c) {
    prev_sib_[c] = kNone;
    next_sib_[c] = first_child_[p];
    if (first_child_[p] != kNone) prev_sib_[first_child_[p]] = c;
    first_child_[p] = c;
  }
  void RemoveChild(int32_t p, int32_t c) {
    if (prev_sib_[c] != kNone) {
      next_sib_[prev_sib_[c]] = next_sib_[c];
    } else {
      first_child_[p] = next_sib_[c];
    }
    if (next_sib_[c] != kNone) prev_sib_[next_sib_[c]] = prev_sib_[c];
    prev_sib_[c] = next_sib_[c] = kNone;
  }

  const double* cost_;
  int64_t stride_;
  const std::vector<int64_t> rows_, cols_;  // sub-problem -> original indices
  const Eigen::VectorXd supply_, demand_;
  const int32_t n_, m_, root_;
  const int64_t num_arcs_;
  double art_cost_ = 0.0;
  double tolerance_ = 0.0;
  int64_t block_size_ = 10;
  // The columns are all of the cost's (no zero-weight target): each row of
  // arcs is contiguous in memory.
  bool contiguous_ = false;
  int64_t next_arc_ = 0;
  int64_t in_arc_ = 0;
  std::vector<int32_t> parent_, depth_, first_child_, next_sib_, prev_sib_;
  std::vector<int64_t> pred_;  // tree arc to the parent
  std::vector<uint8_t> up_;    // 1 if pred_ points from the node to its parent
  std::vector<double> flow_;   // flow on pred_
  std::vector<double> pi_;     // node potentials
};

}  // namespace

struct ExactBasis::State {
  std::unique_ptr<TransportSimplex> simplex;
};
ExactBasis::ExactBasis() = default;
ExactBasis::~ExactBasis() = default;

absl::Status ExactOptions::Validate() const {
  RETURN_IF_ERROR(CheckMaxIterations(max_iterations));
  if (check_every <= 0) return InvalidField("check_every", "must be > 0");
  return absl::OkStatus();
}

absl::StatusOr<ExactResult> SolveExact(const VectorView& a, const VectorView& b,
                                       const MatrixView& cost,
                                       const ExactOptions& options,
                                       const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(ValidateWeights(a, "source.weights"));
  RETURN_IF_ERROR(ValidateWeights(b, "target.weights"));
  RETURN_IF_ERROR(ValidateBalanced(a, b));
  const int64_t n = a.size(), m = b.size();
  if (cost.rows() != n || cost.cols() != m) {
    return absl::InvalidArgumentError(
        absl::StrCat("cost matrix is ", cost.rows(), " x ", cost.cols(),
                     ", expected ", n, " x ", m));
  }
  if (!cost.allFinite()) {
    return absl::InvalidArgumentError("cost matrix has non-finite entries");
  }
  if (n + m >= std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        "too many points for the network simplex");
  }

  // Zero-weight points carry no mass: solve on the rest, then extend the duals.
  std::vector<int64_t> rows, cols;
  for (int64_t i = 0; i < n; ++i)
    if (a(i) > 0) rows.push_back(i);
  for (int64_t j = 0; j < m; ++j)
    if (b(j) > 0) cols.push_back(j);
  const double scale = a.sum() / b.sum();
  Eigen::VectorXd supply(rows.size()), demand(cols.size());
  for (size_t k = 0; k < rows.size(); ++k) supply(k) = a(rows[k]);
  for (size_t k = 0; k < cols.size(); ++k) demand(k) = b(cols[k]) * scale;

  ExactResult result;
  result.f =
      Eigen::VectorXd::Constant(n, std::numeric_limits<double>::infinity());
  result.g =
      Eigen::VectorXd::Constant(m, std::numeric_limits<double>::infinity());
  int64_t pivots = 0;
  bool hit_limit = false;
  double artificial = 0.0;
  const int64_t k = static_cast<int64_t>(rows.size());
  if (k == static_cast<int64_t>(cols.size()) && k <= kAssignmentMaxSize &&
      (supply.array() == supply(0)).all() &&
      (demand.array() == demand(0)).all()) {
    // Two uniform measures of one size: a permutation is optimal, found by
    // the O(k^3) assignment solver (faster for small k; microseconds, so one
    // check of the control before it is enough).
    RETURN_IF_ERROR(control.Check());
    RowMatrix sub(k, k);
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < k; ++c) sub(r, c) = cost(rows[r], cols[c]);
    const Assignment match = SolveAssignment(sub);
    for (int64_t r = 0; r < k; ++r) {
      result.plan.rows.push_back(rows[r]);
      result.plan.cols.push_back(cols[match.col_of_row[r]]);
      result.plan.values.push_back(supply(r));
      result.f(rows[r]) = match.u(r);
      result.g(cols[r]) = match.v(r);
    }
    pivots = k;  // augmenting paths
  } else {
    // A held basis of the same weights is a feasible start; else the
    // artificial one.
    std::unique_ptr<TransportSimplex> owned;
    ExactBasis* basis = options.basis;
    if (basis && !basis->empty() &&
        basis->state()->simplex->SameWeights(rows, cols, supply, demand)) {
      owned = std::move(basis->state()->simplex);
      owned->Rebind(cost.data(), cost.outerStride());
    } else {
      owned = std::make_unique<TransportSimplex>(
          cost.data(), cost.outerStride(), rows, cols, supply, demand);
    }
    TransportSimplex& simplex = *owned;
    RETURN_IF_ERROR(simplex.Run(options, control, &pivots, &hit_limit));
    simplex.ExtractPlan(&result.plan);
    for (size_t r = 0; r < rows.size(); ++r) result.f(rows[r]) = simplex.f(r);
    for (size_t c = 0; c < cols.size(); ++c) result.g(cols[c]) = simplex.g(c);
    artificial = simplex.ArtificialFlow();
    if (basis) {
      if (basis->empty())
        basis->state() = std::make_unique<ExactBasis::State>();
      basis->state()->simplex = std::move(owned);
    }
  }
  // c-transforms for zero-weight points keep f_i + g_j <= C_ij everywhere.
  for (int64_t i = 0; i < n; ++i) {
    if (a(i) > 0) continue;
    for (int64_t j : cols)
      result.f(i) = std::min(result.f(i), cost(i, j) - result.g(j));
  }
  for (int64_t j = 0; j < m; ++j) {
    if (b(j) > 0) continue;
    for (int64_t i = 0; i < n; ++i)
      result.g(j) = std::min(result.g(j), cost(i, j) - result.f(i));
  }
  const double shift =
      (b.dot(result.g) - a.dot(result.f)) / (a.sum() + b.sum());
  result.f.array() += shift;
  result.g.array() -= shift;

  for (size_t k = 0; k < result.plan.values.size(); ++k) {
    result.cost +=
        result.plan.values[k] * cost(result.plan.rows[k], result.plan.cols[k]);
  }
  Summary& s = result.summary;
  s.method = Method::kExact;
  s.iterations = pivots;  // simplex pivots, or augmenting paths
  s.marginal_error = SparseMarginalError(result.plan, a, b);
  if (hit_limit) {
    s.termination = Termination::kIterationLimit;
    s.message =
        absl::StrCat("pivot limit ", options.max_iterations,
                     " reached before optimality; the plan is not optimal",
                     artificial > 0 ? " and violates the marginals" : "");
  } else if (artificial > 1e-9 * a.sum() || !std::isfinite(result.cost)) {
    s.termination = Termination::kNumericalError;
    s.message = absl::StrCat("mass ", artificial,
                             " left on artificial arcs after optimality");
  } else {
    s.termination = Termination::kConverged;
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
