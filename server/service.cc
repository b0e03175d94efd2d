// Reactors, the generic Serve<Job>, and one-line handlers.
#include "server/service.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/common/control.h"
#include "core/common/status_macros.h"
#include "core/entropic/kernels.h"
#include "core/methods.h"
#include "core/version.h"
#include "server/errors.h"
#include "server/methods.h"

namespace otserve {
namespace {

// A SolveControl for one call: its deadline, and the scheduler's pool for the
// solver's parallel ranges (helper tasks queue behind other jobs, so
// concurrent jobs do not oversubscribe the cores).
std::shared_ptr<otcore::SolveControl> MakeControl(
    grpc::CallbackServerContext* context, Scheduler* scheduler) {
  auto control = std::make_shared<otcore::SolveControl>();
  const auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    control->set_deadline(absl::FromChrono(deadline));
  }
  control->set_parallel_for(
      [scheduler](int64_t n, int64_t min_chunk,
                  const std::function<void(int64_t, int64_t)>& body) {
        scheduler->ParallelRanges(n, min_chunk, body);
      });
  return control;
}

// A unary reactor whose cancellation (client cancel, deadline, shutdown) stops
// the solve through the shared SolveControl. Deletes itself when done.
class JobReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit JobReactor(std::shared_ptr<otcore::SolveControl> control)
      : control_(std::move(control)) {}
  void OnCancel() override { control_->Cancel(); }
  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<otcore::SolveControl> control_;
};

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Why the scheduler did not take a job.
absl::Status RefusalStatus(Scheduler::Admission admission,
                           const Scheduler& scheduler,
                           absl::string_view tenant = "") {
  switch (admission) {
    case Scheduler::Admission::kTenantFull: {
      const TenantLimits limits = scheduler.tenant_limits();
      return TenantFullStatus(tenant, limits.max_jobs, limits.max_bytes >> 20);
    }
    case Scheduler::Admission::kDraining:
      return DrainingStatus();
    case Scheduler::Admission::kTooLarge:
      return absl::ResourceExhaustedError(absl::StrCat(
          "the job needs more memory than the server's budget "
          "--max_memory_mb = ",
          scheduler.max_bytes() >> 20, "; send a smaller problem"));
    case Scheduler::Admission::kNoMemory:
      return MemoryBusyStatus(scheduler.bytes_in_flight() >> 20,
                              scheduler.max_bytes() >> 20);
    default:
      return QueueFullStatus(scheduler.in_flight(), scheduler.capacity());
  }
}

// The job boundary, on the worker: a call cancelled or expired while queued is
// not started; the job gets at most `max_job_time`; an exception thrown inside
// (e.g. std::bad_alloc) fails this job only, never the process.
template <typename Job, typename Response>
absl::Status RunJob(const Job& job, otcore::SolveControl& control,
                    absl::Duration queue_wait, absl::Duration max_job_time,
                    Response* response) {
  if (absl::Status s = control.Check(); !s.ok()) return s;
  control.set_time_limit(absl::Now() + max_job_time);
  return CatchExceptions(
      [&] {
        return job.Run({control, queue_wait}, response);
      },
      "the job", "the job ran out of memory; send a smaller problem");
}

// The service takes and sends raw bytes so that a request that is not a valid
// message gets INVALID_ARGUMENT with a message (gRPC's own answer was
// UNIMPLEMENTED with none).
template <typename Message>
absl::Status ParseRequest(const grpc::ByteBuffer& raw, Message* message) {
  grpc::ByteBuffer copy(raw);  // shares the slices
  if (!grpc::SerializationTraits<Message>::Deserialize(&copy, message).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not a valid ", message->GetTypeName(),
                     " message (check the client's ot.v1 protos)"));
  }
  return absl::OkStatus();
}

