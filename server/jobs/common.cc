// Shared job helpers.
#include "server/jobs/common.h"

#include "absl/strings/str_cat.h"
#include "core/methods.h"

namespace otserve {

Eigen::VectorXd DecodeLambdas(const ot::v1::BarycenterRequest& request,
                              Violations* v) {
  const int k_count = request.measures_size();
  Eigen::VectorXd lambdas = Eigen::VectorXd::Ones(std::max(k_count, 1));
  if (!request.has_weights()) return lambdas;
  ArrayData w;
  if (!w.Decode(request.weights(), "weights", 1, v)) return lambdas;
  if (w.rows() != k_count) {
    v->Add("weights", "one weight per measure is required");
    return lambdas;
  }
  lambdas = w.vector();
  v->AddStatus(otcore::ValidateWeights(lambdas, "weights"));
  return lambdas;
}

void FillGradients(const otcore::Gradients& g, ot::v1::Gradients* out) {
  FillArray(g.source_points.data(),
            {g.source_points.rows(), g.source_points.cols()},
            out->mutable_source_points());
  FillArray(g.target_points.data(),
            {g.target_points.rows(), g.target_points.cols()},
            out->mutable_target_points());
  if (g.source_weights.size() > 0) {
    FillArray(g.source_weights.data(), {g.source_weights.size()},
              out->mutable_source_weights());
  }
  if (g.target_weights.size() > 0) {
    FillArray(g.target_weights.data(), {g.target_weights.size()},
              out->mutable_target_weights());
  }
  out->set_of(g.of);
  out->set_kind(g.kind);
}

GpuWork TransportGpuWork(const DecodedTransport& decoded, bool plan) {
  const otcore::TransportProblem& p = decoded.problem;
  const otcore::MethodInfo& info =
      otcore::InfoOf(otcore::ResolveMethod(p, decoded.options));
  GpuWork w;
  const bool sliced = info.method == otcore::Method::kSliced ||
                      info.method == otcore::Method::kMaxSliced;
  if (!info.entropic && !sliced) {
    w.unsupported_reason = absl::StrCat(
        "method ", info.name,
        " has no GPU implementation (those with one: sinkhorn, unbalanced, "
        "sliced, max_sliced)");
    return w;
  }
  if (sliced) {
    w.directions =
        p.directions ? p.directions->rows() : decoded.options.num_directions;
  }
  w.supported = true;
  w.n = p.n();
  w.m = p.m();
  w.d = p.x ? p.x->cols() : 0;
  w.dense = !otcore::RunsMatrixFree(p, info);
  w.plan = plan;
  return w;
}

}  // namespace otserve
