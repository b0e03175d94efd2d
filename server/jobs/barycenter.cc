// The Barycenter job: Gaussian, fixed-support, grid and free-support kinds.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/barycenter/free_support.h"
#include "core/barycenter/grid.h"
#include "core/common/validate.h"
#include "core/entropic/epsilon.h"
#include "core/gaussian/gaussian.h"
#include "server/jobs/common.h"
#include "server/jobs/jobs.h"

namespace otserve {
namespace {

using Request = ot::v1::BarycenterRequest;
using Response = ot::v1::BarycenterResponse;

std::string MeasureField(int k) { return absl::StrCat("measures[", k, "]"); }

class GaussianBarycenterJob final : public BarycenterJob {
 public:
  static absl::StatusOr<std::unique_ptr<BarycenterJob>> Decode(
      const Request& request, const DecodeContext& context) {
    auto job = std::make_unique<GaussianBarycenterJob>();
    Violations v;
    if (request.measures_size() == 0) {
      v.Add("measures", "at least one measure is required");
    }
    job->inputs_.resize(request.measures_size());
    int64_t d0 = -1;
    for (int k = 0; k < request.measures_size(); ++k) {
      const ot::v1::Measure& m = request.measures(k);
      const std::string field = MeasureField(k);
      Input& in = job->inputs_[k];
      int64_t d = 0;
      if (m.has_gaussian()) {
        d = m.gaussian().mean().shape_size() == 1 ? m.gaussian().mean().shape(0)
                                                  : 0;
        CheckMaxDenseDimension(d, field + ".gaussian.mean", context.limits, &v);
        if (!v.empty()) continue;
        // Cheap checks here; positive semi-definiteness in the solver.
        in.gaussian = DecodeGaussian(m.gaussian(), field + ".gaussian", &v);
        if (!in.gaussian) continue;
      } else if (!m.has_points()) {
        v.Add(field + ".points", "points or gaussian parameters are required");
        continue;
      } else {
        // Fitted on the worker (O(n d^2)); bounded before anything is formed.
        in.points = std::make_unique<ArrayData>();
        if (!in.points->Decode(m.points(), field + ".points", 2, &v)) continue;
        d = in.points->cols();
        CheckMaxDenseDimension(d, field + ".points", context.limits, &v);
        if (!v.empty()) continue;
        if (m.has_weights()) {
          in.weights = std::make_unique<ArrayData>();
          if (!in.weights->Decode(m.weights(), field + ".weights", 1, &v)) {
            continue;
          }
          if (in.weights->rows() != in.points->rows()) {
            v.Add(field + ".weights",
                  "length differs from the number of points");
            continue;
          }
          v.AddStatus(otcore::ValidateWeights(in.weights->vector(),
                                              field + ".weights"));
        }
        job->working_bytes_ += 8 * in.points->rows() * (d + 1);
      }
      if (d0 < 0) d0 = d;
      if (d != d0) v.Add(field, "dimension differs from measures[0]");
      job->working_bytes_ += 8 * (5 * d * d + d);
    }
    job->lambdas_ = DecodeLambdas(request, &v);
    CopyStopping(request.options(), &job->options_);
    v.AddStatus(job->options_.Validate());
    if (!v.empty()) return v.ToStatus();
    return job;
  }

  absl::Status Run(const RunContext& context,
                   Response* response) const override {
    std::vector<otcore::Gaussian> gaussians;
    gaussians.reserve(inputs_.size());
    for (const Input& in : inputs_) {
      if (absl::Status s = context.control.Check(); !s.ok()) return s;
      if (in.gaussian) {
        gaussians.push_back(*in.gaussian);
        continue;
      }
      const Eigen::VectorXd uniform =
          Eigen::VectorXd::Constant(in.points->rows(), 1.0 / in.points->rows());
      auto g = otcore::FitGaussian(
          in.points->matrix(),
          in.weights ? otcore::VectorView(in.weights->vector())
                     : otcore::VectorView(uniform),
          &context.control);
      if (!g.ok()) return g.status();
      gaussians.push_back(*std::move(g));
    }
    auto r = otcore::GaussianBarycenter(gaussians, lambdas_, options_,
                                        context.control);
    if (!r.ok()) return r.status();
    const int64_t d = r->barycenter.mean.size();
    const otcore::RowMatrix cov = r->barycenter.cov;
    FillArray(r->barycenter.mean.data(), {d},
              response->mutable_gaussian()->mutable_mean());
    FillArray(cov.data(), {d, d},
              response->mutable_gaussian()->mutable_covariance());
    FillDiagnostics(r->summary, context.queue_wait, gaussians.size(), 1,
                    response->mutable_diagnostics());
    return absl::OkStatus();
  }