template <typename Message>
absl::Status SerializeResponse(const Message& message, grpc::ByteBuffer* out) {
  bool own = false;
  out->Clear();  // the writer needs an empty buffer (a stream reuses one)
  if (!grpc::SerializationTraits<Message>::Serialize(message, out, &own).ok()) {
    return absl::InternalError("the response could not be serialised");
  }
  return absl::OkStatus();
}

// Job::Decode with the same boundary as RunJob: an exception (e.g. bad_alloc
// while converting a request) fails this call only, with its own code.
template <typename Job>
auto DecodeJob(const typename Job::Request& request,
               const DecodeContext& decode)
    -> decltype(Job::Decode(request, decode)) {
  return CatchExceptions([&] { return Job::Decode(request, decode); },
                         "reading the request",
                         "out of memory while reading the request; send a "
                         "smaller one");
}

// The shape fields of a record that a request names: n, m and d of the
// source and target point clouds, when it has them.
template <typename Request>
void RecordShape(const Request& request, JobRecord* record) {
  if constexpr (requires { request.source().points(); }) {
    const auto& shape = request.source().points().shape();
    if (shape.size() == 2) {
      record->n = shape[0];
      record->d = shape[1];
    }
    const auto& target = request.target().points().shape();
    if (target.size() == 2) record->m = target[0];
  }
}

// The solver fields of a record from a response's diagnostics.
template <typename Response>
void RecordResult(const Response& response, JobRecord* record) {
  if constexpr (requires { response.diagnostics(); }) {
    const ot::v1::Diagnostics& d = response.diagnostics();
    record->has_result = true;
    if (auto core = FromProto(d.method())) {
      record->method = std::string(otcore::MethodName(*core));
    }
    if (d.n() > 0) record->n = d.n();
    if (d.m() > 0) record->m = d.m();
    record->iterations = d.iterations();
    record->converged = d.converged();
    record->solve_seconds = d.solve_seconds();
    record->queue_seconds = d.queue_seconds();
  }
}

// Completes `record` with the call's status and hands it to the metrics and
// the request log.
void Observe(const ServiceEnv& env, JobRecord* record,
             const absl::Status& status) {
  record->code = status.code();
  if (!status.ok()) record->error = std::string(status.message());
  record->total_seconds = absl::ToDoubleSeconds(absl::Now() - record->time);
  env.Observe(*record);
}

// The device a request asks for (SolverOptions.device; AUTO without one).
template <typename Request>
ot::v1::Device DevicePreference(const Request& request) {
  if constexpr (requires { request.options().device(); }) {
    return request.options().device();
  } else if constexpr (requires { request.items(0).options().device(); }) {
    // A batch: GPU when an item asks for it, CPU when all do, else AUTO.
    bool all_cpu = request.items_size() > 0;
    for (const auto& item : request.items()) {
      if (item.options().device() == ot::v1::DEVICE_GPU) {
        return ot::v1::DEVICE_GPU;
      }
      all_cpu = all_cpu && item.options().device() == ot::v1::DEVICE_CPU;
    }
    return all_cpu ? ot::v1::DEVICE_CPU : ot::v1::DEVICE_AUTO;
  } else {
    return ot::v1::DEVICE_AUTO;
  }
}

// The reduction precision a request asks for (float32 when a batch item
// does).
template <typename Request>
otcore::Precision PrecisionOf(const Request& request) {
  auto of = [](ot::v1::Precision p) {
    return p == ot::v1::PRECISION_FLOAT32 ? otcore::Precision::kFloat32
                                          : otcore::Precision::kFloat64;
  };
  if constexpr (requires { request.options().precision(); }) {
    return of(request.options().precision());
  } else if constexpr (requires { request.items(0).options().precision(); }) {
    for (const auto& item : request.items()) {
      if (of(item.options().precision()) == otcore::Precision::kFloat32) {
        return otcore::Precision::kFloat32;
      }
    }
    return otcore::Precision::kFloat64;
  } else {
    return otcore::Precision::kFloat64;
  }
}

