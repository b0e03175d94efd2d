// Plan gradients and tree potentials.
#include "core/gradients.h"

#include <cmath>
#include <limits>
#include <vector>

namespace otcore {
namespace {

// d/dx c = coef(|x - y|^2) (x - y).
double Coefficient(double sq, const CostSpec& spec) {
  const double p = spec.Exponent();
  if (p == 2.0) return 2.0;
  if (sq <= 0.0) return 0.0;  // a subgradient at x = y
  return p * std::pow(sq, 0.5 * p - 1.0);
}

// c from |x - y|^2, as PairwiseCost forms it.
double CostOfSquared(double sq, const CostSpec& spec) {
  const double p = spec.Exponent();
  if (p == 2.0) return sq;
  if (p == 1.0) return std::sqrt(sq);
  return std::pow(sq, 0.5 * p);
}

Eigen::ArrayXd CostOfSquaredArray(const Eigen::ArrayXd& sq,
                                  const CostSpec& spec) {
  const double p = spec.Exponent();
  if (p == 2.0) return sq;
  if (p == 1.0) return sq.sqrt();
  return sq.pow(0.5 * p);
}

// Rows per parallel task: each row is a pass over the other cloud.
constexpr int64_t kRowsPerTask = 16;

}  // namespace

Eigen::RowVectorXd CostGradient(const Eigen::RowVectorXd& x,
                                const Eigen::RowVectorXd& y,
                                const CostSpec& spec) {
  const Eigen::RowVectorXd diff = x - y;
  return Coefficient(diff.squaredNorm(), spec) * diff;
}

void EntropicPlanGradient(const MatrixView& x, const MatrixView& y,
                          const CostSpec& spec, const Eigen::ArrayXd& u,
                          const Eigen::ArrayXd& v, double eps, RowMatrix* out,
                          const SolveControl& control) {
  const Eigen::Index n = x.rows(), d = x.cols();
  out->setZero(n, d);
  const Eigen::ArrayXd y_sq = y.rowwise().squaredNorm().array();
  // Rows are independent: each range writes its own rows of `out`.
  control.ParallelRange(n, kRowsPerTask, [&](int64_t begin, int64_t end) {
    Eigen::ArrayXd sq, w;
    for (int64_t i = begin; i < end; ++i) {
      if (u(i) == -std::numeric_limits<double>::infinity()) continue;
      // |x_i - y_j|^2 by the expansion, clamped at 0 against rounding.
      sq = (y_sq + x.row(i).squaredNorm() -
            2.0 * (y * x.row(i).transpose()).array())
               .max(0.0);
      w = (u(i) + v - CostOfSquaredArray(sq, spec) / eps).exp();
      for (Eigen::Index j = 0; j < w.size(); ++j) {
        w(j) *= Coefficient(sq(j), spec);
      }
      // sum_j w_j (x_i - y_j)
      out->row(i) = w.sum() * x.row(i) - (w.matrix().transpose() * y);
    }
  });
}

void SparsePlanGradients(const MatrixView& x, const MatrixView& y,
                         const CostSpec& spec, const SparsePlan& plan,
                         RowMatrix* source, RowMatrix* target) {
  source->setZero(x.rows(), x.cols());
  target->setZero(y.rows(), y.cols());
  for (size_t k = 0; k < plan.values.size(); ++k) {
    const int64_t i = plan.rows[k], j = plan.cols[k];
    const Eigen::RowVectorXd g =
        plan.values[k] * CostGradient(x.row(i), y.row(j), spec);
    source->row(i) += g;
    target->row(j) -= g;  // d/dy c(x - y) = -d/dx
  }
}

void TreePotentials(const SparsePlan& plan, const MatrixView& x,
                    const MatrixView& y, const CostSpec& spec,
                    Eigen::VectorXd* f, Eigen::VectorXd* g) {
  const int64_t n = x.rows(), m = y.rows();
  f->setZero(n);
  g->setZero(m);
  // Adjacency of the support; a breadth-first walk per connected part.
  std::vector<std::vector<std::pair<int64_t, double>>> rows(n), cols(m);
  for (size_t k = 0; k < plan.values.size(); ++k) {
    const int64_t i = plan.rows[k], j = plan.cols[k];
    const double c = CostOfSquared((x.row(i) - y.row(j)).squaredNorm(), spec);
    rows[i].push_back({j, c});
    cols[j].push_back({i, c});
  }
  std::vector<char> seen_row(n, 0), seen_col(m, 0);
  std::vector<std::pair<bool, int64_t>> queue;  // (is_row, index)
  for (int64_t start = 0; start < n; ++start) {
    if (seen_row[start] || rows[start].empty()) continue;
    seen_row[start] = 1;
    queue.assign(1, {true, start});
    for (size_t head = 0; head < queue.size(); ++head) {
      const auto [is_row, at] = queue[head];
      for (const auto& [other, c] : is_row ? rows[at] : cols[at]) {
        if (is_row && !seen_col[other]) {
          seen_col[other] = 1;
          (*g)(other) = c - (*f)(at);
          queue.push_back({false, other});
        } else if (!is_row && !seen_row[other]) {
          seen_row[other] = 1;
          (*f)(other) = c - (*g)(at);
          queue.push_back({true, other});
        }
      }
    }
  }
}

Eigen::VectorXd Centred(const Eigen::VectorXd& v) {
  return v.size() == 0 ? v : Eigen::VectorXd(v.array() - v.mean());
}

}  // namespace otcore
