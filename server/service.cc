// Service handlers: validate, submit, solve on a worker, reply.
#include "server/service.h"

#include <memory>
#include <mutex>
#include <optional>

#include "absl/time/clock.h"
#include "core/barycenter/fixed_support.h"
#include "core/barycenter/free_support.h"
#include "core/barycenter/grid.h"
#include "core/common/control.h"
#include "core/entropic/divergence.h"
#include "core/gaussian/gaussian.h"
#include "core/gromov/gromov.h"
#include "core/maps.h"

namespace otserve {
namespace {

// A unary reactor whose cancellation (client cancel, deadline, shutdown) stops
// the solve through the shared SolveControl. Deletes itself when the call is
// done.
class JobReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit JobReactor(grpc::CallbackServerContext* context)
      : control_(std::make_shared<otcore::SolveControl>()) {
    const auto deadline = context->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      control_->set_deadline(absl::FromChrono(deadline));
    }
  }
  void OnCancel() override { control_->Cancel(); }
  void OnDone() override { delete this; }
  std::shared_ptr<otcore::SolveControl> control() const { return control_; }

 private:
  std::shared_ptr<otcore::SolveControl> control_;
};

// Lets a job's solver split ranges across the shared pool (helper tasks queue
// behind other jobs, so concurrent jobs do not oversubscribe the cores).
void UsePool(Scheduler* scheduler, otcore::SolveControl* control) {
  control->set_parallel_for(
      [scheduler](int64_t n, int64_t min_chunk,
                  const std::function<void(int64_t, int64_t)>& body) {
        scheduler->ParallelRanges(n, min_chunk, body);
      });
}