// What a job would run on a GPU; jobs without Gpu() have no GPU path.
template <typename Job>
GpuWork GpuWorkOf(const Job& job) {
  if constexpr (requires { job.Gpu(); }) {
    return job.Gpu();
  } else {
    GpuWork w;
    w.unsupported_reason = "this RPC has no GPU implementation";
    return w;
  }
}

// Where an admitted job runs and what it is charged.
struct Placement {
  Scheduler* scheduler = nullptr;
  int64_t bytes = 0;  // host bytes on the CPU, device bytes on a GPU
  bool gpu = false;
  int slot = 0;
  std::string device = "cpu";
};

template <typename Request, typename Job>
absl::StatusOr<Placement> Place(const ServiceEnv& env, const Request& request,
                                const Job& job, int64_t host_bytes) {
  const GpuWork work = GpuWorkOf(job);
  ASSIGN_OR_RETURN(const GpuPool::Route route,
                   env.gpus->Choose(DevicePreference(request), work));
  if (!route.gpu) return Placement{env.scheduler, host_bytes};
  return Placement{&env.gpus->scheduler(route.slot), work.DeviceBytes(), true,
                   route.slot, env.gpus->DeviceName(route.slot)};
}

// The device kernels a GPU job runs on (kept alive for its solve).
struct DeviceKernels {
  std::unique_ptr<otcore::EntropicKernels> entropic;
  std::unique_ptr<otcore::SlicedKernels> sliced;
};

// The CPU's kernels at `precision` (none needed for float64: the solvers'
// default).
DeviceKernels CpuKernels(otcore::Precision precision,
                         otcore::SolveControl* control) {
  if (precision == otcore::Precision::kFloat64) return {};
  DeviceKernels k;
  k.entropic = otcore::MakeCpuEntropicKernels(precision);
  control->set_entropic_kernels(k.entropic.get());
  return k;
}

// On a GPU placement: the device's kernels, set on `control`. Where the
// device cannot make them the job runs on the CPU and `device` says so.
DeviceKernels AttachKernels(const ServiceEnv& env, const Placement& placement,
                            otcore::Precision precision,
                            otcore::SolveControl* control,
                            std::string* device) {
  *device = placement.device;
  if (!placement.gpu) return CpuKernels(precision, control);
  const int id = env.gpus->device_id(placement.slot);
  auto entropic = env.gpus->backend().Kernels(id, precision);
  auto sliced = env.gpus->backend().Sliced(id);
  if (!entropic.ok() || !sliced.ok()) {
    *device = "cpu";
    return CpuKernels(precision, control);
  }
  control->set_entropic_kernels(entropic->get());
  control->set_sliced_kernels(sliced->get());
  return {*std::move(entropic), *std::move(sliced)};
}

// Diagnostics.device and .precision (the device kernels' when the job had
// them), on responses that have diagnostics.
template <typename Response>
void MarkDevice(const std::string& device, const DeviceKernels& kernels,
                Response* response) {
  const std::string precision(kernels.entropic ? kernels.entropic->precision()
                                               : "float64");
  if constexpr (requires { response->mutable_diagnostics(); }) {
    response->mutable_diagnostics()->set_device(device);
    response->mutable_diagnostics()->set_precision(precision);
  } else if constexpr (requires { response->mutable_items(); }) {
    // Items the job ran on the CPU say so already.
    for (auto& item : *response->mutable_items()) {
      if (item.has_result() && item.result().diagnostics().device().empty()) {
        item.mutable_result()->mutable_diagnostics()->set_device(device);
        item.mutable_result()->mutable_diagnostics()->set_precision(precision);
      }
    }
  }
}

