// Dense symmetric linear algebra that honours a SolveControl: eigenvalues by
// Householder tridiagonalisation checked every column, Cholesky factors and
// products computed in blocks checked between them. Used where one O(d^3) call
// of Eigen could otherwise hold a worker for seconds after a deadline (the
// Gaussian closed forms). Stateless functions; thread-compatible.
#ifndef OTSERVE_CORE_COMMON_SYMMETRIC_H_
#define OTSERVE_CORE_COMMON_SYMMETRIC_H_

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/eigen.h"

namespace otcore {

// Eigenvalues (ascending) of the symmetric matrix `a` (its lower triangle is
// read). The O(d^3) reduction checks `control` (may be null) every column;
// the O(d^2) tridiagonal QR that follows is not interrupted.
absl::StatusOr<Eigen::VectorXd> SymmetricEigenvalues(
    Eigen::MatrixXd a, const SolveControl* control);

// The lower Cholesky factor L of a positive definite `a` (a = L L^T), by
// blocks of 128 columns with `control` (may be null) checked between them.
// FAILED_PRECONDITION when `a` is not numerically positive definite: a pivot
// <= 0, or below d * epsilon * the largest (a rank-deficient matrix that
// rounding left barely definite).
absl::StatusOr<Eigen::MatrixXd> CheckedCholesky(Eigen::MatrixXd a,
                                                const SolveControl* control);

// a * b in blocks of columns of b, checking `control` (may be null) between
// blocks.
absl::StatusOr<Eigen::MatrixXd> CheckedProduct(const Eigen::MatrixXd& a,
                                               const Eigen::MatrixXd& b,
                                               const SolveControl* control);

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_SYMMETRIC_H_
