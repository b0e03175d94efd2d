// The ot.v1.OptimalTransportService on gRPC's callback API: reactors and
// one-line handlers. Each handler serves one job type (server/jobs/): Decode
// on the gRPC thread, then Run on a Scheduler worker, which finishes the call.
// Cancellation and deadlines reach the solver through SolveControl.
// Thread-safe: gRPC calls the handlers concurrently.
#ifndef OTSERVE_SERVER_SERVICE_H_
#define OTSERVE_SERVER_SERVICE_H_

#include <cstdint>

#include "absl/time/time.h"
#include "ot/v1/service.grpc.pb.h"
#include "server/auth.h"
#include "server/gpu.h"
#include "server/jobs/jobs.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace otserve {

// The job RPCs take raw bytes (parsed in Serve, so that a malformed message
// gets INVALID_ARGUMENT); GetServerInfo is a typed callback.
using RawService = ot::v1::OptimalTransportService::WithRawCallbackMethod_Distance<
    ot::v1::OptimalTransportService::WithRawCallbackMethod_Plan<
        ot::v1::OptimalTransportService::WithRawCallbackMethod_Divergence<
            ot::v1::OptimalTransportService::WithRawCallbackMethod_Barycenter<
                ot::v1::OptimalTransportService::WithRawCallbackMethod_DistanceBatch<
                    ot::v1::OptimalTransportService::
                        WithRawCallbackMethod_DistanceStream<
                            ot::v1::OptimalTransportService::
                                WithRawCallbackMethod_GromovWasserstein<
                                    ot::v1::OptimalTransportService::
                                        WithRawCallbackMethod_Map<
                                            ot::v1::OptimalTransportService::
                                                WithRawCallbackMethod_SemiDiscrete<
                                                    ot::v1::OptimalTransportService::
                                                        WithRawCallbackMethod_GromovWassersteinStream<
                                                            ot::v1::OptimalTransportService::
                                                                WithCallbackMethod_GetServerInfo<
                                                                    ot::v1::OptimalTransportService::
                                                                        Service>>>>>>>>>>>;

// What every handler shares. The pointers must outlive the service.
struct ServiceEnv {
  Scheduler* scheduler = nullptr;
  DecodeContext decode;
  // Each job may run for at most this long (then DEADLINE_EXCEEDED),
  // whatever the caller's deadline.
  absl::Duration max_job_time = absl::Minutes(5);
  const TokenAuth* auth = nullptr;  // never null
  Metrics* metrics = nullptr;       // null: no metrics
  LogFormat log_format = LogFormat::kNone;
  // GetServerInfo answers without a token.
  bool public_server_info = false;
  // The GPUs (never null; empty without --gpus).
  GpuPool* gpus = nullptr;

  // Counts a finished or refused call and writes its log line.
  void Observe(const JobRecord& record) const;
};

class OtService final : public RawService {
 public:
  explicit OtService(ServiceEnv env) : env_(std::move(env)) {}

  grpc::ServerUnaryReactor* Distance(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Plan(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Divergence(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Barycenter(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DistanceBatch(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* DistanceStream(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* GromovWasserstein(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* GromovWassersteinStream(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Map(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SemiDiscrete(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const ot::v1::GetServerInfoRequest* request,
      ot::v1::GetServerInfoResponse* response) override;

 private:
  const ServiceEnv env_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SERVICE_H_