// Why a placement's scheduler refused: a GPU job too large for its device
// names the device memory.
absl::Status PlacementRefusal(const ServiceEnv& env, const Placement& p,
                              Scheduler::Admission admission,
                              absl::string_view tenant) {
  if (p.gpu && admission == Scheduler::Admission::kTooLarge) {
    return env.gpus->TooLargeStatus(p.slot, p.bytes);
  }
  return RefusalStatus(admission, *p.scheduler, tenant);
}

// Authenticates, then decodes on this (gRPC) thread and runs on a worker,
// which finishes the call; RESOURCE_EXHAUSTED at once when the scheduler (or
// the tenant's share of it) is full.
template <typename Job>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer& raw_request,
                                grpc::ByteBuffer* raw_response,
                                const ServiceEnv& env, absl::string_view rpc) {
  auto record = std::make_shared<JobRecord>();
  record->time = absl::Now();
  record->rpc = std::string(rpc);
  record->bytes_in = static_cast<int64_t>(raw_request.Length());
  auto finish_now = [&](const absl::Status& status) {
    Observe(env, record.get(), status);
    return FinishNow(context, status);
  };
  absl::StatusOr<Tenant> tenant =
      env.auth->Authenticate(context->client_metadata());
  if (!tenant.ok()) return finish_now(tenant.status());
  record->tenant = tenant->name;
  Scheduler* scheduler = env.scheduler;
  // Refused before parsing when the scheduler could not take even the request
  // (busy workers, or a memory budget that cannot hold it): under overload
  // this keeps parsed copies of refused requests out of memory.
  const Scheduler::Admission early =
      scheduler->Precheck(record->bytes_in, *tenant);
  if (early != Scheduler::Admission::kAdmitted) {
    return finish_now(RefusalStatus(early, *scheduler, tenant->name));
  }
  // The request and the job that views it live until the call ends.
  auto request = std::make_shared<typename Job::Request>();
  if (absl::Status s = ParseRequest(raw_request, request.get()); !s.ok()) {
    return finish_now(s);
  }
  RecordShape(*request, record.get());
  auto decoded = DecodeJob<Job>(*request, env.decode);
  if (!decoded.ok()) return finish_now(decoded.status());
  std::shared_ptr<const Job> job = *std::move(decoded);
  // The request stays in memory until the call ends: it counts too.
  absl::StatusOr<Placement> placement = Place(
      env, *request, *job,
      static_cast<int64_t>(request->ByteSizeLong()) + job->WorkingBytes());
  if (!placement.ok()) return finish_now(placement.status());
  auto control = MakeControl(context, scheduler);
  auto* reactor = new JobReactor(control);
  const Scheduler::Admission admission = placement->scheduler->TrySubmit(
      [reactor, control, request, job, raw_response, record, &env,
       where = *placement](absl::Duration queue_wait) {
        typename Job::Response response;
        std::string device;
        const auto kernels = AttachKernels(env, where, PrecisionOf(*request),
                                           control.get(), &device);
        absl::Status status =
            RunJob(*job, *control, queue_wait, env.max_job_time, &response);
        MarkDevice(device, kernels, &response);
        if (status.ok()) status = SerializeResponse(response, raw_response);
        if (status.ok()) {
          RecordResult(response, record.get());
          record->bytes_out = static_cast<int64_t>(raw_response->Length());
        }
        record->queue_seconds = absl::ToDoubleSeconds(queue_wait);
        Observe(env, record.get(), status);
        reactor->Finish(ToGrpcStatus(status));  // the reactor may go now
      },
      placement->bytes, *tenant);
  if (admission != Scheduler::Admission::kAdmitted) {
    const absl::Status refusal =
        PlacementRefusal(env, *placement, admission, record->tenant);
    Observe(env, record.get(), refusal);
    reactor->Finish(ToGrpcStatus(refusal));
  }
  return reactor;
}

