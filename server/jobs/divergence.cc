// Divergence and Map jobs: a transport-shaped request plus a post-solve.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/validate.h"
#include "core/entropic/kernel_cache.h"
#include "core/maps.h"
#include "server/jobs/common.h"
#include "server/jobs/jobs.h"

namespace otserve {

absl::StatusOr<std::unique_ptr<DivergenceJob>> DivergenceJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<DivergenceJob>();
  const ot::v1::SolverOptions& opt = request.options();
  // Decoded as the balanced or unbalanced entropic problem it solves.
  const ot::v1::Method method = opt.has_marginal_relaxation()
                                    ? ot::v1::METHOD_UNBALANCED_SINKHORN
                                    : ot::v1::METHOD_SINKHORN;
  absl::Status status = DecodeTransport(
      {request.source(), request.target(), request.cost(), method, opt},
      context.limits, /*compute_plan=*/false, &job->decoded_);
  if (!status.ok()) return status;
  Violations v;
  const otcore::TransportProblem& p = job->decoded_.problem;
  const otcore::TransportOptions& o = job->decoded_.options;
  otcore::DivergenceOptions& options = job->options_;
  switch (request.kind()) {
    case ot::v1::DIVERGENCE_KIND_UNSPECIFIED:
    case ot::v1::DIVERGENCE_KIND_SINKHORN:
      options.kind = otcore::DivergenceKind::kSinkhorn;
      break;
    case ot::v1::DIVERGENCE_KIND_SINKHORN_NO_ENTROPY:
      options.kind = otcore::DivergenceKind::kSinkhornNoEntropy;
      break;
    case ot::v1::DIVERGENCE_KIND_ENERGY:
      options.kind = otcore::DivergenceKind::kEnergy;
      break;
    case ot::v1::DIVERGENCE_KIND_GAUSSIAN_MMD:
      options.kind = otcore::DivergenceKind::kGaussianMmd;
      break;
    case ot::v1::DIVERGENCE_KIND_LAPLACIAN_MMD:
      options.kind = otcore::DivergenceKind::kLaplacianMmd;
      break;
    default:
      v.Add("kind", "unknown value");
  }
  if (request.cost().kind() == ot::v1::COST_KIND_EXPLICIT) {
    v.Add("cost.kind", "divergences need point clouds, not an explicit cost");
    return v.ToStatus();
  }
  if (request.has_blur()) options.blur = request.blur();
  options.epsilon = o.epsilon;
  if (o.tolerance) options.sinkhorn.tolerance = *o.tolerance;
  if (o.max_iterations) options.sinkhorn.max_iterations = *o.max_iterations;
  options.sinkhorn.epsilon_scaling = o.epsilon_scaling;
  options.compute_gradients = o.compute_gradients;
  if (o.marginal_relaxation) {
    options.sinkhorn.marginal_relaxation = *o.marginal_relaxation;
    if (options.kind != otcore::DivergenceKind::kSinkhorn) {
      v.Add("options.marginal_relaxation",
            "the unbalanced divergence is DIVERGENCE_KIND_SINKHORN only");
    }
  }
  if (request.has_blur()) {
    v.AddStatus(otcore::CheckPositive(options.blur, "blur"));
  }
  const int64_t dense =
      otcore::DivergenceDenseEntries(p.n(), p.m(), p.x->cols(), options.kind);
  CheckMaxCostEntries(dense, "source", context.limits, &v);
  if (!v.empty()) return v.ToStatus();
  // The formed costs, and the cross solve's in-memory kernel (KernelCache).
  const int64_t cached =
      otcore::KernelCache::Applies(p.n(), p.m()) ? p.n() * p.m() : 0;
  job->working_bytes_ = job->decoded_.working_bytes + 8 * (dense + cached);
  return job;
}

GpuWork DivergenceJob::Gpu() const {
  GpuWork w;
  if (options_.kind != otcore::DivergenceKind::kSinkhorn &&
      options_.kind != otcore::DivergenceKind::kSinkhornNoEntropy) {
    w.unsupported_reason =
        "only the Sinkhorn divergences have a GPU implementation";
    return w;
  }
  const otcore::TransportProblem& p = decoded_.problem;
  // Three problems (x-y, x-x, y-y), one on the device at a time.
  const int64_t k = std::max(p.n(), p.m());
  w.supported = true;
  w.n = k;
  w.m = k;
  w.d = p.x ? p.x->cols() : 0;
  w.dense = !p.x || !otcore::PreferMatrixFree(k, k, w.d);
  if (!w.dense) {
    // Matrix-free, the three problems run together (fused reductions): all
    // three pairs of clouds with their scratch stay on the device as well.
    const int64_t nm = p.n() + p.m();
    w.held_bytes = w.DeviceBytes() + 8 * (3 * nm * w.d + 3 * nm);
  }
  return w;
}

