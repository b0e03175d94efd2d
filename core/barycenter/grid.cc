// Log-domain separable convolutions and the Bregman iteration on grids.
#include "core/barycenter/grid.h"

#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/cost.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"

namespace otcore {
namespace {

using RowArray =
    Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The log Gibbs kernel of one axis of linspace(0, 1, d): -(t_i - t_j)^2 / eps.
RowArray LogKernel(int64_t d, double eps) {
  RowArray k(d, d);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double t = double(i - j) / double(d - 1);
      k(i, j) = -t * t / eps;
    }
  }
  return k;
}

// A result whose summary is ready for the Bregman loop.
GridBarycenterResult StartResult(double eps) {
  GridBarycenterResult result;
  result.summary.termination = Termination::kIterationLimit;
  result.summary.epsilon = eps;
  return result;
}

// log K * exp(img): along each axis, out_i = LSE_j(logk_ij + in_j).
class LogConvolution {
 public:
  LogConvolution(const std::vector<int64_t>& shape, double eps)
      : shape_(shape) {
    for (int64_t d : shape) kernels_.push_back(LogKernel(d, eps));
  }

  // Grid lines along an axis are independent, so they are split across the
  // control's parallel-for; each line writes only its own outputs.
  Eigen::ArrayXd Apply(const Eigen::ArrayXd& img,
                       const SolveControl& control) const {
    Eigen::ArrayXd cur = img, next(img.size());
    int64_t outer = 1, inner = img.size();
    for (size_t axis = 0; axis < shape_.size(); ++axis) {
      const int64_t d = shape_[axis];
      inner /= d;
      const int64_t lines = outer * inner;
      control.ParallelRange(
          lines, /*min_chunk=*/4, [&](int64_t begin, int64_t end) {
            Eigen::ArrayXd line(d), z(d);
            for (int64_t k = begin; k < end; ++k) {
              const int64_t base = (k / inner) * d * inner + k % inner;
              for (int64_t j = 0; j < d; ++j) line(j) = cur(base + j * inner);
              for (int64_t i = 0; i < d; ++i) {
                z = kernels_[axis].row(i).transpose() + line;
                const double mx = z.maxCoeff();
                next(base + i * inner) = mx + std::log((z - mx).exp().sum());
              }
            }
          });
      outer *= d;
      std::swap(cur, next);
    }
    return cur;
  }

 private:
  std::vector<int64_t> shape_;
  std::vector<RowArray> kernels_;
};

// K * img with the Gibbs kernel itself: along each axis one matrix product
// per slice (the fast path; POT's convolutional_barycenter2d works this way).
class ExpConvolution {
 public:
  ExpConvolution(const std::vector<int64_t>& shape, double eps)
      : shape_(shape) {
    for (int64_t d : shape) {
      kernels_.push_back(GibbsExp(LogKernel(d, eps)).matrix());
    }
  }

  Eigen::ArrayXd Apply(const Eigen::ArrayXd& img) const {
    using RowMat =
        Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::ArrayXd cur = img, next(img.size());
    int64_t outer = 1, inner = img.size();
    for (size_t axis = 0; axis < shape_.size(); ++axis) {
      const int64_t d = shape_[axis];
      inner /= d;
      const Eigen::MatrixXd& k = kernels_[axis];
      if (inner == 1) {  // last axis: rows of an outer x d matrix
        Eigen::Map<const RowMat> x(cur.data(), outer, d);
        Eigen::Map<RowMat> y(next.data(), outer, d);
        y.noalias() = x * k.transpose();
      } else {  // each outer slice is a d x inner row-major block
        for (int64_t o = 0; o < outer; ++o) {
          Eigen::Map<const RowMat> x(cur.data() + o * d * inner, d, inner);
          Eigen::Map<RowMat> y(next.data() + o * d * inner, d, inner);
          y.noalias() = k * x;
        }
      }
      outer *= d;
      std::swap(cur, next);
    }
    return cur;
  }

 private:
  std::vector<int64_t> shape_;
  std::vector<Eigen::MatrixXd> kernels_;
};

