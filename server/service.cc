// Service handlers: validate, submit, solve on a worker, reply.
#include "server/service.h"

#include <memory>

#include "absl/time/clock.h"
#include "core/common/control.h"

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

// Runs `solve(control, queue_wait)` on the scheduler; it returns the final
// status.
template <typename Solve>
grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                 Scheduler* scheduler, Solve solve) {
  auto* reactor = new JobReactor(context);
  auto control = reactor->control();
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
  FillDiagnostics(result.summary, queue_wait, decoded.problem.n(),
                  decoded.problem.m(), response->mutable_diagnostics());
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
  if (status.ok() && !ot::v1::PlanFormat_IsValid(request->format())) {
    Violations v;
    v.Add("format", "unknown value");
    status = v.ToStatus();
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
                 ot::v1::METHOD_SINKHORN, ot::v1::METHOD_ONE_D}) {
    response->add_methods(m);
  }
  response->set_jobs_in_flight(scheduler_->in_flight());
  return FinishNow(context, grpc::Status::OK);
}

}  // namespace otserve
