// Bures-Wasserstein closed forms by symmetric eigendecompositions and, for
// W2, a pivoted LDL^T factorisation.
#include "core/gaussian/gaussian.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/eigen.h"
#include "core/common/status_macros.h"
#include "core/common/symmetric.h"
#include "core/common/validate.h"

namespace otcore {
namespace {

Eigen::MatrixXd PowPsd(const Eigen::MatrixXd& s, double power, double floor) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(0.5 * (s + s.transpose()));
  Eigen::VectorXd values = eig.eigenvalues().cwiseMax(floor);
  values = values.array().pow(power);
  return eig.eigenvectors() * values.asDiagonal() *
         eig.eigenvectors().transpose();
}

// B with S = B B^T, d x rank(S): the Cholesky factor when S is numerically
// definite (blocked, checks `control`), else the pivoted LDL^T factorisation
// (stable for semi-definite S; d^3/3 flops that are not interrupted: 0.4 s
// at d = 2048) whose pivots at rounding level are zeros of S: their columns
// are dropped, else each would add sqrt(rounding) to the Bures sum.
absl::StatusOr<Eigen::MatrixXd> PsdFactor(const Eigen::MatrixXd& s,
                                          const SolveControl* control) {
  absl::StatusOr<Eigen::MatrixXd> chol = CheckedCholesky(s, control);
  if (chol.ok() || !absl::IsFailedPrecondition(chol.status())) return chol;
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(s);
  const Eigen::VectorXd& pivots = ldlt.vectorD();
  const double floor = std::numeric_limits<double>::epsilon() *
                       static_cast<double>(pivots.size()) *
                       std::max(0.0, pivots.maxCoeff());
  std::vector<Eigen::Index> kept;
  for (Eigen::Index i = 0; i < pivots.size(); ++i) {
    if (pivots(i) > floor) kept.push_back(i);
  }
  const Eigen::MatrixXd l = ldlt.matrixL();
  Eigen::MatrixXd b(l.rows(), static_cast<Eigen::Index>(kept.size()));
  for (size_t k = 0; k < kept.size(); ++k) {
    b.col(k) = l.col(kept[k]) * std::sqrt(pivots(kept[k]));
  }
  return Eigen::MatrixXd(ldlt.transpositionsP().transpose() * b);
}

// tr((S1^1/2 S2 S1^1/2)^1/2), the cross term of the Bures distance, as the
// nuclear norm of K = B1^T B2 (S_i = B_i B_i^T): the sum of sqrt(eig(K K^T))
// over the smaller side. No eigenvectors are needed, and every O(d^3) step
// but a semi-definite factorisation checks `control`.
absl::StatusOr<double> BuresCross(const Eigen::MatrixXd& s1,
                                  const Eigen::MatrixXd& s2,
                                  const SolveControl* control) {
  ASSIGN_OR_RETURN(const Eigen::MatrixXd b1, PsdFactor(s1, control));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd b2, PsdFactor(s2, control));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd k,
                   CheckedProduct(b1.transpose(), b2, control));
  const bool rows = k.rows() <= k.cols();
  ASSIGN_OR_RETURN(const Eigen::MatrixXd gram,
                   rows ? CheckedProduct(k, k.transpose(), control)
                        : CheckedProduct(k.transpose(), k, control));
  ASSIGN_OR_RETURN(const Eigen::VectorXd values,
                   SymmetricEigenvalues(gram, control));
  return values.cwiseMax(0.0).cwiseSqrt().sum();
}

}  // namespace

Eigen::MatrixXd SqrtPsd(const Eigen::MatrixXd& s) {
  return PowPsd(s, 0.5, 0.0);
}

