// Bures-Wasserstein closed forms by symmetric eigendecompositions.
#include "core/gaussian/gaussian.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/eigen.h"
#include "core/common/status_macros.h"
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

// tr((S1^1/2 S2 S1^1/2)^1/2): the cross term of the Bures distance.
double BuresCross(const Eigen::MatrixXd& s1_half, const Eigen::MatrixXd& s2) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(s1_half * s2 * s1_half,
                                                     Eigen::EigenvaluesOnly);
  return eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
}

}  // namespace

Eigen::MatrixXd SqrtPsd(const Eigen::MatrixXd& s) {
  return PowPsd(s, 0.5, 0.0);
}

absl::Status ValidateGaussian(const Gaussian& g, bool check_psd) {
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
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g.cov,
                                                     Eigen::EigenvaluesOnly);
  if (eig.eigenvalues().minCoeff() < -1e-9 * scale) {
    return absl::InvalidArgumentError(
        absl::StrCat("covariance is not positive semi-definite (eigenvalue ",
                     eig.eigenvalues().minCoeff(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Gaussian> FitGaussian(const MatrixView& x, const VectorView& w) {
  RETURN_IF_ERROR(ValidateWeights(w, "weights"));
  if (x.rows() != w.size()) {
    return absl::InvalidArgumentError("points and weights differ in length");
  }
  const double total = w.sum();
  Gaussian g;
  g.mean = (x.transpose() * w) / total;
  const RowMatrix centered = x.rowwise() - g.mean.transpose();
  g.cov = centered.transpose() * w.asDiagonal() * centered / total;
  return g;
}

namespace {
// ValidateGaussian with the error on `field` ("source.gaussian" ...).
absl::Status ValidateNamed(const Gaussian& g, absl::string_view field) {
  const absl::Status s = ValidateGaussian(g);
  if (s.ok()) return s;
  return InvalidField(absl::StrCat(field, ".covariance"), s.message());
}
}  // namespace

absl::StatusOr<GaussianW2Result> GaussianW2(const Gaussian& g1,
                                            const Gaussian& g2,
                                            const SolveControl* control) {
  const absl::Time start = absl::Now();
  auto check = [control]() {
    return control ? control->Check() : absl::OkStatus();
  };
  RETURN_IF_ERROR(ValidateNamed(g1, "source.gaussian"));
  RETURN_IF_ERROR(check());
  RETURN_IF_ERROR(ValidateNamed(g2, "target.gaussian"));
  RETURN_IF_ERROR(check());
  if (g1.mean.size() != g2.mean.size()) {
    return absl::InvalidArgumentError(
        "the Gaussians have different dimensions");
  }
  GaussianW2Result r;
  const Eigen::MatrixXd half = SqrtPsd(g1.cov);
  RETURN_IF_ERROR(check());
  const double cross = BuresCross(half, g2.cov);
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
