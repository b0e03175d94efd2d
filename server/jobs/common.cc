// Shared job helpers.
#include "server/jobs/common.h"

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

}  // namespace otserve
