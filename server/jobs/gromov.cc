// The GromovWasserstein job: two spaces given by intra-space costs or by
// points (whose costs the worker forms), optional fused feature cost.
#include "absl/strings/str_cat.h"
#include "core/common/validate.h"
#include "server/jobs/common.h"
#include "server/jobs/jobs.h"

namespace otserve {

int64_t GromovJob::Space::size() const {
  return costs.present() ? costs.rows() : points.rows();
}

absl::StatusOr<std::unique_ptr<GromovJob>> GromovJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<GromovJob>();
  Violations v;
  DecodeCostSpec(request.cost(), &v, &job->spec_);
  if (job->spec_.kind == otcore::CostKind::kExplicit) {
    v.Add("cost.kind",
          "give explicit intra-space costs in source_costs / target_costs");
  }
  struct Side {
    const ot::v1::Measure& measure;
    bool has_costs;
    const ot::v1::Array& costs;
    std::string name;
    Space* space;
  };
  for (const Side& side :
       {Side{request.source(), request.has_source_costs(),
             request.source_costs(), "source", &job->source_},
        Side{request.target(), request.has_target_costs(),
             request.target_costs(), "target", &job->target_}}) {
    Space& s = *side.space;
    if (side.has_costs) {
      if (!s.costs.Decode(side.costs, side.name + "_costs", 2, &v)) continue;
      if (s.costs.rows() != s.costs.cols()) {
        v.Add(side.name + "_costs", "must be square [n, n]");
        continue;
      }
    } else if (side.measure.has_points()) {
      if (!s.points.Decode(side.measure.points(), side.name + ".points", 2,
                           &v)) {
        continue;
      }
    } else {
      v.Add(side.name + ".points",
            "points or " + side.name + "_costs are required");
      continue;
    }
    const int64_t size = s.size();
    CheckMaxPoints(size, side.name, context.limits, &v);
    CheckMaxCostEntries(size * size, side.name + ".points", context.limits, &v);
    if (side.measure.has_weights()) {
      const std::string field = side.name + ".weights";
      if (s.weights.Decode(side.measure.weights(), field, 1, &v)) {
        if (s.weights.rows() != size) {
          v.Add(field, absl::StrCat("has ", s.weights.rows(),
                                    " entries, the space has ", size));
        } else {
          v.AddStatus(otcore::ValidateWeights(s.weights.vector(), field));
        }
      }
    } else if (size > 0) {
      s.uniform = Eigen::VectorXd::Constant(size, 1.0 / size);
    }
  }
  otcore::GromovOptions& o = job->options_;
  if (!ot::v1::GromovLoss_IsValid(request.loss())) {
    v.Add("loss", "unknown value");
  }
  o.loss = request.loss() == ot::v1::GROMOV_LOSS_KL ? otcore::GwLoss::kKl
                                                    : otcore::GwLoss::kSquare;
  if (!ot::v1::GromovMethod_IsValid(request.method())) {
    v.Add("method", "unknown value");
  }
  const auto& opt = request.options();
  const bool entropic =
      request.method() == ot::v1::GROMOV_METHOD_ENTROPIC ||
      (request.method() == ot::v1::GROMOV_METHOD_UNSPECIFIED &&
       opt.has_epsilon());
  if (entropic) {
    if (!opt.has_epsilon()) {
      v.Add("options.epsilon",
            "the entropic method needs an absolute epsilon > 0");
    } else {
      v.AddStatus(otcore::CheckPositive(opt.epsilon(), "options.epsilon"));
      o.epsilon = opt.epsilon();
    }
  }
  CopyStopping(opt, &o);
  if (request.has_alpha()) o.alpha = request.alpha();
  if (const absl::Status s = o.Validate(); !s.ok()) {
    if (o.loss == otcore::GwLoss::kKl && !entropic) {
      v.Add("loss", "the KL loss is served with GROMOV_METHOD_ENTROPIC only");
    } else {
      v.AddStatus(s);
    }
  }
  if (!v.empty()) return v.ToStatus();
  const int64_t n = job->source_.size(), m = job->target_.size();
  if (o.alpha < 1) {
    if (!request.has_feature_cost()) {
      v.Add("feature_cost", "required for fused GW (alpha < 1)");
    } else if (job->feature_.Decode(request.feature_cost(), "feature_cost", 2,
                                    &v) &&
               (job->feature_.rows() != n || job->feature_.cols() != m)) {
      v.Add("feature_cost", "must be [n, m]");
    }
  }
  CheckMaxCostEntries(n * m, "source", context.limits, &v);
  if (v.empty()) {
    auto weights = [](const Space& s) {
      return s.weights.present() ? otcore::VectorView(s.weights.vector())
                                 : otcore::VectorView(s.uniform);
    };
    v.AddStatus(
        otcore::ValidateBalanced(weights(job->source_), weights(job->target_)));
  }
  if (!v.empty()) return v.ToStatus();
  job->return_plan_ = request.return_plan();
  if (job->return_plan_) {
    if (absl::Status s = CheckResponseBytes(8 * n * m, "the plan",
                                            context.max_message_bytes);
        !s.ok()) {
      return s;
    }
  }
  return job;
}

absl::Status GromovJob::Run(const RunContext& context,
                            Response* response) const {
  // The core views given intra-space costs and forms those of point clouds
  // (here, on the worker).
  auto space = [this](const Space& s) {
    otcore::GromovSpace out;
    if (s.costs.present()) out.costs.emplace(s.costs.matrix());
    if (s.points.present()) out.points.emplace(s.points.matrix());
    out.cost = spec_;
    return out;
  };
  auto weights = [](const Space& s) {
    return s.weights.present() ? otcore::VectorView(s.weights.vector())
                               : otcore::VectorView(s.uniform);
  };
  std::optional<otcore::MatrixView> feature;
  if (feature_.present()) feature.emplace(feature_.matrix());
  auto r =
      otcore::SolveGromov(space(source_), space(target_), weights(source_),
                          weights(target_), feature, options_, context.control);
  if (!r.ok()) return r.status();
  response->set_value(r->value);
  FillDiagnostics(r->summary, context.queue_wait, source_.size(),
                  target_.size(), response->mutable_diagnostics());
  if (return_plan_) {
    FillArray(r->plan.data(), {r->plan.rows(), r->plan.cols()},
              response->mutable_plan());
  }
  return absl::OkStatus();
}

}  // namespace otserve
