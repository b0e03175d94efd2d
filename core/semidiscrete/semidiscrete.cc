// Averaged SGD on the semi-dual; densities sampled from one seeded stream.
#include "core/semidiscrete/semidiscrete.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"

namespace otcore {
namespace {

// c(x, y_j) for every j: the cost row of one sample.
void CostRow(const Eigen::RowVectorXd& x, const MatrixView& y,
             const Eigen::ArrayXd& y_sq, const CostSpec& spec,
             Eigen::ArrayXd* out) {
  Eigen::ArrayXd sq =
      (y_sq + x.squaredNorm() - 2.0 * (y * x.transpose()).array()).max(0.0);
  const double p = spec.Exponent();
  if (p == 2.0) {
    *out = std::move(sq);
  } else if (p == 1.0) {
    *out = sq.sqrt();
  } else {
    *out = sq.pow(0.5 * p);
  }
}

// phi(x, g) and pi(x) (added to `pi` scaled by `weight`) for one cost row.
double Phi(const Eigen::ArrayXd& c, const Eigen::ArrayXd& g,
           const Eigen::ArrayXd& log_b, double eps, double weight,
           Eigen::ArrayXd* pi, Eigen::Index* cell) {
  if (eps == 0.0) {
    Eigen::Index j = 0;
    const double v = (c - g).minCoeff(&j);
    if (pi) (*pi)(j) += weight;
    if (cell) *cell = j;
    return v;
  }
  const Eigen::ArrayXd z = log_b + (g - c) / eps;
  Eigen::Index j = 0;
  const double mx = z.maxCoeff(&j);
  const Eigen::ArrayXd e = (z - mx).exp();
  const double sum = e.sum();
  if (pi) *pi += weight * e / sum;
  if (cell) *cell = j;
  return -eps * (mx + std::log(sum));
}

// A factor L with L L^T = cov (eigen-decomposition: covariances may be
// singular).
Eigen::MatrixXd Factor(const Eigen::MatrixXd& cov) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(cov);
  return es.eigenvectors() *
         es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
}

}  // namespace

int64_t Density::dimension() const {
  if (kind == Kind::kBox) return low.size();
  return components.empty() ? 0 : components[0].mean.size();
}

absl::Status Density::Validate() const {
  if (kind == Kind::kBox) {
    if (low.size() < 1 || high.size() != low.size()) {
      return InvalidField("source.box",
                          "low and high must be [d] arrays of one length");
    }
    for (Eigen::Index k = 0; k < low.size(); ++k) {
      if (!(std::isfinite(low(k)) && std::isfinite(high(k)) &&
            low(k) < high(k))) {
        return InvalidField(
            "source.box",
            absl::StrCat("needs finite low < high, coordinate ", k));
      }
    }
    return absl::OkStatus();
  }
  if (components.empty()) {
    return InvalidField("source.mixture", "has no component");
  }
  if (kind == Kind::kMixture) {
    if (component_weights.size() !=
        static_cast<Eigen::Index>(components.size())) {
      return InvalidField("source.mixture.weights", "one weight per component");
    }
    if (!(component_weights.array() > 0).all() ||
        !component_weights.allFinite()) {
      return InvalidField("source.mixture.weights", "must be finite and > 0");
    }
  }
  const Eigen::Index d = components[0].mean.size();
  for (size_t k = 0; k < components.size(); ++k) {
    if (components[k].mean.size() != d) {
      return InvalidField("source.mixture.components",
                          "components differ in dimension");
    }
    if (absl::Status s = ValidateGaussian(components[k]); !s.ok()) {
      return InvalidField(kind == Kind::kGaussian ? "source.gaussian"
                                                  : "source.mixture.components",
                          s.message());
    }
  }
  return absl::OkStatus();
}

