// Interruptible symmetric eigenvalues and blocked products.
#include "core/common/symmetric.h"

#include <algorithm>
#include <limits>

#include "core/common/status_macros.h"

namespace otcore {
namespace {

absl::Status CheckControl(const SolveControl* control) {
  return control ? control->Check() : absl::OkStatus();
}

constexpr Eigen::Index kBlock = 128;

}  // namespace

absl::StatusOr<Eigen::VectorXd> SymmetricEigenvalues(
    Eigen::MatrixXd a, const SolveControl* control) {
  const Eigen::Index n = a.rows();
  if (n == 0) return Eigen::VectorXd();
  // Scaled to max |a_ij| = 1 (as Eigen's solver does) against over/underflow.
  const double scale =
      a.triangularView<Eigen::Lower>().toDenseMatrix().cwiseAbs().maxCoeff();
  if (scale > 0) a /= scale;
  Eigen::VectorXd diag(n);
  Eigen::VectorXd subdiag(std::max<Eigen::Index>(n - 1, 0));
  Eigen::VectorXd p(n);
  // Householder reduction to tridiagonal form on the lower triangle: column i
  // is reflected onto e_1, then A22 <- A22 - v p^T - p v^T.
  for (Eigen::Index i = 0; i + 1 < n; ++i) {
    // One column is O((d - i)^2) memory traffic: 10 ms at d = 2048.
    RETURN_IF_ERROR(CheckControl(control));
    const Eigen::Index rem = n - i - 1;
    double h = 0.0;
    double beta = 0.0;
    a.col(i).tail(rem).makeHouseholderInPlace(h, beta);
    diag(i) = a(i, i);
    subdiag(i) = beta;
    a(i + 1, i) = 1.0;
    auto v = a.col(i).tail(rem);
    auto a22 = a.bottomRightCorner(rem, rem);
    auto q = p.head(rem);
    q.noalias() = h * (a22.selfadjointView<Eigen::Lower>() * v);
    q += (-0.5 * h * q.dot(v)) * v;
    a22.selfadjointView<Eigen::Lower>().rankUpdate(v, q, -1.0);
  }
  diag(n - 1) = a(n - 1, n - 1);
  RETURN_IF_ERROR(CheckControl(control));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver;
  solver.computeFromTridiagonal(diag, subdiag, Eigen::EigenvaluesOnly);
  if (solver.info() != Eigen::Success) {
    return absl::InternalError("the tridiagonal QR iteration did not converge");
  }
  Eigen::VectorXd values = solver.eigenvalues();
  if (scale > 0) values *= scale;
  return values;
}

absl::StatusOr<Eigen::MatrixXd> CheckedCholesky(Eigen::MatrixXd a,
                                                const SolveControl* control) {
  const Eigen::Index n = a.rows();
  for (Eigen::Index k = 0; k < n; k += kBlock) {
    RETURN_IF_ERROR(CheckControl(control));
    const Eigen::Index b = std::min(kBlock, n - k);
    const Eigen::Index rest = n - k - b;
    Eigen::LLT<Eigen::MatrixXd> llt(a.block(k, k, b, b));
    if (llt.info() != Eigen::Success) {
      return absl::FailedPreconditionError("not positive definite");
    }
    a.block(k, k, b, b) = llt.matrixL();
    if (rest == 0) break;
    // L21 = A21 L11^-T, then A22 <- A22 - L21 L21^T (lower triangle).
    auto l21 = a.block(k + b, k, rest, b);
    a.block(k, k, b, b)
        .transpose()
        .triangularView<Eigen::Upper>()
        .solveInPlace<Eigen::OnTheRight>(l21);
    a.bottomRightCorner(rest, rest)
        .selfadjointView<Eigen::Lower>()
        .rankUpdate(l21, -1.0);
  }
  Eigen::MatrixXd l = a.triangularView<Eigen::Lower>();
  const Eigen::VectorXd pivots = l.diagonal().cwiseAbs2();
  if (n > 0 && pivots.minCoeff() <= std::numeric_limits<double>::epsilon() *
                                        static_cast<double>(n) *
                                        pivots.maxCoeff()) {
    return absl::FailedPreconditionError("numerically singular");
  }
  return l;
}

absl::StatusOr<Eigen::MatrixXd> CheckedProduct(const Eigen::MatrixXd& a,
                                               const Eigen::MatrixXd& b,
                                               const SolveControl* control) {
  Eigen::MatrixXd out(a.rows(), b.cols());
  for (Eigen::Index j = 0; j < b.cols(); j += kBlock) {
    RETURN_IF_ERROR(CheckControl(control));
    const Eigen::Index w = std::min(kBlock, b.cols() - j);
    out.middleCols(j, w).noalias() = a * b.middleCols(j, w);
  }
  return out;
}

}  // namespace otcore