 private:
  // One measure: its parameters, or points (and weights) to fit.
  struct Input {
    std::optional<otcore::Gaussian> gaussian;
    std::unique_ptr<ArrayData> points, weights;
  };
  std::vector<Input> inputs_;
  Eigen::VectorXd lambdas_;
  otcore::GaussianBarycenterOptions options_;
};

class FreeSupportBarycenterJob final : public BarycenterJob {
 public:
  static absl::StatusOr<std::unique_ptr<BarycenterJob>> Decode(
      const Request& request, const DecodeContext& context) {
    auto job = std::make_unique<FreeSupportBarycenterJob>();
    Violations v;
    ArrayData x;
    if (!request.has_support()) {
      v.Add("support", "the initial support [k, d] is required");
    } else if (x.Decode(request.support(), "support", 2, &v)) {
      job->x_init_ = x.matrix();
      job->b_ = Eigen::VectorXd::Constant(x.rows(), 1.0 / x.rows());
    }
    if (request.has_support_weights() && job->x_init_.size() > 0) {
      ArrayData w;
      if (w.Decode(request.support_weights(), "support_weights", 1, &v)) {
        if (w.rows() != job->x_init_.rows()) {
          v.Add("support_weights", "one weight per support point is required");
        } else if (v.Check(otcore::ValidateProbability(w.vector(),
                                                       "support_weights"))) {
          job->b_ = w.vector();
        }
      }
    }
    const int k_count = request.measures_size();
    if (k_count == 0) v.Add("measures", "at least one measure is required");
    int64_t total_entries = 0;
    for (int k = 0; k < k_count; ++k) {
      const std::string field = MeasureField(k);
      const ot::v1::Measure& m = request.measures(k);
      ArrayData points, weights;
      if (!m.has_points()) {
        v.Add(field + ".points", "points are required");
        continue;
      }
      if (!points.Decode(m.points(), field + ".points", 2, &v)) continue;
      if (job->x_init_.size() > 0 && points.cols() != job->x_init_.cols()) {
        v.Add(field + ".points", "dimension differs from the support's");
        continue;
      }
      Eigen::VectorXd w =
          Eigen::VectorXd::Constant(points.rows(), 1.0 / points.rows());
      if (m.has_weights() &&
          weights.Decode(m.weights(), field + ".weights", 1, &v)) {
        if (weights.rows() != points.rows()) {
          v.Add(field + ".weights", "one weight per point is required");
          continue;
        }
        if (!v.Check(otcore::ValidateProbability(weights.vector(),
                                                 field + ".weights"))) {
          continue;
        }
        w = weights.vector();
      }
      total_entries +=
          points.rows() * std::max<int64_t>(job->x_init_.rows(), 1);
      job->working_bytes_ += 8 * (points.rows() * (points.cols() + 1));
      job->measures_.emplace_back(points.matrix(), std::move(w));
    }
    CheckMaxCostEntries(total_entries, "measures", context.limits, &v);
    job->working_bytes_ += 8 * 2 * total_entries;  // a cost and a plan each
    job->lambdas_ = DecodeLambdas(request, &v);
    const auto& opt = request.options();
    if (opt.has_epsilon()) job->options_.epsilon = opt.epsilon();
    CopyStopping(opt, &job->options_);
    v.AddStatus(job->options_.Validate());
    if (!v.empty()) return v.ToStatus();
    return job;
  }

  absl::Status Run(const RunContext& context,
                   Response* response) const override {
    auto r = otcore::FreeSupportBarycenter(measures_, lambdas_, x_init_, b_,
                                           options_, context.control);
    if (!r.ok()) return r.status();
    FillArray(r->points.data(), {r->points.rows(), r->points.cols()},
              response->mutable_points());
    FillArray(b_.data(), {b_.size()}, response->mutable_weights());
    FillDiagnostics(r->summary, context.queue_wait, r->points.rows(),
                    r->points.rows(), response->mutable_diagnostics());
    return absl::OkStatus();
  }

