// Log-domain iterative Bregman projections for fixed-support barycenters.
#include "core/barycenter/fixed_support.h"

#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/kernels.h"

namespace otcore {
namespace {

// Row blocks of the kernel products handed to the parallel-for.
constexpr int64_t kRowsPerTask = 64;
// Products below kMinProduct (near the subnormal range, where scalings lose
// precision) hand the solve to the log domain.
constexpr double kMinProduct = 1e-280;

// The Bregman iteration in the exp domain on a dense cost (POT's form): the
// Gibbs kernel K = exp(-C / eps) once, then per sweep two products with all
// histograms at once, U = A / (K V) and K^T U, split in row blocks across the
// control's parallel-for. Returns nullopt when a product underflows or
// overflows (then the caller runs the log domain, exact at any epsilon).
absl::StatusOr<std::optional<FixedSupportBarycenterResult>> ExpDomain(
    const Eigen::MatrixXd& a, const Eigen::ArrayXd& w, const MatrixView& cost,
    const FixedSupportBarycenterOptions& options, const SolveControl& control,
    absl::Time start) {
  const Eigen::Index n = cost.rows(), m = cost.cols(), k_count = a.cols();
  const double eps = options.epsilon;
  RowMatrix kernel(n, m);
  control.ParallelRange(n, kRowsPerTask, [&](int64_t begin, int64_t end) {
    kernel.middleRows(begin, end - begin) =
        GibbsExp(-cost.middleRows(begin, end - begin).array() / eps).matrix();
  });
  Eigen::MatrixXd v = Eigen::MatrixXd::Ones(m, k_count), u(n, k_count),
                  ktu(m, k_count);
  Eigen::ArrayXd log_bar(m);
  FixedSupportBarycenterResult result;
  Summary& s = result.summary;
  s.termination = Termination::kIterationLimit;
  s.epsilon = eps;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    control.ParallelRange(n, kRowsPerTask, [&](int64_t begin, int64_t end) {
      const Eigen::Index rows = end - begin;
      u.middleRows(begin, rows).noalias() = kernel.middleRows(begin, rows) * v;
      u.middleRows(begin, rows) =
          a.middleRows(begin, rows).array() / u.middleRows(begin, rows).array();
    });
    if (!u.allFinite() || (u.array() > a.array() / kMinProduct).any()) {
      return std::nullopt;
    }
    control.ParallelRange(m, kRowsPerTask, [&](int64_t begin, int64_t end) {
      ktu.middleRows(begin, end - begin).noalias() =
          kernel.middleCols(begin, end - begin).transpose() * u;
    });
    if (!ktu.allFinite() || !(ktu.array() > kMinProduct).all()) {
      return std::nullopt;
    }
    // bar = prod_k (K^T u_k)^w_k; each plan's second marginal is v_k K^T u_k.
    log_bar = (ktu.array().log().matrix() * w.matrix()).array();
    const Eigen::ArrayXd bar = log_bar.exp();
    double err = 0.0;
    for (Eigen::Index k = 0; k < k_count; ++k) {
      err = std::max(err,
                     (v.col(k).array() * ktu.col(k).array() - bar).abs().sum());
      v.col(k) = (bar / ktu.col(k).array()).matrix();
    }
    if (EndSweep(it, err, options.tolerance, eps, start, control, &s)) break;
  }
  if (s.termination == Termination::kNumericalError) return std::nullopt;
  result.weights = log_bar.exp().matrix();
  FinishSummary(start, &s);
  return result;
}

}  // namespace

bool FixedSupportUsesKernelMatrix(bool dense_cost, bool debiased) {
  return dense_cost && !debiased;
}

absl::Status FixedSupportBarycenterOptions::Validate() const {
  RETURN_IF_ERROR(CheckPositive(epsilon, "options.epsilon"));
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/true));
  return CheckMaxIterations(max_iterations);
}

absl::StatusOr<FixedSupportBarycenterResult> FixedSupportBarycenter(
    const MatrixView& histograms, const VectorView& lambdas,
    const MatrixView& cost, const FixedSupportBarycenterOptions& options,
    const SolveControl& control) {
  return FixedSupportBarycenter(histograms, lambdas, CostSource::Dense(cost),
                                options, control);
}