absl::Status SemiDiscreteOptions::Validate() const {
  if (!(std::isfinite(epsilon) && epsilon >= 0.0)) {
    return InvalidField("epsilon", "must be >= 0 (0: unregularised)");
  }
  if (iterations < 1 || iterations > 10'000'000) {
    return InvalidField("iterations", "must be in [1, 1e7]");
  }
  if (batch_size < 1 || batch_size > 100'000) {
    return InvalidField("batch_size", "must be in [1, 1e5]");
  }
  if (!(std::isfinite(step_size) && step_size >= 0.0)) {
    return InvalidField("step_size", "must be >= 0 (0: the default)");
  }
  if (evaluation_samples < 2 || evaluation_samples > 100'000'000) {
    return InvalidField("evaluation_samples", "must be in [2, 1e8]");
  }
  if (!(tolerance > 0.0 && tolerance < 2.0)) {
    return InvalidField("tolerance",
                        "must be in (0, 2) (L1 on the cell masses)");
  }
  return absl::OkStatus();
}

// Draws from one density with its factors computed once.
class Sampler {
 public:
  explicit Sampler(const Density& density) : density_(density) {
    for (const Gaussian& g : density.components) {
      factors_.push_back(Factor(g.cov));
    }
    std::vector<double> w(density.components.size(), 1.0);
    if (density.kind == Density::Kind::kMixture) {
      w.assign(
          density.component_weights.data(),
          density.component_weights.data() + density.component_weights.size());
    }
    pick_ = std::discrete_distribution<size_t>(w.begin(), w.end());
  }

  RowMatrix Draw(int64_t count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int64_t d = density_.dimension();
    RowMatrix out(count, d);
    if (density_.kind == Density::Kind::kBox) {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t k = 0; k < d; ++k) {
          out(i, k) = density_.low(k) +
                      (density_.high(k) - density_.low(k)) * unit(rng);
        }
      }
      return out;
    }
    std::normal_distribution<double> normal;
    Eigen::VectorXd z(d);
    for (int64_t i = 0; i < count; ++i) {
      const size_t c = pick_(rng);
      for (int64_t k = 0; k < d; ++k) z(k) = normal(rng);
      out.row(i) = (density_.components[c].mean + factors_[c] * z).transpose();
    }
    return out;
  }

 private:
  const Density& density_;
  std::vector<Eigen::MatrixXd> factors_;
  std::discrete_distribution<size_t> pick_;
};

RowMatrix SampleDensity(const Density& density, int64_t count,
                        uint64_t rng_seed) {
  return Sampler(density).Draw(count, rng_seed);
}