 private:
  std::vector<std::pair<otcore::RowMatrix, Eigen::VectorXd>> measures_;
  otcore::RowMatrix x_init_;
  Eigen::VectorXd b_, lambdas_;
  otcore::FreeSupportOptions options_;
};

class GridBarycenterJob final : public BarycenterJob {
 public:
  static absl::StatusOr<std::unique_ptr<BarycenterJob>> Decode(
      const Request& request, const DecodeContext& context) {
    auto job = std::make_unique<GridBarycenterJob>();
    Violations v;
    const int k_count = request.measures_size();
    if (k_count == 0) v.Add("measures", "at least one image is required");
    std::vector<int64_t>& shape = job->shape_;
    for (int k = 0; k < k_count; ++k) {
      const std::string field = MeasureField(k) + ".weights";
      const auto& w = request.measures(k).weights();
      if (!request.measures(k).has_weights()) {
        v.Add(field, "the image is required");
        continue;
      }
      if (k == 0) {
        shape.assign(w.shape().begin(), w.shape().end());
        if (shape.size() != 2 && shape.size() != 3) {
          v.Add(field + ".shape", "images must be 2-D [h, w] or 3-D [h, w, d]");
          break;
        }
        int64_t size = 1;
        for (int64_t d : shape) {
          if (d < 2 || d > 4096) {
            v.Add(field + ".shape", "each axis must have 2..4096 points");
            break;
          }
          size *= d;
        }
        if (!v.empty()) break;
        CheckMaxPoints(size, field + ".shape", context.limits, &v);
        if (!v.empty()) break;
      } else if (std::vector<int64_t>(w.shape().begin(), w.shape().end()) !=
                 shape) {
        v.Add(field + ".shape",
              "all images must have the shape of measures[0]");
        continue;
      }
      ArrayData a;
      if (!a.Decode(w, field, static_cast<int>(shape.size()), &v)) continue;
      int64_t count = 1;
      for (int64_t d : a.shape()) count *= d;
      Eigen::Map<const Eigen::VectorXd> flat(a.data(), count);
      if (!v.Check(otcore::ValidateProbability(flat, field))) continue;
      job->images_.push_back(flat.array());
      job->working_bytes_ += 8 * 4 * count;  // image, potentials, log kernel
    }
    job->lambdas_ = DecodeLambdas(request, &v);
    const auto& opt = request.options();
    if (!opt.has_epsilon()) {
      v.Add("options.epsilon",
            "an absolute epsilon > 0 on the unit grid is required");
    } else {
      job->options_.epsilon = opt.epsilon();
    }
    CopyStopping(opt, &job->options_);
    if (opt.has_epsilon()) v.AddStatus(job->options_.Validate());
    if (!v.empty()) return v.ToStatus();
    return job;
  }

  absl::Status Run(const RunContext& context,
                   Response* response) const override {
    auto r = otcore::GridBarycenter(images_, shape_, lambdas_, options_,
                                    context.control);
    if (!r.ok()) return r.status();
    FillArray(r->image.data(), shape_, response->mutable_weights());
    FillDiagnostics(r->summary, context.queue_wait, r->image.size(),
                    r->image.size(), response->mutable_diagnostics());
    return absl::OkStatus();
  }