// The Bregman iteration with scalings v_k = exp(g_k): images are spread over
// the control's parallel-for. Returns nullopt when a kernel product
// underflows or overflows (then the caller runs the log domain).
absl::StatusOr<std::optional<GridBarycenterResult>> ExpDomainBarycenter(
    const std::vector<Eigen::ArrayXd>& a, const std::vector<int64_t>& shape,
    const Eigen::ArrayXd& w, const GridBarycenterOptions& options,
    const SolveControl& control, absl::Time start) {
  const size_t k_count = a.size();
  const int64_t size = a[0].size();
  const ExpConvolution conv(shape, options.epsilon);
  std::vector<Eigen::ArrayXd> v(k_count, Eigen::ArrayXd::Ones(size)),
      ku(k_count);
  Eigen::ArrayXd log_bar(size);
  GridBarycenterResult result = StartResult(options.epsilon);
  Summary& s = result.summary;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    control.ParallelRange(k_count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        ku[k] = conv.Apply(a[k] / conv.Apply(v[k]));
      }
    });
    log_bar.setZero();
    for (size_t k = 0; k < k_count; ++k) {
      if (!ku[k].allFinite() || !(ku[k] > 0).all()) return std::nullopt;
      log_bar += w(k) * ku[k].log();
    }
    const Eigen::ArrayXd bar = log_bar.exp();
    double err = 0.0;
    for (size_t k = 0; k < k_count; ++k) {
      err = std::max(err, (v[k] * ku[k] - bar).abs().sum());
      v[k] = bar / ku[k];
    }
    if (EndSweep(it, err, options.tolerance, options.epsilon, start, control,
                 &s))
      break;
  }
  if (s.termination == Termination::kNumericalError) return std::nullopt;
  result.image = log_bar.exp();
  FinishSummary(start, &s);
  return result;
}

}  // namespace

absl::Status GridBarycenterOptions::Validate() const {
  RETURN_IF_ERROR(CheckPositive(epsilon, "options.epsilon"));
  RETURN_IF_ERROR(CheckTolerance(tolerance, /*below_one=*/true));
  return CheckMaxIterations(max_iterations);
}

absl::StatusOr<GridBarycenterResult> GridBarycenter(
    const std::vector<Eigen::ArrayXd>& images,
    const std::vector<int64_t>& shape, const VectorView& lambdas,
    const GridBarycenterOptions& options, const SolveControl& control) {
  const absl::Time start = absl::Now();
  if (shape.size() != 2 && shape.size() != 3) {
    return absl::InvalidArgumentError("grids must be 2-D or 3-D");
  }
  int64_t size = 1;
  for (int64_t d : shape) {
    if (d < 2)
      return absl::InvalidArgumentError("each grid axis needs >= 2 points");
    size *= d;
  }
  RETURN_IF_ERROR(options.Validate());
  const size_t k_count = images.size();
  if (k_count == 0 || lambdas.size() != static_cast<Eigen::Index>(k_count)) {
    return absl::InvalidArgumentError("one weight per image is required");
  }
  RETURN_IF_ERROR(ValidateWeights(lambdas, "weights"));
  std::vector<Eigen::ArrayXd> log_a(k_count);
  for (size_t k = 0; k < k_count; ++k) {
    if (images[k].size() != size) {
      return absl::InvalidArgumentError(
          absl::StrCat("image ", k, " has the wrong size"));
    }
    RETURN_IF_ERROR(ValidateProbability(
        images[k].matrix(), absl::StrCat("measures[", k, "].weights")));
    // A floor keeps empty pixels finite in the log domain (as POT's stabThr).
    log_a[k] = (images[k] / images[k].sum() + 1e-300).log();
  }
  const Eigen::ArrayXd w = lambdas.array() / lambdas.sum();
  {
    std::vector<Eigen::ArrayXd> a(k_count);
    for (size_t k = 0; k < k_count; ++k) a[k] = log_a[k].exp();
    ASSIGN_OR_RETURN(std::optional<GridBarycenterResult> fast,
                     ExpDomainBarycenter(a, shape, w, options, control, start));
    if (fast) return *std::move(fast);
  }
  // The kernel products left the range of doubles: the log domain is exact.
  const LogConvolution conv(shape, options.epsilon);
  std::vector<Eigen::ArrayXd> g(k_count, Eigen::ArrayXd::Zero(size)),
      log_ku(k_count);
  Eigen::ArrayXd log_bar(size);
  GridBarycenterResult result = StartResult(options.epsilon);
  Summary& s = result.summary;
  for (int64_t it = 1; it <= options.max_iterations; ++it) {
    RETURN_IF_ERROR(control.Check());
    log_bar.setZero();
    for (size_t k = 0; k < k_count; ++k) {
      log_ku[k] = conv.Apply(log_a[k] - conv.Apply(g[k], control), control);
      log_bar += w(k) * log_ku[k];
    }
    const Eigen::ArrayXd bar = log_bar.exp();
    double err = 0.0;
    for (size_t k = 0; k < k_count; ++k) {
      err = std::max(err, ((g[k] + log_ku[k]).exp() - bar).abs().sum());
      g[k] = log_bar - log_ku[k];
    }
    if (EndSweep(it, err, options.tolerance, options.epsilon, start, control,
                 &s))
      break;
  }
  result.image = log_bar.exp();
  s.message = absl::StrCat(s.message, s.message.empty() ? "" : "; ",
                           "log domain (kernel products under/overflowed)");
  FinishSummary(start, &s);
  return result;
}

}  // namespace otcore
