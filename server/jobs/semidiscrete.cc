// SemiDiscrete jobs: a sampled source density against a weighted cloud.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/jobs/common.h"
#include "server/jobs/jobs.h"

namespace otserve {

absl::StatusOr<std::unique_ptr<SemiDiscreteJob>> SemiDiscreteJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<SemiDiscreteJob>();
  Violations v;
  otcore::Density& src = job->source_;
  const ot::v1::Density& d = request.source();
  ArrayData low, high, weights;
  switch (d.kind_case()) {
    case ot::v1::Density::kBox:
      src.kind = otcore::Density::Kind::kBox;
      if (low.Decode(d.box().low(), "source.box.low", 1, &v) &&
          high.Decode(d.box().high(), "source.box.high", 1, &v)) {
        src.low = low.vector();
        src.high = high.vector();
      }
      break;
    case ot::v1::Density::kGaussian:
      src.kind = otcore::Density::Kind::kGaussian;
      if (auto g = DecodeGaussian(d.gaussian(), "source.gaussian", &v)) {
        src.components.push_back(*std::move(g));
      }
      break;
    case ot::v1::Density::kMixture:
      src.kind = otcore::Density::Kind::kMixture;
      for (int k = 0; k < d.mixture().components_size(); ++k) {
        if (auto g = DecodeGaussian(
                d.mixture().components(k),
                absl::StrCat("source.mixture.components[", k, "]"), &v)) {
          src.components.push_back(*std::move(g));
        }
      }
      if (weights.Decode(d.mixture().weights(), "source.mixture.weights", 1,
                         &v)) {
        src.component_weights = weights.vector();
      }
      break;
    default:
      v.Add("source", "a density is required: box, gaussian or mixture");
  }
  job->y_.Decode(request.target().points(), "target.points", 2, &v);
  if (request.target().has_weights()) {
    job->b_.Decode(request.target().weights(), "target.weights", 1, &v);
  }
  if (request.has_query_points()) {
    job->query_.Decode(request.query_points(), "query_points", 2, &v);
  }
  DecodeCostSpec(request.cost(), &v, &job->cost_);
  if (!v.empty()) return v.ToStatus();
  otcore::SemiDiscreteOptions& o = job->options_;
  if (request.has_epsilon()) o.epsilon = request.epsilon();
  if (request.has_iterations()) o.iterations = request.iterations();
  if (request.has_batch_size()) o.batch_size = request.batch_size();
  if (request.has_step_size()) o.step_size = request.step_size();
  if (request.has_seed()) o.seed = request.seed();
  if (request.has_evaluation_samples()) {
    o.evaluation_samples = request.evaluation_samples();
  }
  if (request.has_tolerance()) o.tolerance = request.tolerance();
  v.AddStatus(o.Validate());
  v.AddStatus(src.Validate());
  const int64_t m = job->y_.rows();
  CheckMaxPoints(m, "target", context.limits, &v);
  if (src.kind != otcore::Density::Kind::kBox) {
    CheckMaxDenseDimension(src.dimension(), "source", context.limits, &v);
  }
  if (job->b_.present() && job->b_.rows() != m) {
    v.Add("target.weights", "one weight per target point");
  }
  // The work is (iterations x batch + evaluation samples) cost rows of m.
  // (In doubles: iterations x batch_size x m can pass the int64 range.)
  const double work = (static_cast<double>(o.iterations) * o.batch_size +
                       o.evaluation_samples) *
                      static_cast<double>(m) / 100.0;
  CheckMaxCostEntries(static_cast<int64_t>(std::min(work, 9e18)), "iterations",
                      context.limits, &v);
  if (!v.empty()) return v.ToStatus();
  return job;
}

int64_t SemiDiscreteJob::WorkingBytes() const {
  const int64_t d = source_.dimension(), m = y_.rows();
  return 8 * (4096 * d + 4 * m) + y_.owned_bytes() + query_.owned_bytes();
}

absl::Status SemiDiscreteJob::Run(const RunContext& context,
                                  Response* response) const {
  const int64_t m = y_.rows();
  const Eigen::VectorXd uniform = Eigen::VectorXd::Constant(m, 1.0 / m);
  std::optional<otcore::MatrixView> query;
  if (query_.present()) query.emplace(query_.matrix());
  auto r =
      otcore::SolveSemiDiscrete(source_, y_.matrix(),
                                b_.present() ? otcore::VectorView(b_.vector())
                                             : otcore::VectorView(uniform),
                                cost_, options_, query, context.control);
  if (!r.ok()) return r.status();
  FillArray(r->g.data(), {m}, response->mutable_g());
  response->set_value(r->value);
  response->set_standard_error(r->standard_error);
  FillArray(r->cell_masses.data(), {m}, response->mutable_cell_masses());
  response->mutable_assignment()->Assign(r->assignment.begin(),
                                         r->assignment.end());
  FillDiagnostics(r->summary, context.queue_wait, 0, m,
                  response->mutable_diagnostics());
  return absl::OkStatus();
}

}  // namespace otserve