 private:
  std::vector<Eigen::ArrayXd> images_;
  std::vector<int64_t> shape_;
  Eigen::VectorXd lambdas_;
  otcore::GridBarycenterOptions options_;
};

class FixedSupportBarycenterJob final : public BarycenterJob {
 public:
  static absl::StatusOr<std::unique_ptr<BarycenterJob>> Decode(
      const Request& request, const DecodeContext& context) {
    auto job = std::make_unique<FixedSupportBarycenterJob>();
    Violations v;
    DecodeCostSpec(request.cost(), &v, &job->spec_);
    const bool explicit_cost = job->spec_.kind == otcore::CostKind::kExplicit;
    // The job views the explicit cost, or the support points whose cost the
    // worker forms (no O(n^2) work on the gRPC thread).
    if (explicit_cost) {
      if (!request.cost().has_matrix()) {
        v.Add("cost.matrix", "required when cost.kind is COST_KIND_EXPLICIT");
      } else {
        job->matrix_.Decode(request.cost().matrix(), "cost.matrix", 2, &v);
      }
    } else if (!request.has_support()) {
      v.Add("support",
            "support points are required unless the cost is explicit");
    } else if (job->support_.Decode(request.support(), "support", 2, &v)) {
      // Low-dimensional supports are reduced matrix-free (no n x n matrix).
      const int64_t n = job->support_.rows();
      if (!otcore::PreferMatrixFree(n, n, job->support_.cols())) {
        CheckMaxCostEntries(n * n, "support", context.limits, &v);
      }
    }
    const int k_count = request.measures_size();
    if (k_count == 0) v.Add("measures", "at least one histogram is required");
    if (!v.empty()) return v.ToStatus();
    const int64_t n =
        explicit_cost ? job->matrix_.rows() : job->support_.rows();
    job->histograms_.resize(n, k_count);
    // Histograms and potentials; the formed cost of dense supports; the
    // Gibbs kernel of the exp-domain path.
    const bool dense =
        explicit_cost || !otcore::PreferMatrixFree(n, n, job->support_.cols());
    const int64_t m = explicit_cost ? job->matrix_.cols() : n;
    job->working_bytes_ =
        8 * (n * k_count * 5 + (dense && !explicit_cost ? n * m : 0) +
             (otcore::FixedSupportUsesKernelMatrix(dense, request.debiased())
                  ? n * m
                  : 0));
    for (int k = 0; k < k_count; ++k) {
      const std::string field = MeasureField(k) + ".weights";
      ArrayData w;
      if (!request.measures(k).has_weights()) {
        v.Add(field, "the histogram is required");
      } else if (w.Decode(request.measures(k).weights(), field, 1, &v)) {
        if (w.rows() != n) {
          v.Add(field, absl::StrCat("has ", w.rows(),
                                    " entries, the support has ", n));
        } else if (v.Check(otcore::ValidateProbability(w.vector(), field))) {
          job->histograms_.col(k) = w.vector();
        }
      }
    }
    job->lambdas_ = DecodeLambdas(request, &v);
    otcore::FixedSupportBarycenterOptions& options = job->options_;
    options.debiased = request.debiased();
    if (options.debiased && explicit_cost &&
        job->matrix_.rows() != job->matrix_.cols()) {
      v.Add("debiased",
            "needs a square cost (barycenter support = input support)");
    }
    const auto& opt = request.options();
    if (opt.has_epsilon()) job->epsilon_.value = opt.epsilon();
    if (opt.epsilon_scale() == ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST) {
      job->epsilon_.scale = otcore::EpsilonScale::kRelativeToMeanCost;
    }
    // The given value (relative or absolute) is checked here; Run resolves it.
    options.epsilon =
        job->epsilon_.value.value_or(otcore::kDefaultRelativeEpsilon);
    CopyStopping(opt, &options);
    v.AddStatus(options.Validate());
    if (!v.empty()) return v.ToStatus();
    return job;
  }

  absl::Status Run(const RunContext& context,
                   Response* response) const override {
    otcore::RowMatrix formed;
    const otcore::CostSource cost =
        support_.present()
            ? otcore::CostSource::ForClouds(support_.matrix(),
                                            support_.matrix(), spec_, &formed)
            : otcore::CostSource::Dense(matrix_.matrix());
    otcore::FixedSupportBarycenterOptions options = options_;
    auto eps = epsilon_.Resolve(epsilon_.relative() ? cost.Mean() : 1.0);
    if (!eps.ok()) return eps.status();
    options.epsilon = *eps;
    auto r = otcore::FixedSupportBarycenter(histograms_, lambdas_, cost,
                                            options, context.control);
    if (!r.ok()) return r.status();
    FillArray(r->weights.data(), {r->weights.size()},
              response->mutable_weights());
    FillDiagnostics(r->summary, context.queue_wait, histograms_.rows(),
                    r->weights.size(), response->mutable_diagnostics());
    return absl::OkStatus();
  }

  GpuWork Gpu() const override {
    GpuWork w;
    w.supported = true;
    const bool clouds = support_.present();
    w.n = w.m = clouds ? support_.rows() : matrix_.rows();
    w.d = clouds ? support_.cols() : 0;
    w.dense = !clouds || !otcore::PreferMatrixFree(w.n, w.m, w.d);
    return w;
  }

 private:
  otcore::CostSpec spec_;
  ArrayData matrix_, support_;
  otcore::RowMatrix histograms_;  // [n, K]
  Eigen::VectorXd lambdas_;
  otcore::EpsilonSpec epsilon_;
  otcore::FixedSupportBarycenterOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BarycenterJob>> BarycenterJob::Decode(
    const Request& request, const DecodeContext& context) {
  switch (request.kind()) {
    case ot::v1::BARYCENTER_KIND_GAUSSIAN:
      return GaussianBarycenterJob::Decode(request, context);
    case ot::v1::BARYCENTER_KIND_FIXED_SUPPORT:
      return FixedSupportBarycenterJob::Decode(request, context);
    case ot::v1::BARYCENTER_KIND_GRID:
      return GridBarycenterJob::Decode(request, context);
    case ot::v1::BARYCENTER_KIND_FREE_SUPPORT:
      return FreeSupportBarycenterJob::Decode(request, context);
    default: {
      Violations v;
      v.Add("kind", "set a BarycenterKind");
      return v.ToStatus();
    }
  }
}

}  // namespace otserve
