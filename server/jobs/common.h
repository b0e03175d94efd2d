// Decoding and encoding pieces shared by several jobs. Thread-compatible.
#ifndef OTSERVE_SERVER_JOBS_COMMON_H_
#define OTSERVE_SERVER_JOBS_COMMON_H_

#include "absl/time/time.h"
#include "core/transport.h"
#include "ot/v1/service.pb.h"
#include "server/convert.h"
#include "server/errors.h"
#include "server/gpu.h"

namespace otserve {

// The barycentric weights lambda_k ("weights"; default all ones), one per
// measure; their values are checked by the core solvers.
Eigen::VectorXd DecodeLambdas(const ot::v1::BarycenterRequest& request,
                              Violations* v);

// options.tolerance and options.max_iterations into a solver's Options, when
// set (the Options' Validate() checks them).
template <typename Options>
void CopyStopping(const ot::v1::SolverOptions& opt, Options* out) {
  if (opt.has_tolerance()) out->tolerance = opt.tolerance();
  if (opt.has_max_iterations()) out->max_iterations = opt.max_iterations();
}

// The gradients message.
void FillGradients(const otcore::Gradients& g, ot::v1::Gradients* out);

// value, regularized_value, distance, diagnostics and gradients.
template <typename Response>
void FillTransport(const otcore::TransportResult& result,
                   const otcore::TransportProblem& problem,
                   absl::Duration queue_wait, Response* response) {
  response->set_value(result.value);
  response->set_regularized_value(result.regularized_value);
  response->set_distance(result.distance);
  FillDiagnostics(result.summary, queue_wait, problem.n(), problem.m(),
                  response->mutable_diagnostics());
  if (result.gradients) {
    FillGradients(*result.gradients, response->mutable_gradients());
  }
}

// What a transport job would run on a GPU: the resolved method must be
// entropic (its reductions are EntropicKernels); `plan`: a dense plan is
// formed.
GpuWork TransportGpuWork(const DecodedTransport& decoded, bool plan);

// The shared fields of the transport requests.
template <typename Request>
TransportFields FieldsOf(const Request& r) {
  return {r.source(), r.target(), r.cost(), r.method(), r.options()};
}

}  // namespace otserve

#endif  // OTSERVE_SERVER_JOBS_COMMON_H_