absl::Status DivergenceJob::Run(const RunContext& context,
                                Response* response) const {
  const otcore::TransportProblem& p = decoded_.problem;
  const Eigen::VectorXd ua = Eigen::VectorXd::Constant(p.n(), 1.0 / p.n());
  const Eigen::VectorXd ub = Eigen::VectorXd::Constant(p.m(), 1.0 / p.m());
  auto result = otcore::SolveDivergence(
      *p.x, p.a ? *p.a : otcore::VectorView(ua), *p.y,
      p.b ? *p.b : otcore::VectorView(ub), p.cost, options_, context.control);
  if (!result.ok()) return result.status();
  response->set_value(result->value);
  response->set_cross_term(result->cross);
  response->set_source_self_term(result->self_source);
  response->set_target_self_term(result->self_target);
  FillDiagnostics(result->summary, context.queue_wait, p.n(), p.m(),
                  response->mutable_diagnostics());
  if (result->gradients) {
    FillGradients(*result->gradients, response->mutable_gradients());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MapJob>> MapJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<MapJob>();
  const bool has_query = request.has_query_points();
  absl::Status status = DecodeTransport(FieldsOf(request), context.limits,
                                        /*compute_plan=*/true, &job->decoded_);
  if (!status.ok()) return status;
  Violations v;
  if (has_query &&
      !job->query_.Decode(request.query_points(), "query_points", 2, &v)) {
    return v.ToStatus();
  }
  otcore::TransportOptions& o = job->decoded_.options;
  o = otcore::MapOptions(o, has_query);
  std::optional<otcore::MatrixView> query;
  if (has_query) query.emplace(job->query_.matrix());
  const otcore::TransportProblem& p = job->decoded_.problem;
  job->times_.assign(request.interpolation_times().begin(),
                     request.interpolation_times().end());
  v.AddStatus(otcore::ValidateMap(p, o, query, job->times_));
  if (!v.empty()) return v.ToStatus();
  // Interpolants: up to n + m points of d + 1 doubles per time.
  if (absl::Status s =
          CheckResponseBytes(8 * static_cast<int64_t>(job->times_.size()) *
                                 (p.n() + p.m()) * (p.y->cols() + 1),
                             "the interpolants", context.max_message_bytes);
      !s.ok()) {
    return s;
  }
  // The entropic map costs k x m kernel evaluations; the output is k x d.
  const int64_t rows = has_query ? job->query_.rows() : p.n();
  if (has_query) {
    CheckMaxCostEntries(rows * p.m(), "query_points", context.limits, &v);
    if (!v.empty()) return v.ToStatus();
  }
  if (absl::Status s =
          CheckResponseBytes(8 * rows * p.y->cols(), "the mapped points",
                             context.max_message_bytes);
      !s.ok()) {
    return s;
  }
  return job;
}

absl::Status MapJob::Run(const RunContext& context, Response* response) const {
  std::optional<otcore::MatrixView> query;
  if (query_.present()) query.emplace(query_.matrix());
  const otcore::TransportProblem& p = decoded_.problem;
  auto r =
      otcore::SolveMap(p, decoded_.options, query, context.control, times_);
  if (!r.ok()) return r.status();
  for (const otcore::Interpolant& it : r->interpolants) {
    ot::v1::Interpolant* out = response->add_interpolants();
    out->set_t(it.t);
    FillArray(it.points.data(), {it.points.rows(), it.points.cols()},
              out->mutable_points());
    FillArray(it.weights.data(), {it.weights.size()}, out->mutable_weights());
  }
  FillArray(r->mapped.data(), {r->mapped.rows(), r->mapped.cols()},
            response->mutable_mapped_points());
  response->set_value(r->transport.value);
  FillDiagnostics(r->transport.summary, context.queue_wait, p.n(), p.m(),
                  response->mutable_diagnostics());
  return absl::OkStatus();
}

}  // namespace otserve