absl::StatusOr<FixedSupportBarycenterResult> FixedSupportBarycenter(
    const MatrixView& histograms, const VectorView& lambdas,
    const CostSource& cost, const FixedSupportBarycenterOptions& options,
    const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(options.Validate());
  const Eigen::Index n = histograms.rows(), k_count = histograms.cols();
  const Eigen::Index m = cost.cols();
  if (k_count < 1 || lambdas.size() != k_count) {
    return absl::InvalidArgumentError("one weight per histogram is required");
  }
  if (cost.rows() != n) {
    return absl::InvalidArgumentError(
        "cost rows must match the histogram length");
  }
  if (!cost.AllFinite()) {
    return absl::InvalidArgumentError("cost is not finite");
  }
  if (options.debiased && m != n) {
    return absl::InvalidArgumentError(
        "the debiased barycenter needs a square cost");
  }
  RETURN_IF_ERROR(ValidateWeights(lambdas, "weights"));
  std::vector<Eigen::ArrayXd> log_a(k_count);
  for (Eigen::Index k = 0; k < k_count; ++k) {
    const Eigen::VectorXd a = histograms.col(k);
    RETURN_IF_ERROR(
        ValidateProbability(a, absl::StrCat("measures[", k, "].weights")));
    log_a[k] = (a / a.sum()).array().log();
  }
  const Eigen::ArrayXd w = lambdas.array() / lambdas.sum();
  const double eps = options.epsilon;
  // Dense costs on the CPU: the exp-domain products first.
  const bool exp_domain =
      FixedSupportUsesKernelMatrix(cost.is_dense(), options.debiased) &&
      !cost.transposed() && control.entropic_kernels() == nullptr;
  if (exp_domain) {
    Eigen::MatrixXd a(n, k_count);
    for (Eigen::Index k = 0; k < k_count; ++k) a.col(k) = log_a[k].exp();
    ASSIGN_OR_RETURN(auto fast,
                     ExpDomain(a, w, cost.matrix(), options, control, start));
    if (fast) return *std::move(fast);
  }
  const EntropicKernels& kernels = KernelsFor(control);
  const Eigen::ArrayXd zeros_n = Eigen::ArrayXd::Zero(n);
  const Eigen::ArrayXd zeros_m = Eigen::ArrayXd::Zero(m);

  // Scaled potentials: f_k on the input support, g_k on the barycenter support,
  // P_k = exp((f_k + g_k - C) / eps). Each sweep projects every P_k on its
  // first marginal a_k, then all second marginals on their weighted geometric
  // mean.
  std::vector<Eigen::ArrayXd> g(k_count, Eigen::ArrayXd::Zero(m));
  std::vector<Eigen::ArrayXd> log_col(k_count, Eigen::ArrayXd(m));
  std::vector<Eigen::ArrayXd> log_ku(k_count, Eigen::ArrayXd(m));
  Eigen::ArrayXd f(n), soft(m), log_bar(m);
  Eigen::ArrayXd c = Eigen::ArrayXd::Zero(m);  // debiasing correction (log)
  FixedSupportBarycenterResult result;
  Summary& s = result.summary;
  s.termination = Termination::kIterationLimit;
  s.epsilon = eps;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    log_bar.setZero();
    for (Eigen::Index k = 0; k < k_count; ++k) {
      // Two n x m reductions per measure: checked between measures.
      if (k > 0) RETURN_IF_ERROR(control.Check());
      kernels.RowSoftMin(cost, g[k], zeros_m, eps, &f, control);
      f += eps * log_a[k];  // row marginals now equal a_k
      kernels.ColSoftMin(cost, f, zeros_n, eps, &soft, control);
      log_ku[k] = -soft / eps;              // log K^T e^{f / eps}
      log_col[k] = g[k] / eps + log_ku[k];  // log of P_k's second marginal
      // The geometric mean of K^T u_k (equal to that of the marginals without
      // debiasing, where sum_k w_k g_k = 0).
      log_bar += w(k) * log_ku[k];
    }
    if (options.debiased) {
      // c <- (c + log_bar - log K e^c) / 2, ten times (as POT), then bar *=
      // e^c.
      log_bar += c;
      for (int r = 0; r < 10; ++r) {
        RETURN_IF_ERROR(control.Check());
        kernels.RowSoftMin(cost, eps * c, zeros_m, eps, &soft, control);
        c = 0.5 * (c + log_bar + soft / eps);
      }
    }
    // The error of this sweep: how far each second marginal is from the mean.
    const Eigen::ArrayXd bar = log_bar.exp();
    double err = 0.0;
    for (Eigen::Index k = 0; k < k_count; ++k) {
      err = std::max(err, (log_col[k].exp() - bar).abs().sum());
      g[k] = eps * (log_bar - log_ku[k]);
    }
    if (EndSweep(it, err, options.tolerance, eps, start, control, &s)) break;
  }
  result.weights = log_bar.exp().matrix();
  if (exp_domain) {
    s.message = absl::StrCat(s.message, s.message.empty() ? "" : "; ",
                             "log domain (kernel products under/overflowed)");
  }
  FinishSummary(start, &s);
  return result;
}

}  // namespace otcore