// Streams progress events and then the result of one job (Event: a message
// with oneof progress / result, e.g. DistanceEvent). Writes are serialised
// (one in flight); progress events are coalesced to the newest. Lifetime: one
// reference for gRPC (dropped in OnDone) and one for the job.
template <typename Event>
class StreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  void Progress(const otcore::Progress& p) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    Event event;
    auto* e = event.mutable_progress();
    e->set_iteration(p.iteration);
    e->set_error(p.error);
    e->set_epsilon(p.epsilon);
    e->set_elapsed_seconds(p.elapsed_seconds);
    pending_progress_ = std::move(event);
    PumpLocked();
  }
  // The job's end: the result event (when ok) then the status.
  void Complete(const absl::Status& status, Event result)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    finishing_ = true;
    status_ = ToGrpcStatus(status);
    pending_progress_.reset();
    if (status.ok()) pending_result_ = std::move(result);
    PumpLocked();
  }
  void Release() { Unref(); }
  void set_control(std::shared_ptr<otcore::SolveControl> control) {
    control_ = std::move(control);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {  // the stream is broken (cancelled); stop writing
      pending_progress_.reset();
      pending_result_.reset();
    }
    PumpLocked();
  }
  void OnCancel() override {
    if (control_) control_->Cancel();
  }
  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    Unref();
  }

 private:
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || done_ || finished_) return;
    if (pending_progress_) {
      SerializeResponse(*pending_progress_, &current_).IgnoreError();
      pending_progress_.reset();
    } else if (pending_result_) {
      SerializeResponse(*pending_result_, &current_).IgnoreError();
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

  // Set before the job is submitted; read by OnCancel.
  std::shared_ptr<otcore::SolveControl> control_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Event> pending_progress_ ABSL_GUARDED_BY(mu_);
  std::optional<Event> pending_result_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> refs_{2};
};

}  // namespace

void ServiceEnv::Observe(const JobRecord& record) const {
  if (metrics != nullptr) metrics->Record(record);
  if (log_format != LogFormat::kNone) {
    const std::string line = FormatLogLine(record, log_format) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);  // one write per line
  }
}

grpc::ServerUnaryReactor* OtService::Distance(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<DistanceJob>(context, *request, response, env_, "Distance");
}

grpc::ServerUnaryReactor* OtService::Plan(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) {
  return Serve<PlanJob>(context, *request, response, env_, "Plan");
}

grpc::ServerUnaryReactor* OtService::Divergence(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<DivergenceJob>(context, *request, response, env_, "Divergence");
}

grpc::ServerUnaryReactor* OtService::Barycenter(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<BarycenterJob>(context, *request, response, env_, "Barycenter");
}

grpc::ServerUnaryReactor* OtService::DistanceBatch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<DistanceBatchJob>(context, *request, response, env_,
                                 "DistanceBatch");
}

grpc::ServerUnaryReactor* OtService::GromovWasserstein(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<GromovJob>(context, *request, response, env_,
                          "GromovWasserstein");
}

grpc::ServerUnaryReactor* OtService::Map(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) {
  return Serve<MapJob>(context, *request, response, env_, "Map");
}

grpc::ServerUnaryReactor* OtService::SemiDiscrete(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<SemiDiscreteJob>(context, *request, response, env_,
                                "SemiDiscrete");
}