// Runs `solve(control, queue_wait)` on the scheduler; it returns the final
// status.
template <typename Solve>
grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                 Scheduler* scheduler, Solve solve) {
  auto* reactor = new JobReactor(context);
  auto control = reactor->control();
  UsePool(scheduler, control.get());
  const bool admitted =
      scheduler->TrySubmit([reactor, control, solve = std::move(solve)](
                               absl::Duration queue_wait) mutable {
        // A call cancelled or past its deadline while queued is not started.
        const absl::Status before = control->Check();
        grpc::Status status =
            before.ok() ? solve(*control, queue_wait) : ToGrpcStatus(before);
        reactor->Finish(
            status);  // last touch: the reactor may be gone after this
      });
  if (!admitted) {
    reactor->Finish(
        QueueFullStatus(scheduler->in_flight(), scheduler->capacity()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const grpc::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// The transport fields shared by DistanceRequest and PlanRequest.
template <typename Request>
TransportFields FieldsOf(const Request& r) {
  return {r.source(), r.target(), r.cost(), r.method(), r.options()};
}

// value, regularized_value and diagnostics, shared by both responses.
template <typename Response>
void FillCommon(const otcore::TransportResult& result,
                const DecodedTransport& decoded, absl::Duration queue_wait,
                Response* response) {
  response->set_value(result.value);
  response->set_regularized_value(result.regularized_value);
  if constexpr (std::is_same_v<Response, ot::v1::DistanceResponse>) {
    response->set_distance(result.distance);
  }
  FillDiagnostics(result.summary, queue_wait, decoded.problem.n(),
                  decoded.problem.m(), response->mutable_diagnostics());
}

// options.tolerance (in (0, 1), or > 0 when !below_one) and
// options.max_iterations (>= 1) into the solver's fields, when set.
template <typename Options>
void DecodeStopping(const ot::v1::SolverOptions& opt, bool below_one,
                    Violations* v, Options* out) {
  if (opt.has_tolerance()) {
    if (!(opt.tolerance() > 0 && (!below_one || opt.tolerance() < 1))) {
      v->Add("options.tolerance",
             below_one ? "must be in (0, 1)" : "must be > 0");
    }
    out->tolerance = opt.tolerance();
  }
  if (opt.has_max_iterations()) {
    if (opt.max_iterations() < 1 || opt.max_iterations() > 1'000'000'000) {
      v->Add("options.max_iterations", "must be in [1, 1e9]");
    }
    out->max_iterations = opt.max_iterations();
  }
}

// The barycentric weights lambda_k (default all ones), one per measure.
Eigen::VectorXd DecodeLambdas(const ot::v1::BarycenterRequest& request,
                              Violations* v) {
  const int k_count = request.measures_size();
  Eigen::VectorXd lambdas = Eigen::VectorXd::Ones(std::max(k_count, 1));
  if (!request.has_weights()) return lambdas;
  ArrayData w;
  if (!w.Decode(request.weights(), "weights", 1, v)) return lambdas;
  if (w.rows() != k_count) {
    v->Add("weights", "one weight per measure is required");
  } else if ((w.vector().array() < 0).any() || w.vector().sum() <= 0) {
    v->Add("weights", "must be >= 0 and not all zero");
  } else {
    lambdas = w.vector();
  }
  return lambdas;
}

}  // namespace

grpc::ServerUnaryReactor* OtService::Distance(
    grpc::CallbackServerContext* context,
    const ot::v1::DistanceRequest* request,
    ot::v1::DistanceResponse* response) {
  auto decoded = std::make_shared<DecodedTransport>();
  grpc::Status status =
      DecodeTransport(FieldsOf(*request), limits_, decoded.get());
  if (!status.ok()) return FinishNow(context, status);
  return Submit(context, scheduler_,
                [decoded, response](const otcore::SolveControl& control,
                                    absl::Duration queue_wait) {
                  auto result = otcore::SolveTransport(
                      decoded->problem, decoded->options, control);
                  if (!result.ok()) return ToGrpcStatus(result.status());
                  FillCommon(*result, *decoded, queue_wait, response);
                  return grpc::Status::OK;
                });
}

grpc::ServerUnaryReactor* OtService::Plan(grpc::CallbackServerContext* context,
                                          const ot::v1::PlanRequest* request,
                                          ot::v1::PlanResponse* response) {
  auto decoded = std::make_shared<DecodedTransport>();
  grpc::Status status =
      DecodeTransport(FieldsOf(*request), limits_, decoded.get());
  if (status.ok()) {
    Violations v;
    if (!ot::v1::PlanFormat_IsValid(request->format())) {
      v.Add("format", "unknown value");
    }
    const otcore::Method m = decoded->options.method;
    if (m == otcore::Method::kSliced || m == otcore::Method::kMaxSliced) {
      v.Add("method", "sliced methods have no transport plan; use Distance");
    }
    if (!v.empty()) status = v.ToStatus();
  }
  if (!status.ok()) return FinishNow(context, status);
  decoded->options.compute_plan = true;
  const ot::v1::PlanFormat format = request->format();
  const int64_t max_bytes = max_message_bytes_;
  return Submit(
      context, scheduler_,
      [decoded, response, format, max_bytes](
          const otcore::SolveControl& control, absl::Duration queue_wait) {
        auto result =
            otcore::SolveTransport(decoded->problem, decoded->options, control);
        if (!result.ok()) return ToGrpcStatus(result.status());
        const int64_t n = decoded->problem.n(), m = decoded->problem.m();
        FillCommon(*result, *decoded, queue_wait, response);
        if (result->linear_map) {
          const auto& map = *result->linear_map;
          const int64_t d = map.b.size();
          const otcore::RowMatrix a = map.a;  // row-major copy
          FillArray(a.data(), {d, d},
                    response->mutable_linear_map()->mutable_matrix());
          FillArray(map.b.data(), {d},
                    response->mutable_linear_map()->mutable_offset());
          return grpc::Status::OK;
        }
        if (!result->sparse_plan && !result->dense_plan) {
          return grpc::Status(grpc::StatusCode::INTERNAL,
                              "the solver returned no plan");
        }
        const bool dense =
            format == ot::v1::PLAN_FORMAT_DENSE ||
            (format == ot::v1::PLAN_FORMAT_UNSPECIFIED && result->dense_plan);
        if (dense) {
          if (n * m * 8 > max_bytes) {
            return grpc::Status(
                grpc::StatusCode::RESOURCE_EXHAUSTED,
                "the dense plan exceeds the maximum message size; "
                "ask for PLAN_FORMAT_SPARSE");
          }
          if (!result->dense_plan)
            result->dense_plan = otcore::Densify(*result->sparse_plan, n, m);
          FillArray(result->dense_plan->data(), {n, m},
                    response->mutable_dense_plan());
        } else {
          if (!result->sparse_plan)
            result->sparse_plan = otcore::Sparsify(*result->dense_plan);
          const otcore::SparsePlan& sp = *result->sparse_plan;
          auto* out = response->mutable_sparse_plan();
          out->mutable_rows()->Assign(sp.rows.begin(), sp.rows.end());
          out->mutable_cols()->Assign(sp.cols.begin(), sp.cols.end());
          out->mutable_values()->Assign(sp.values.begin(), sp.values.end());
          out->add_shape(n);
          out->add_shape(m);
        }
        if (result->f.size() == n)
          FillArray(result->f.data(), {n}, response->mutable_f());
        if (result->g.size() == m)
          FillArray(result->g.data(), {m}, response->mutable_g());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::Divergence(
    grpc::CallbackServerContext* context,
    const ot::v1::DivergenceRequest* request,
    ot::v1::DivergenceResponse* response) {
  auto decoded = std::make_shared<DecodedTransport>();
  const ot::v1::SolverOptions& opt = request->options();
  grpc::Status status = DecodeTransport(
      {request->source(), request->target(), request->cost(),
       (opt.has_marginal_relaxation() ? ot::v1::METHOD_UNBALANCED_SINKHORN
                                      : ot::v1::METHOD_SINKHORN),
       opt},
      limits_, decoded.get());
  Violations v;
  if (status.ok()) {
    const int64_t n = decoded->problem.n(), m = decoded->problem.m();
    if (request->cost().kind() == ot::v1::COST_KIND_EXPLICIT) {
      v.Add("cost.kind", "divergences need point clouds, not an explicit cost");
    }
    if (n > limits_.max_cost_entries / n || m > limits_.max_cost_entries / m) {
      v.Add("source", "n^2 or m^2 exceeds the server limit max_cost_entries");
    }
    if (!ot::v1::DivergenceKind_IsValid(request->kind())) {
      v.Add("kind", "unknown value");
    }
    if (request->has_blur() &&
        !(request->blur() > 0 && std::isfinite(request->blur()))) {
      v.Add("blur", "must be finite and > 0");
    }
    if (opt.has_marginal_relaxation() &&
        request->kind() != ot::v1::DIVERGENCE_KIND_SINKHORN &&
        request->kind() != ot::v1::DIVERGENCE_KIND_UNSPECIFIED) {
      v.Add("options.marginal_relaxation",
            "the unbalanced divergence is DIVERGENCE_KIND_SINKHORN only");
    }
    if (!v.empty()) status = v.ToStatus();
  }
  if (!status.ok()) return FinishNow(context, status);
  otcore::DivergenceOptions options;
  switch (request->kind()) {
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
      options.kind = otcore::DivergenceKind::kSinkhorn;
  }
  if (request->has_blur()) options.blur = request->blur();
  const otcore::TransportOptions& o = decoded->options;
  options.sinkhorn.epsilon = o.epsilon.value_or(0.05);
  options.epsilon_relative_to_mean_cost =
      !o.epsilon ||
      o.epsilon_scale == otcore::EpsilonScale::kRelativeToMeanCost;
  if (o.tolerance) options.sinkhorn.tolerance = *o.tolerance;
  if (o.max_iterations) options.sinkhorn.max_iterations = *o.max_iterations;
  options.sinkhorn.epsilon_scaling = o.epsilon_scaling;
  if (o.marginal_relaxation) {
    options.sinkhorn.marginal_relaxation = *o.marginal_relaxation;
  }
  return Submit(
      context, scheduler_,
      [decoded, response, options](const otcore::SolveControl& control,
                                   absl::Duration queue_wait) {
        const otcore::TransportProblem& p = decoded->problem;
        const Eigen::VectorXd ua =
            Eigen::VectorXd::Constant(p.n(), 1.0 / p.n());
        const Eigen::VectorXd ub =
            Eigen::VectorXd::Constant(p.m(), 1.0 / p.m());
        auto result = otcore::SolveDivergence(
            *p.x, p.a ? *p.a : otcore::VectorView(ua), *p.y,
            p.b ? *p.b : otcore::VectorView(ub), p.cost, options, control);
        if (!result.ok()) return ToGrpcStatus(result.status());
        response->set_value(result->value);
        response->set_cross_term(result->cross);
        response->set_source_self_term(result->self_source);
        response->set_target_self_term(result->self_target);
        FillDiagnostics(result->summary, queue_wait, p.n(), p.m(),
                        response->mutable_diagnostics());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::Barycenter(
    grpc::CallbackServerContext* context,
    const ot::v1::BarycenterRequest* request,
    ot::v1::BarycenterResponse* response) {
  if (request->kind() == ot::v1::BARYCENTER_KIND_FIXED_SUPPORT) {
    return FixedSupportBarycenter(context, request, response);
  }
  if (request->kind() == ot::v1::BARYCENTER_KIND_GRID) {
    return GridBarycenter(context, request, response);
  }
  if (request->kind() == ot::v1::BARYCENTER_KIND_FREE_SUPPORT) {
    return FreeSupportBarycenter(context, request, response);
  }
  if (request->kind() != ot::v1::BARYCENTER_KIND_GAUSSIAN) {
    if (!ot::v1::BarycenterKind_IsValid(request->kind()) ||
        request->kind() == ot::v1::BARYCENTER_KIND_UNSPECIFIED) {
      Violations v;
      v.Add("kind", "set a BarycenterKind");
      return FinishNow(context, v.ToStatus());
    }
    return FinishNow(context,
                     grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                  ot::v1::BarycenterKind_Name(request->kind()) +
                                      " is not implemented yet"));
  }
  Violations v;
  auto gaussians = std::make_shared<std::vector<otcore::Gaussian>>();
  if (request->measures_size() == 0)
    v.Add("measures", "at least one measure is required");
  for (int k = 0; k < request->measures_size(); ++k) {
    const ot::v1::Measure& m = request->measures(k);
    const std::string field = absl::StrCat("measures[", k, "]");
    if (m.has_gaussian()) {
      if (auto g = DecodeGaussian(m.gaussian(), field + ".gaussian", &v)) {
        gaussians->push_back(std::move(*g));
      }
      continue;
    }
    ArrayData points, weights;
    if (!m.has_points()) {
      v.Add(field + ".points", "points or gaussian parameters are required");
      continue;
    }
    if (!points.Decode(m.points(), field + ".points", 2, &v)) continue;
    if (m.has_weights() &&
        !weights.Decode(m.weights(), field + ".weights", 1, &v))
      continue;
    const Eigen::VectorXd uniform =
        Eigen::VectorXd::Constant(points.rows(), 1.0 / points.rows());
    if (weights.present() && weights.rows() != points.rows()) {
      v.Add(field + ".weights", "length differs from the number of points");
      continue;
    }
    auto g = otcore::FitGaussian(points.matrix(),
                                 weights.present()
                                     ? otcore::VectorView(weights.vector())
                                     : otcore::VectorView(uniform));
    if (!g.ok()) {
      v.Add(field + ".weights", g.status().message());
      continue;
    }
    gaussians->push_back(*std::move(g));
  }
  for (size_t k = 1; k < gaussians->size(); ++k) {
    if ((*gaussians)[k].mean.size() != (*gaussians)[0].mean.size()) {
      v.Add(absl::StrCat("measures[", k, "]"),
            "dimension differs from measures[0]");
    }
  }
  const Eigen::VectorXd lambdas = DecodeLambdas(*request, &v);
  otcore::GaussianBarycenterOptions options;
  DecodeStopping(request->options(), true, &v, &options);
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  return Submit(
      context, scheduler_,
      [gaussians, lambdas, options, response](
          const otcore::SolveControl& control, absl::Duration queue_wait) {
        auto r =
            otcore::GaussianBarycenter(*gaussians, lambdas, options, control);
        if (!r.ok()) return ToGrpcStatus(r.status());
        const int64_t d = r->barycenter.mean.size();
        const otcore::RowMatrix cov = r->barycenter.cov;
        FillArray(r->barycenter.mean.data(), {d},
                  response->mutable_gaussian()->mutable_mean());
        FillArray(cov.data(), {d, d},
                  response->mutable_gaussian()->mutable_covariance());
        FillDiagnostics(r->summary, queue_wait, gaussians->size(), 1,
                        response->mutable_diagnostics());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::FreeSupportBarycenter(
    grpc::CallbackServerContext* context,
    const ot::v1::BarycenterRequest* request,
    ot::v1::BarycenterResponse* response) {
  struct Job {
    std::vector<std::pair<otcore::RowMatrix, Eigen::VectorXd>> measures;
    otcore::RowMatrix x_init;
    Eigen::VectorXd b, lambdas;
    otcore::FreeSupportOptions options;
  };
  auto job = std::make_shared<Job>();
  Violations v;
  ArrayData x;
  if (!request->has_support()) {
    v.Add("support", "the initial support [k, d] is required");
  } else if (x.Decode(request->support(), "support", 2, &v)) {
    job->x_init = x.matrix();
    job->b = Eigen::VectorXd::Constant(x.rows(), 1.0 / x.rows());
  }
  if (request->has_support_weights() && job->x_init.size() > 0) {
    ArrayData w;
    if (w.Decode(request->support_weights(), "support_weights", 1, &v)) {
      if (w.rows() != job->x_init.rows()) {
        v.Add("support_weights", "one weight per support point is required");
      } else if ((w.vector().array() < 0).any() ||
                 std::abs(w.vector().sum() - 1.0) > otcore::kMassTolerance) {
        v.Add("support_weights", "must be >= 0 and sum to 1");
      } else {
        job->b = w.vector();
      }
    }
  }
  const int k_count = request->measures_size();
  if (k_count == 0) v.Add("measures", "at least one measure is required");
  int64_t total_entries = 0;
  for (int k = 0; k < k_count; ++k) {
    const std::string field = absl::StrCat("measures[", k, "]");
    const ot::v1::Measure& m = request->measures(k);
    ArrayData points, weights;
    if (!m.has_points()) {
      v.Add(field + ".points", "points are required");
      continue;
    }
    if (!points.Decode(m.points(), field + ".points", 2, &v)) continue;
    if (job->x_init.size() > 0 && points.cols() != job->x_init.cols()) {
      v.Add(field + ".points", "dimension differs from the support's");
      continue;
    }
    Eigen::VectorXd w =
        Eigen::VectorXd::Constant(points.rows(), 1.0 / points.rows());
    if (m.has_weights() &&
        weights.Decode(m.weights(), field + ".weights", 1, &v)) {
      if (weights.rows() != points.rows() ||
          (weights.vector().array() < 0).any() ||
          std::abs(weights.vector().sum() - 1.0) > otcore::kMassTolerance) {
        v.Add(field + ".weights", "one weight per point, >= 0, summing to 1");
        continue;
      }
      w = weights.vector();
    }
    total_entries += points.rows() * std::max<int64_t>(job->x_init.rows(), 1);
    job->measures.emplace_back(points.matrix(), std::move(w));
  }
  if (total_entries > limits_.max_cost_entries) {
    v.Add("measures",
          "sum of k * n_k exceeds the server limit max_cost_entries");
  }
  job->lambdas = DecodeLambdas(*request, &v);
  const auto& opt = request->options();
  if (opt.has_epsilon()) {
    if (!(opt.epsilon() > 0 && std::isfinite(opt.epsilon()))) {
      v.Add("options.epsilon", "must be finite and > 0");
    }
    job->options.epsilon = opt.epsilon();
  }
  DecodeStopping(opt, false, &v, &job->options);
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  return Submit(
      context, scheduler_,
      [job, response](const otcore::SolveControl& control,
                      absl::Duration queue_wait) {
        auto r = otcore::FreeSupportBarycenter(job->measures, job->lambdas,
                                               job->x_init, job->b,
                                               job->options, control);
        if (!r.ok()) return ToGrpcStatus(r.status());
        FillArray(r->points.data(), {r->points.rows(), r->points.cols()},
                  response->mutable_points());
        FillArray(job->b.data(), {job->b.size()}, response->mutable_weights());
        FillDiagnostics(r->summary, queue_wait, r->points.rows(),
                        r->points.rows(), response->mutable_diagnostics());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::GridBarycenter(
    grpc::CallbackServerContext* context,
    const ot::v1::BarycenterRequest* request,
    ot::v1::BarycenterResponse* response) {
  Violations v;
  const int k_count = request->measures_size();
  if (k_count == 0) v.Add("measures", "at least one image is required");
  auto images = std::make_shared<std::vector<Eigen::ArrayXd>>();
  std::vector<int64_t> shape;
  for (int k = 0; k < k_count; ++k) {
    const std::string field = absl::StrCat("measures[", k, "].weights");
    const auto& w = request->measures(k).weights();
    if (!request->measures(k).has_weights()) {
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
      if (size > limits_.max_points) {
        v.Add(field + ".shape", "more pixels than the server limit max_points");
        break;
      }
    } else if (std::vector<int64_t>(w.shape().begin(), w.shape().end()) !=
               shape) {
      v.Add(field + ".shape", "all images must have the shape of measures[0]");
      continue;
    }
    ArrayData a;
    if (!a.Decode(w, field, static_cast<int>(shape.size()), &v)) continue;
    int64_t count = 1;
    for (int64_t d : a.shape()) count *= d;
    Eigen::Map<const Eigen::ArrayXd> flat(a.data(), count);
    if ((flat < 0).any() ||
        std::abs(flat.sum() - 1.0) > otcore::kMassTolerance) {
      v.Add(field, "must be >= 0 and sum to 1");
      continue;
    }
    images->push_back(flat);
  }
  const Eigen::VectorXd lambdas = DecodeLambdas(*request, &v);
  otcore::GridBarycenterOptions options;
  const auto& opt = request->options();
  if (!opt.has_epsilon() ||
      !(opt.epsilon() > 0 && std::isfinite(opt.epsilon()))) {
    v.Add("options.epsilon",
          "an absolute epsilon > 0 on the unit grid is required");
  } else {
    options.epsilon = opt.epsilon();
  }
  DecodeStopping(opt, true, &v, &options);
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  return Submit(
      context, scheduler_,
      [images, shape, lambdas, options, response](
          const otcore::SolveControl& control, absl::Duration queue_wait) {
        auto r =
            otcore::GridBarycenter(*images, shape, lambdas, options, control);
        if (!r.ok()) return ToGrpcStatus(r.status());
        FillArray(r->image.data(), shape, response->mutable_weights());
        FillDiagnostics(r->summary, queue_wait, r->image.size(),
                        r->image.size(), response->mutable_diagnostics());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::FixedSupportBarycenter(
    grpc::CallbackServerContext* context,
    const ot::v1::BarycenterRequest* request,
    ot::v1::BarycenterResponse* response) {
  Violations v;
  otcore::CostSpec spec;
  DecodeCostSpec(request->cost(), &v, &spec);
  ArrayData matrix, support;
  // The job owns the explicit cost, or the support points whose cost the worker
  // forms (no O(n^2) work on the gRPC thread).
  auto cost = std::make_shared<otcore::RowMatrix>();
  auto points = std::make_shared<otcore::RowMatrix>();
  if (spec.kind == otcore::CostKind::kExplicit) {
    if (!request->cost().has_matrix()) {
      v.Add("cost.matrix", "required when cost.kind is COST_KIND_EXPLICIT");
    } else if (matrix.Decode(request->cost().matrix(), "cost.matrix", 2, &v)) {
      *cost = matrix.matrix();
    }
  } else if (!request->has_support()) {
    v.Add("support", "support points are required unless the cost is explicit");
  } else if (support.Decode(request->support(), "support", 2, &v)) {
    if (support.rows() > limits_.max_cost_entries / support.rows()) {
      v.Add("support", "n^2 exceeds the server limit max_cost_entries");
    } else {
      *points = support.matrix();
    }
  }
  const int k_count = request->measures_size();
  if (k_count == 0) v.Add("measures", "at least one histogram is required");
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  const bool explicit_cost = spec.kind == otcore::CostKind::kExplicit;
  const int64_t n = explicit_cost ? cost->rows() : points->rows();
  auto hist = std::make_shared<otcore::RowMatrix>(n, k_count);
  for (int k = 0; k < k_count; ++k) {
    const std::string field = absl::StrCat("measures[", k, "].weights");
    ArrayData w;
    if (!request->measures(k).has_weights()) {
      v.Add(field, "the histogram is required");
    } else if (w.Decode(request->measures(k).weights(), field, 1, &v)) {
      if (w.rows() != n) {
        v.Add(field,
              absl::StrCat("has ", w.rows(), " entries, the support has ", n));
      } else if ((w.vector().array() < 0).any() ||
                 std::abs(w.vector().sum() - 1.0) > otcore::kMassTolerance) {
        v.Add(field, "must be >= 0 and sum to 1");
      } else {
        hist->col(k) = w.vector();
      }
    }
  }
  const Eigen::VectorXd lambdas = DecodeLambdas(*request, &v);
  otcore::FixedSupportBarycenterOptions options;
  options.debiased = request->debiased();
  if (options.debiased && explicit_cost && cost->rows() != cost->cols()) {
    v.Add("debiased",
          "needs a square cost (barycenter support = input support)");
  }
  const auto& opt = request->options();
  double eps = opt.has_epsilon() ? opt.epsilon() : 0.05;
  if (!(std::isfinite(eps) && eps > 0))
    v.Add("options.epsilon", "must be finite and > 0");
  const bool relative =
      !opt.has_epsilon() ||
      opt.epsilon_scale() == ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST;
  options.epsilon = eps;
  DecodeStopping(opt, true, &v, &options);
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  return Submit(context, scheduler_,
                [cost, points, spec, relative, hist, lambdas, options,
                 response](const otcore::SolveControl& control,
                           absl::Duration queue_wait) mutable {
                  if (points->size() > 0)
                    *cost = otcore::PairwiseCost(*points, *points, spec);
                  if (relative) options.epsilon *= cost->mean();
                  auto r = otcore::FixedSupportBarycenter(*hist, lambdas, *cost,
                                                          options, control);
                  if (!r.ok()) return ToGrpcStatus(r.status());
                  FillArray(r->weights.data(), {r->weights.size()},
                            response->mutable_weights());
                  FillDiagnostics(r->summary, queue_wait, hist->rows(),
                                  r->weights.size(),
                                  response->mutable_diagnostics());
                  return grpc::Status::OK;
                });
}

grpc::ServerUnaryReactor* OtService::DistanceBatch(
    grpc::CallbackServerContext* context,
    const ot::v1::DistanceBatchRequest* request,
    ot::v1::DistanceBatchResponse* response) {
  const int n = request->items_size();
  // Decode every item now; invalid ones are answered in their slot.
  auto decoded = std::make_shared<std::vector<DecodedTransport>>(n);
  auto errors = std::make_shared<std::vector<std::optional<grpc::Status>>>(n);
  for (int k = 0; k < n; ++k) {
    grpc::Status s =
        DecodeTransport(FieldsOf(request->items(k)), limits_, &(*decoded)[k]);
    if (!s.ok()) (*errors)[k] = s;
  }
  Scheduler* scheduler = scheduler_;
  return Submit(
      context, scheduler_,
      [decoded, errors, response, scheduler, n](
          const otcore::SolveControl& control, absl::Duration queue_wait) {
        std::vector<ot::v1::DistanceResponse> results(n);
        scheduler->ParallelFor(n, [&](int64_t k) {
          if ((*errors)[k]) return;
          auto r = otcore::SolveTransport((*decoded)[k].problem,
                                          (*decoded)[k].options, control);
          if (!r.ok()) {
            (*errors)[k] = ToGrpcStatus(r.status());
            return;
          }
          FillCommon(*r, (*decoded)[k], queue_wait, &results[k]);
        });
        // A cancelled or expired call fails as a whole.
        if (absl::Status s = control.Check(); !s.ok()) return ToGrpcStatus(s);
        for (int k = 0; k < n; ++k) {
          auto* item = response->add_items();
          if ((*errors)[k]) {
            FillBatchError(*(*errors)[k], item->mutable_error());
          } else {
            *item->mutable_result() = std::move(results[k]);
          }
        }
        return grpc::Status::OK;
      });
}

namespace {

// Streams progress events and then the result of one Distance job. Writes are
// serialised (one in flight); progress events are coalesced to the newest.
// Lifetime: one reference for gRPC (dropped in OnDone) and one for the job.
class StreamReactor final
    : public grpc::ServerWriteReactor<ot::v1::DistanceEvent> {
 public:
  explicit StreamReactor(grpc::CallbackServerContext* context)
      : control_(std::make_shared<otcore::SolveControl>()) {
    const auto deadline = context->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      control_->set_deadline(absl::FromChrono(deadline));
    }
  }
  std::shared_ptr<otcore::SolveControl> control() const { return control_; }

  void Progress(const otcore::Progress& p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_ || finishing_) return;
    ot::v1::DistanceEvent event;
    auto* e = event.mutable_progress();
    e->set_iteration(p.iteration);
    e->set_error(p.error);
    e->set_epsilon(p.epsilon);
    e->set_elapsed_seconds(p.elapsed_seconds);
    pending_progress_ = std::move(event);
    PumpLocked();
  }
  // The job's end: the result event (when ok) then the status.
  void Complete(grpc::Status status, ot::v1::DistanceEvent result) {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    status_ = std::move(status);
    pending_progress_.reset();
    if (status_.ok()) pending_result_ = std::move(result);
    PumpLocked();
  }
  void Release() { Unref(); }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {  // the stream is broken (cancelled); stop writing
      pending_progress_.reset();
      pending_result_.reset();
    }
    PumpLocked();
  }
  void OnCancel() override { control_->Cancel(); }
  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    Unref();
  }

 private:
  void PumpLocked() {
    if (writing_ || done_ || finished_) return;
    if (pending_progress_) {
      current_ = std::move(*pending_progress_);
      pending_progress_.reset();
    } else if (pending_result_) {
      current_ = std::move(*pending_result_);
      pending_result_.reset();
    } else {
      if (finishing_) {
        finished_ = true;
        Finish(status_);
      }
      return;
    }
    writing_ = true;
    StartWrite(&current_);
  }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  std::shared_ptr<otcore::SolveControl> control_;
  std::mutex mu_;
  bool writing_ = false, finishing_ = false, finished_ = false, done_ = false;
  std::optional<ot::v1::DistanceEvent> pending_progress_, pending_result_;
  ot::v1::DistanceEvent current_;
  grpc::Status status_;
  std::atomic<int> refs_{2};
};

}  // namespace

grpc::ServerWriteReactor<ot::v1::DistanceEvent>* OtService::DistanceStream(
    grpc::CallbackServerContext* context,
    const ot::v1::DistanceRequest* request) {
  auto* reactor = new StreamReactor(context);
  auto decoded = std::make_shared<DecodedTransport>();
  grpc::Status status =
      DecodeTransport(FieldsOf(*request), limits_, decoded.get());
  if (!status.ok()) {
    reactor->Complete(status, {});
    reactor->Release();
    return reactor;
  }
  auto control = reactor->control();
  UsePool(scheduler_, control.get());
  control->set_progress_callback(
      [reactor](const otcore::Progress& p) { reactor->Progress(p); });
  const bool admitted = scheduler_->TrySubmit(
      [reactor, control, decoded](absl::Duration queue_wait) {
        ot::v1::DistanceEvent event;
        grpc::Status status;
        if (absl::Status before = control->Check(); !before.ok()) {
          status = ToGrpcStatus(before);
        } else {
          auto r = otcore::SolveTransport(decoded->problem, decoded->options,
                                          *control);
          if (r.ok()) {
            FillCommon(*r, *decoded, queue_wait, event.mutable_result());
          } else {
            status = ToGrpcStatus(r.status());
          }
        }
        reactor->Complete(status, std::move(event));
        reactor->Release();
      });
  if (!admitted) {
    reactor->Complete(
        QueueFullStatus(scheduler_->in_flight(), scheduler_->capacity()), {});
    reactor->Release();
  }
  return reactor;
}

grpc::ServerUnaryReactor* OtService::GromovWasserstein(
    grpc::CallbackServerContext* context, const ot::v1::GromovRequest* request,
    ot::v1::GromovResponse* response) {
  // Everything the job needs, owned (intra-space costs are formed here).
  struct Job {
    otcore::RowMatrix c1, c2, feature;
    otcore::RowMatrix x1, x2;  // points whose intra costs the worker forms
    otcore::CostSpec spec;
    Eigen::VectorXd p, q;
    otcore::GromovOptions options;
    bool has_feature = false;
  };
  auto job = std::make_shared<Job>();
  Violations v;
  otcore::CostSpec spec;
  DecodeCostSpec(request->cost(), &v, &spec);
  job->spec = spec;
  if (spec.kind == otcore::CostKind::kExplicit) {
    v.Add("cost.kind",
          "give explicit intra-space costs in source_costs / target_costs");
  }
  struct Side {
    const ot::v1::Measure& measure;
    bool has_costs;
    const ot::v1::Array& costs;
    const char* name;
    otcore::RowMatrix* c;
    otcore::RowMatrix* x;
    Eigen::VectorXd* w;
  };
  for (const Side& side :
       {Side{request->source(), request->has_source_costs(),
             request->source_costs(), "source", &job->c1, &job->x1, &job->p},
        Side{request->target(), request->has_target_costs(),
             request->target_costs(), "target", &job->c2, &job->x2, &job->q}}) {
    const std::string name = side.name;
    int64_t size = -1;
    if (side.has_costs) {
      ArrayData c;
      if (c.Decode(side.costs, name + "_costs", 2, &v)) {
        if (c.rows() != c.cols()) {
          v.Add(name + "_costs", "must be square [n, n]");
        } else {
          *side.c = c.matrix();
          size = c.rows();
        }
      }
    } else if (side.measure.has_points()) {
      ArrayData x;
      if (x.Decode(side.measure.points(), name + ".points", 2, &v)) {
        if (x.rows() > limits_.max_cost_entries / x.rows()) {
          v.Add(name + ".points",
                "n^2 exceeds the server limit max_cost_entries");
        } else if (spec.kind != otcore::CostKind::kExplicit) {
          *side.x = x.matrix();
          size = x.rows();
        }
      }
    } else {
      v.Add(name + ".points", "points or " + name + "_costs are required");
    }
    if (size < 0) continue;
    *side.w = Eigen::VectorXd::Constant(size, 1.0 / size);
    if (side.measure.has_weights()) {
      ArrayData w;
      if (w.Decode(side.measure.weights(), name + ".weights", 1, &v)) {
        if (w.rows() != size) {
          v.Add(
              name + ".weights",
              absl::StrCat("has ", w.rows(), " entries, the space has ", size));
        } else if ((w.vector().array() < 0).any() || w.vector().sum() <= 0) {
          v.Add(name + ".weights", "must be >= 0 and not all zero");
        } else {
          *side.w = w.vector();
        }
      }
    }
  }
  otcore::GromovOptions& o = job->options;
  o.loss = request->loss() == ot::v1::GROMOV_LOSS_KL ? otcore::GwLoss::kKl
                                                     : otcore::GwLoss::kSquare;
  if (!ot::v1::GromovLoss_IsValid(request->loss()))
    v.Add("loss", "unknown value");
  if (!ot::v1::GromovMethod_IsValid(request->method()))
    v.Add("method", "unknown value");
  const auto& opt = request->options();
  const bool entropic =
      request->method() == ot::v1::GROMOV_METHOD_ENTROPIC ||
      (request->method() == ot::v1::GROMOV_METHOD_UNSPECIFIED &&
       opt.has_epsilon());
  if (entropic) {
    if (!opt.has_epsilon() ||
        !(opt.epsilon() > 0 && std::isfinite(opt.epsilon()))) {
      v.Add("options.epsilon",
            "the entropic method needs an absolute epsilon > 0");
    } else {
      o.epsilon = opt.epsilon();
    }
  } else if (o.loss == otcore::GwLoss::kKl) {
    v.Add("loss", "the KL loss is served with GROMOV_METHOD_ENTROPIC only");
  }
  DecodeStopping(opt, false, &v, &o);
  if (request->has_alpha()) {
    if (!(request->alpha() >= 0 && request->alpha() <= 1)) {
      v.Add("alpha", "must be in [0, 1]");
    }
    o.alpha = request->alpha();
  }
  if (o.alpha < 1) {
    ArrayData m;
    if (!request->has_feature_cost()) {
      v.Add("feature_cost", "required for fused GW (alpha < 1)");
    } else if (m.Decode(request->feature_cost(), "feature_cost", 2, &v)) {
      if (m.rows() != job->p.size() || m.cols() != job->q.size()) {
        v.Add("feature_cost", "must be [n, m]");
      } else {
        job->feature = m.matrix();
        job->has_feature = true;
      }
    }
  }
  if (v.empty() && (job->p.size() == 0 || job->q.size() == 0)) {
    v.Add("source", "both spaces are required");
  }
  if (v.empty() &&
      std::abs(job->p.sum() - job->q.sum()) >
          otcore::kMassTolerance * std::max(job->p.sum(), job->q.sum())) {
    v.Add("target.weights", "total mass differs from the source's");
  }
  if (v.empty() && job->p.size() > limits_.max_cost_entries / job->q.size()) {
    v.Add("source", "n * m exceeds the server limit max_cost_entries");
  }
  if (!v.empty()) return FinishNow(context, v.ToStatus());
  const bool return_plan = request->return_plan();
  return Submit(
      context, scheduler_,
      [job, response, return_plan](const otcore::SolveControl& control,
                                   absl::Duration queue_wait) {
        // Intra-space costs of point clouds are formed here, off the gRPC
        // thread.
        if (job->c1.size() == 0) {
          job->c1 = otcore::PairwiseCost(job->x1, job->x1, job->spec);
        }
        if (job->c2.size() == 0) {
          job->c2 = otcore::PairwiseCost(job->x2, job->x2, job->spec);
        }
        std::optional<otcore::MatrixView> feature;
        if (job->has_feature) feature.emplace(job->feature);
        auto r = otcore::SolveGromov(job->c1, job->c2, job->p, job->q, feature,
                                     job->options, control);
        if (!r.ok()) return ToGrpcStatus(r.status());
        response->set_value(r->value);
        FillDiagnostics(r->summary, queue_wait, job->p.size(), job->q.size(),
                        response->mutable_diagnostics());
        if (return_plan) {
          FillArray(r->plan.data(), {r->plan.rows(), r->plan.cols()},
                    response->mutable_plan());
        }
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::Map(grpc::CallbackServerContext* context,
                                         const ot::v1::MapRequest* request,
                                         ot::v1::MapResponse* response) {
  auto decoded = std::make_shared<DecodedTransport>();
  grpc::Status status =
      DecodeTransport(FieldsOf(*request), limits_, decoded.get());
  const bool has_query = request->has_query_points();
  auto query = std::make_shared<ArrayData>();
  if (status.ok()) {
    Violations v;
    otcore::TransportOptions& o = decoded->options;
    if (!decoded->problem.y) {
      v.Add("target.points", "a map needs target points");
    }
    if (has_query) {
      if (o.method == otcore::Method::kAuto)
        o.method = otcore::Method::kSinkhorn;
      if (o.method != otcore::Method::kSinkhorn) {
        v.Add("method",
              "new points are mapped with the entropic map: METHOD_SINKHORN");
      }
      if (decoded->problem.cost.kind != otcore::CostKind::kSqEuclidean) {
        v.Add("cost.kind",
              "the entropic map is defined for the squared Euclidean cost");
      }
      if (query->Decode(request->query_points(), "query_points", 2, &v) &&
          decoded->problem.y && query->cols() != decoded->problem.y->cols()) {
        v.Add("query_points", "dimension differs from the target points'");
      }
    } else {
      const otcore::Method m = o.method == otcore::Method::kAuto
                                   ? otcore::ChooseMethod(decoded->problem)
                                   : o.method;
      if (m != otcore::Method::kExact && m != otcore::Method::kSinkhorn &&
          m != otcore::Method::kOneD && m != otcore::Method::kUnbalanced) {
        v.Add("method",
              "the barycentric projection needs a method with a plan");
      }
    }
    if (!v.empty()) status = v.ToStatus();
  }
  if (!status.ok()) return FinishNow(context, status);
  decoded->options.compute_plan = true;
  return Submit(
      context, scheduler_,
      [decoded, query, has_query, response](const otcore::SolveControl& control,
                                            absl::Duration queue_wait) {
        const otcore::TransportProblem& p = decoded->problem;
        auto r = otcore::SolveTransport(p, decoded->options, control);
        if (!r.ok()) return ToGrpcStatus(r.status());
        otcore::RowMatrix mapped;
        if (has_query) {
          const Eigen::VectorXd uniform =
              Eigen::VectorXd::Constant(p.m(), 1.0 / p.m());
          auto m = otcore::EntropicMap(query->matrix(), *p.y,
                                       p.b ? *p.b : otcore::VectorView(uniform),
                                       r->g, r->summary.epsilon);
          if (!m.ok()) return ToGrpcStatus(m.status());
          mapped = *std::move(m);
        } else if (r->sparse_plan) {
          mapped = otcore::BarycentricProjection(*r->sparse_plan, p.n(), *p.y);
        } else {
          mapped = otcore::BarycentricProjection(*r->dense_plan, *p.y);
        }
        FillArray(mapped.data(), {mapped.rows(), mapped.cols()},
                  response->mutable_mapped_points());
        response->set_value(r->value);
        FillDiagnostics(r->summary, queue_wait, p.n(), p.m(),
                        response->mutable_diagnostics());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OtService::GetServerInfo(
    grpc::CallbackServerContext* context, const ot::v1::GetServerInfoRequest*,
    ot::v1::GetServerInfoResponse* response) {
  response->set_version(kVersion);
  response->set_worker_threads(scheduler_->threads());
  response->set_max_queue(scheduler_->max_queue());
  response->set_max_message_bytes(max_message_bytes_);
  response->set_max_points(limits_.max_points);
  response->set_max_cost_entries(limits_.max_cost_entries);
  for (auto m : {ot::v1::METHOD_AUTO, ot::v1::METHOD_EXACT,
                 ot::v1::METHOD_SINKHORN, ot::v1::METHOD_ONE_D,
                 ot::v1::METHOD_UNBALANCED_SINKHORN, ot::v1::METHOD_SLICED,
                 ot::v1::METHOD_MAX_SLICED, ot::v1::METHOD_GAUSSIAN}) {
    response->add_methods(m);
  }
  response->add_barycenter_kinds(ot::v1::BARYCENTER_KIND_GAUSSIAN);
  response->add_barycenter_kinds(ot::v1::BARYCENTER_KIND_FIXED_SUPPORT);
  response->add_barycenter_kinds(ot::v1::BARYCENTER_KIND_GRID);
  response->add_barycenter_kinds(ot::v1::BARYCENTER_KIND_FREE_SUPPORT);
  response->set_jobs_in_flight(scheduler_->in_flight());
  return FinishNow(context, grpc::Status::OK);
}

}  // namespace otserve