absl::StatusOr<SemiDiscreteResult> SolveSemiDiscrete(
    const Density& source, const MatrixView& y, const VectorView& b_in,
    const CostSpec& cost, const SemiDiscreteOptions& o,
    const std::optional<MatrixView>& query, const SolveControl& control) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(source.Validate());
  RETURN_IF_ERROR(o.Validate());
  RETURN_IF_ERROR(cost.Validate());
  if (cost.kind == CostKind::kExplicit) {
    return InvalidField("cost.kind", "needs a cost between points");
  }
  RETURN_IF_ERROR(ValidateWeights(b_in, "target.weights"));
  const int64_t d = source.dimension(), m = y.rows();
  if (y.cols() != d) {
    return InvalidField("target.points",
                        absl::StrCat("dimension ", y.cols(),
                                     " differs from the source density's ", d));
  }
  if (query && query->cols() != d) {
    return InvalidField("query_points", "dimension differs from the target's");
  }
  const Eigen::ArrayXd b = b_in.array() / b_in.sum();
  const Eigen::ArrayXd log_b = b.log();
  const Eigen::ArrayXd y_sq = y.rowwise().squaredNorm().array();
  const double eps = o.epsilon;
  // Independent streams for the steps and the evaluation.
  uint64_t stream = o.seed * 0x9E3779B97F4A7C15ull;
  Sampler sampler(source);
  Eigen::ArrayXd c(m), pi(m);
  double gamma0 = o.step_size;
  if (gamma0 == 0.0) {
    const RowMatrix pilot = sampler.Draw(256, ++stream);
    double mean = 0.0;
    for (Eigen::Index i = 0; i < pilot.rows(); ++i) {
      CostRow(pilot.row(i), y, y_sq, cost, &c);
      mean += c.mean();
    }
    gamma0 = std::max(mean / pilot.rows(), 1e-12) * static_cast<double>(m);
  }
  Eigen::ArrayXd g = Eigen::ArrayXd::Zero(m), g_sum = Eigen::ArrayXd::Zero(m);
  int64_t averaged = 0;
  SemiDiscreteResult result;
  for (int64_t k = 1; k <= o.iterations; ++k) {
    if (k % 64 == 1) RETURN_IF_ERROR(control.Check());
    const RowMatrix batch = sampler.Draw(o.batch_size, ++stream);
    pi.setZero();
    const double weight = 1.0 / static_cast<double>(o.batch_size);
    for (Eigen::Index i = 0; i < batch.rows(); ++i) {
      CostRow(batch.row(i), y, y_sq, cost, &c);
      Phi(c, g, log_b, eps, weight, &pi, nullptr);
    }
    g += gamma0 / std::sqrt(static_cast<double>(k)) * (b - pi);
    // Average the second half of the iterates (their mean converges at the
    // 1 / sqrt(k) rate without the start's transient).
    if (2 * k > o.iterations) {
      g_sum += g;
      ++averaged;
    }
  }
  const Eigen::ArrayXd g_bar = g_sum / std::max<int64_t>(averaged, 1);
  // Evaluation: the semi-dual at g_bar and the cell masses, fresh samples in
  // blocks.
  double sum = 0.0, sum_sq = 0.0;
  Eigen::ArrayXd cells = Eigen::ArrayXd::Zero(m);
  const int64_t total = o.evaluation_samples;
  const double dual_b = (b * g_bar).sum();
  for (int64_t done = 0; done < total;) {
    RETURN_IF_ERROR(control.Check());
    const int64_t count = std::min<int64_t>(4096, total - done);
    const RowMatrix xs = sampler.Draw(count, ++stream);
    for (Eigen::Index i = 0; i < xs.rows(); ++i) {
      CostRow(xs.row(i), y, y_sq, cost, &c);
      const double v = Phi(c, g_bar, log_b, eps,
                           1.0 / static_cast<double>(total), &cells, nullptr) +
                       dual_b;
      sum += v;
      sum_sq += v * v;
    }
    done += count;
  }
  const double n = static_cast<double>(total);
  result.value = sum / n;
  const double var =
      std::max(0.0, (sum_sq - n * result.value * result.value) / (n - 1.0));
  result.standard_error = std::sqrt(var / n);
  result.g = (g_bar - g_bar.mean()).matrix();  // defined up to a constant
  result.cell_masses = cells.matrix();
  if (query) {
    result.assignment.resize(query->rows());
    for (Eigen::Index i = 0; i < query->rows(); ++i) {
      CostRow(query->row(i), y, y_sq, cost, &c);
      Eigen::Index cell = 0;
      Phi(c, g_bar, log_b, eps, 0.0, nullptr, &cell);
      result.assignment[i] = cell;
    }
  }
  Summary& s = result.summary;
  s.iterations = o.iterations;
  s.epsilon = eps;
  // The L1 gap between the estimated cell masses and b (sampling noise
  // included) is the marginal error of the induced transport.
  s.marginal_error = (cells - b).abs().sum();
  s.termination = s.marginal_error <= o.tolerance
                      ? Termination::kConverged
                      : Termination::kIterationLimit;
  if (!std::isfinite(result.value) || !g_bar.allFinite()) {
    s.termination = Termination::kNumericalError;
  }
  if (!s.converged()) {
    s.message =
        absl::StrCat("after ", o.iterations, " SGD steps of ", o.batch_size,
                     " samples the cell masses are ", s.marginal_error,
                     " (L1) from the target weights, over the tolerance ",
                     o.tolerance, ": more iterations or another step_size");
  }
  s.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

}  // namespace otcore
