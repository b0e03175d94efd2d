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