absl::Status ValidateGaussian(const Gaussian& g, bool check_psd,
                              const SolveControl* control) {
  const Eigen::Index d = g.mean.size();
  if (d == 0) return absl::InvalidArgumentError("mean is empty");
  if (g.cov.rows() != d || g.cov.cols() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("covariance must be ", d, " x ", d));
  }
  if (!g.mean.allFinite() || !g.cov.allFinite()) {
    return absl::InvalidArgumentError("mean and covariance must be finite");
  }
  // Products of entries must stay finite (W2 squares the means and multiplies
  // covariances).
  if (g.mean.cwiseAbs().maxCoeff() > kMaxGaussianEntry ||
      g.cov.cwiseAbs().maxCoeff() > kMaxGaussianEntry) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entries must be within +-", kMaxGaussianEntry, " (rescale the data)"));
  }
  const double scale = std::max(1.0, g.cov.cwiseAbs().maxCoeff());
  if (!g.cov.isApprox(g.cov.transpose(), 1e-9) &&
      (g.cov - g.cov.transpose()).cwiseAbs().maxCoeff() > 1e-9 * scale) {
    return absl::InvalidArgumentError("covariance is not symmetric");
  }
  if (!check_psd) return absl::OkStatus();
  ASSIGN_OR_RETURN(const Eigen::VectorXd values,
                   SymmetricEigenvalues(g.cov, control));
  if (values.minCoeff() < -1e-9 * scale) {
    return absl::InvalidArgumentError(
        absl::StrCat("covariance is not positive semi-definite (eigenvalue ",
                     values.minCoeff(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Gaussian> FitGaussian(const MatrixView& x, const VectorView& w,
                                     const SolveControl* control) {
  RETURN_IF_ERROR(ValidateWeights(w, "weights"));
  if (x.rows() != w.size()) {
    return absl::InvalidArgumentError("points and weights differ in length");
  }
  const double total = w.sum();
  Gaussian g;
  g.mean = (x.transpose() * w) / total;
  g.cov = Eigen::MatrixXd::Zero(x.cols(), x.cols());
  // Blocks of rows keep each uninterruptible product short (n d^2 flops in
  // all: 10 s at n = 1e5, d = 2048).
  constexpr Eigen::Index kRows = 256;
  RowMatrix centered;
  for (Eigen::Index i = 0; i < x.rows(); i += kRows) {
    RETURN_IF_ERROR(control ? control->Check() : absl::OkStatus());
    const Eigen::Index rows = std::min(kRows, x.rows() - i);
    centered = x.middleRows(i, rows).rowwise() - g.mean.transpose();
    g.cov.noalias() +=
        centered.transpose() * (w.segment(i, rows).asDiagonal() * centered);
  }
  g.cov /= total;
  return g;
}

namespace {
// ValidateGaussian with the error on `field` ("source.gaussian" ...); a
// cancel or deadline passes through unchanged.
absl::Status ValidateNamed(const Gaussian& g, absl::string_view field,
                           const SolveControl* control = nullptr) {
  const absl::Status s = ValidateGaussian(g, /*check_psd=*/true, control);
  if (s.ok() || s.code() != absl::StatusCode::kInvalidArgument) return s;
  return InvalidField(absl::StrCat(field, ".covariance"), s.message());
}
}  // namespace

absl::StatusOr<GaussianW2Result> GaussianW2(const Gaussian& g1,
                                            const Gaussian& g2,
                                            const SolveControl* control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(ValidateNamed(g1, "source.gaussian", control));
  RETURN_IF_ERROR(ValidateNamed(g2, "target.gaussian", control));
  if (g1.mean.size() != g2.mean.size()) {
    return absl::InvalidArgumentError(
        "the Gaussians have different dimensions");
  }
  GaussianW2Result r;
  ASSIGN_OR_RETURN(const double cross, BuresCross(g1.cov, g2.cov, control));
  r.value = std::max(0.0, (g1.mean - g2.mean).squaredNorm() + g1.cov.trace() +
                              g2.cov.trace() - 2.0 * cross);
  r.summary.method = Method::kGaussian;
  r.summary.termination = Termination::kConverged;
  r.summary.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return r;
}

absl::StatusOr<LinearMap> GaussianMongeMap(const Gaussian& g1,
                                           const Gaussian& g2) {
  RETURN_IF_ERROR(ValidateNamed(g1, "source.gaussian"));
  RETURN_IF_ERROR(ValidateNamed(g2, "target.gaussian"));
  if (g1.mean.size() != g2.mean.size()) {
    return absl::InvalidArgumentError(
        "the Gaussians have different dimensions");
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g1.cov,
                                                     Eigen::EigenvaluesOnly);
  const double scale = std::max(1e-300, g1.cov.cwiseAbs().maxCoeff());
  if (eig.eigenvalues().minCoeff() <= 1e-12 * scale) {
    return absl::InvalidArgumentError(
        "the source covariance is singular: the Monge map is not defined");
  }
  const Eigen::MatrixXd half = SqrtPsd(g1.cov);
  const Eigen::MatrixXd inv_half = PowPsd(g1.cov, -0.5, 0.0);
  LinearMap map;
  map.a = inv_half * SqrtPsd(half * g2.cov * half) * inv_half;
  map.a = 0.5 * (map.a + map.a.transpose());
  map.b = g2.mean - map.a * g1.mean;
  return map;
}

absl::Status GaussianBarycenterOptions::Validate() const {
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/true));
  return CheckMaxIterations(max_iterations);
}

absl::StatusOr<GaussianBarycenterResult> GaussianBarycenter(
    const std::vector<Gaussian>& gaussians, const Eigen::VectorXd& lambdas,
    const GaussianBarycenterOptions& options, const SolveControl& control) {
  const absl::Time start = absl::Now();
  if (gaussians.empty()) return absl::InvalidArgumentError("no Gaussians");
  if (lambdas.size() != static_cast<Eigen::Index>(gaussians.size())) {
    return absl::InvalidArgumentError("one weight per Gaussian is needed");
  }
  RETURN_IF_ERROR(ValidateWeights(lambdas, "weights"));
  RETURN_IF_ERROR(options.Validate());
  const Eigen::Index d = gaussians[0].mean.size();
  for (size_t k = 0; k < gaussians.size(); ++k) {
    const Gaussian& g = gaussians[k];
    RETURN_IF_ERROR(control.Check());
    RETURN_IF_ERROR(
        ValidateNamed(g, absl::StrCat("measures[", k, "].gaussian")));
    if (g.mean.size() != d) {
      return absl::InvalidArgumentError(
          "the Gaussians have different dimensions");
    }
  }
  const Eigen::VectorXd w = lambdas / lambdas.sum();
  GaussianBarycenterResult result;
  Gaussian& bar = result.barycenter;
  bar.mean = Eigen::VectorXd::Zero(d);
  bar.cov = Eigen::MatrixXd::Zero(d, d);
  for (size_t k = 0; k < gaussians.size(); ++k) {
    bar.mean += w(k) * gaussians[k].mean;
    bar.cov += w(k) * gaussians[k].cov;
  }
  Summary& s = result.summary;
  s.method = Method::kGaussian;
  s.termination = Termination::kIterationLimit;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    // S <- S^-1/2 (sum_k w_k (S^1/2 S_k S^1/2)^1/2)^2 S^-1/2.
    const Eigen::MatrixXd half = SqrtPsd(bar.cov);
    const Eigen::MatrixXd inv_half = PowPsd(bar.cov, -0.5, 1e-300);
    Eigen::MatrixXd t = Eigen::MatrixXd::Zero(d, d);
    for (size_t k = 0; k < gaussians.size(); ++k) {
      t += w(k) * SqrtPsd(half * gaussians[k].cov * half);
    }
    Eigen::MatrixXd next = inv_half * t * t * inv_half;
    next = 0.5 * (next + next.transpose());
    const double change =
        (next - bar.cov).norm() / std::max(bar.cov.norm(), 1e-300);
    bar.cov = next;
    s.iterations = it;
    s.stopping_value = change;
    if (!bar.cov.allFinite()) {
      s.termination = Termination::kNumericalError;
      s.message = "non-finite covariance in the fixed-point iteration";
      break;
    }
    if (change <= options.tolerance) {
      s.termination = Termination::kConverged;
      break;
    }
  }
  s.stopping_rule = "relative_covariance_change";
  if (s.termination == Termination::kIterationLimit) {
    s.message = absl::StrCat("relative change ", s.stopping_value,
                             " after max_iterations");
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
