// Barycentric projections and the entropic map.
#include "core/maps.h"

#include <cmath>
#include <limits>

namespace otcore {
namespace {

void NormaliseRows(const Eigen::VectorXd& mass, const MatrixView& y,
                   RowMatrix* out) {
  for (Eigen::Index i = 0; i < out->rows(); ++i) {
    if (mass(i) > 0) {
      out->row(i) /= mass(i);
    } else {
      out->row(i) = y.colwise().mean();
    }
  }
}

}  // namespace

RowMatrix BarycentricProjection(const SparsePlan& plan, int64_t n,
                                const MatrixView& y) {
  RowMatrix out = RowMatrix::Zero(n, y.cols());
  Eigen::VectorXd mass = Eigen::VectorXd::Zero(n);
  for (size_t k = 0; k < plan.values.size(); ++k) {
    out.row(plan.rows[k]) += plan.values[k] * y.row(plan.cols[k]);
    mass(plan.rows[k]) += plan.values[k];
  }
  NormaliseRows(mass, y, &out);
  return out;
}

RowMatrix BarycentricProjection(const MatrixView& plan, const MatrixView& y) {
  RowMatrix out = plan * y;
  NormaliseRows(plan.rowwise().sum(), y, &out);
  return out;
}

absl::StatusOr<RowMatrix> EntropicMap(const MatrixView& query,
                                      const MatrixView& y, const VectorView& b,
                                      const VectorView& g, double eps) {
  if (query.cols() != y.cols()) {
    return absl::InvalidArgumentError(
        "query points and target points differ in dimension");
  }
  if (b.size() != y.rows() || g.size() != y.rows() || !(eps > 0)) {
    return absl::InvalidArgumentError(
        "entropic map needs b [m], g [m], eps > 0");
  }
  const Eigen::ArrayXd base = b.array().log() + g.array() / eps;
  RowMatrix out(query.rows(), y.cols());
  Eigen::ArrayXd logits(y.rows());
  for (Eigen::Index i = 0; i < query.rows(); ++i) {
    logits = base -
             (y.rowwise() - query.row(i)).rowwise().squaredNorm().array() / eps;
    const double mx = logits.maxCoeff();
    const Eigen::ArrayXd w = (logits - mx).exp();
    out.row(i) = (w.matrix().transpose() * y) / w.sum();
  }
  return out;
}

}  // namespace otcore
