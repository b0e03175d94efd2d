// Log-domain soft-min kernels.
#include "core/entropic/softmin.h"

#include <cmath>
#include <limits>

namespace otcore {
namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
}  // namespace

void RowSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  Eigen::ArrayXd z(c.cols());
  out->resize(c.rows());
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    z = shifted - c.row(i).transpose().array() * inv_eps;
    const double mx = z.maxCoeff();
    (*out)(i) = mx == kNegInf ? std::numeric_limits<double>::infinity()
                              : -eps * (mx + std::log((z - mx).exp().sum()));
  }
}

void ColSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  const Eigen::Index m = c.cols();
  // Two streaming passes: column maxima, then shifted sums (one exp per entry).
  Eigen::ArrayXd mx = Eigen::ArrayXd::Constant(m, kNegInf);
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    if (shifted(i) == kNegInf) continue;
    mx = mx.max(shifted(i) - c.row(i).transpose().array() * inv_eps);
  }
  Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(m);
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    if (shifted(i) == kNegInf) continue;
    sum += ((shifted(i) - c.row(i).transpose().array() * inv_eps) - mx).exp();
  }
  *out = -eps * (mx + sum.log());
}

double GeneralizedKl(const Eigen::ArrayXd& p, const Eigen::ArrayXd& q) {
  double kl = 0.0;
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    if (p(i) > 0.0) kl += p(i) * std::log(p(i) / q(i));
    kl += q(i) - p(i);
  }
  return kl;
}

}  // namespace otcore