// Authenticates, decodes and admits like Serve, then runs the job with its
// progress streamed before the result event.
template <typename Job, typename Event>
grpc::ServerWriteReactor<grpc::ByteBuffer>* ServeStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer& raw_request,
    const ServiceEnv& env, absl::string_view rpc) {
  auto* reactor = new StreamReactor<Event>();
  auto record = std::make_shared<JobRecord>();
  record->time = absl::Now();
  record->rpc = std::string(rpc);
  record->bytes_in = static_cast<int64_t>(raw_request.Length());
  auto refuse = [&](const absl::Status& status) {
    Observe(env, record.get(), status);
    reactor->Complete(status, {});
    reactor->Release();
    return reactor;
  };
  absl::StatusOr<Tenant> tenant =
      env.auth->Authenticate(context->client_metadata());
  if (!tenant.ok()) return refuse(tenant.status());
  record->tenant = tenant->name;
  auto request = std::make_shared<typename Job::Request>();
  if (absl::Status s = ParseRequest(raw_request, request.get()); !s.ok()) {
    return refuse(s);
  }
  RecordShape(*request, record.get());
  auto decoded = DecodeJob<Job>(*request, env.decode);
  if (!decoded.ok()) return refuse(decoded.status());
  std::shared_ptr<const Job> job = *std::move(decoded);
  absl::StatusOr<Placement> placement = Place(
      env, *request, *job,
      static_cast<int64_t>(request->ByteSizeLong()) + job->WorkingBytes());
  if (!placement.ok()) return refuse(placement.status());
  auto control = MakeControl(context, env.scheduler);
  control->set_progress_callback(
      [reactor](const otcore::Progress& p) { reactor->Progress(p); });
  reactor->set_control(control);
  const Scheduler::Admission admission = placement->scheduler->TrySubmit(
      [reactor, control, request, job, record, env = &env,
       where = *placement](absl::Duration queue_wait) {
        Event event;
        std::string device;
        const auto kernels = AttachKernels(*env, where, PrecisionOf(*request),
                                           control.get(), &device);
        const absl::Status status =
            RunJob(*job, *control, queue_wait, env->max_job_time,
                   event.mutable_result());
        MarkDevice(device, kernels, event.mutable_result());
        if (status.ok()) {
          RecordResult(event.result(), record.get());
          record->bytes_out = static_cast<int64_t>(event.ByteSizeLong());
        }
        record->queue_seconds = absl::ToDoubleSeconds(queue_wait);
        Observe(*env, record.get(), status);
        reactor->Complete(status, std::move(event));
        reactor->Release();
      },
      placement->bytes, *tenant);
  if (admission != Scheduler::Admission::kAdmitted) {
    return refuse(PlacementRefusal(env, *placement, admission, tenant->name));
  }
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* OtService::DistanceStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  return ServeStream<DistanceJob, ot::v1::DistanceEvent>(
      context, *raw_request, env_, "DistanceStream");
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* OtService::GromovWassersteinStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  return ServeStream<GromovJob, ot::v1::GromovEvent>(
      context, *raw_request, env_, "GromovWassersteinStream");
}

grpc::ServerUnaryReactor* OtService::GetServerInfo(
    grpc::CallbackServerContext* context, const ot::v1::GetServerInfoRequest*,
    ot::v1::GetServerInfoResponse* response) {
  if (!env_.public_server_info) {
    absl::StatusOr<Tenant> tenant =
        env_.auth->Authenticate(context->client_metadata());
    if (!tenant.ok()) return FinishNow(context, tenant.status());
  }
  const Scheduler* scheduler = env_.scheduler;
  const DecodeContext& decode = env_.decode;
  response->set_version(otcore::kVersion);
  response->set_worker_threads(scheduler->threads());
  response->set_max_queue(scheduler->max_queue());
  response->set_max_message_bytes(decode.max_message_bytes);
  response->set_max_points(decode.limits.max_points);
  response->set_max_cost_entries(decode.limits.max_cost_entries);
  for (const ProtoMethod& row : ProtoMethods())
    response->add_methods(row.proto);
  // Every barycenter kind of the API is served (BarycenterJob::Decode).
  const auto* kinds = ot::v1::BarycenterKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    const int kind = kinds->value(i)->number();
    if (kind != ot::v1::BARYCENTER_KIND_UNSPECIFIED) {
      response->add_barycenter_kinds(static_cast<ot::v1::BarycenterKind>(kind));
    }
  }
  response->set_jobs_in_flight(scheduler->in_flight());
  env_.gpus->FillInfo(response);
  return FinishNow(context, absl::OkStatus());
}

}  // namespace otserve
