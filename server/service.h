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
#include "server/jobs/jobs.h"
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
                                                WithCallbackMethod_GetServerInfo<
                                                    ot::v1::
                                                        OptimalTransportService::
                                                            Service>>>>>>>>>;

class OtService final : public RawService {
 public:
  // `scheduler` must outlive the service. Each job may run for at most
  // `max_job_time` (then DEADLINE_EXCEEDED), whatever the caller's deadline.
  OtService(Scheduler* scheduler, Limits limits, int64_t max_message_bytes,
            absl::Duration max_job_time)
      : scheduler_(scheduler),
        context_{limits, max_message_bytes},
        max_job_time_(max_job_time) {}

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
  grpc::ServerUnaryReactor* Map(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const ot::v1::GetServerInfoRequest* request,
      ot::v1::GetServerInfoResponse* response) override;

 private:
  Scheduler* const scheduler_;
  const DecodeContext context_;
  const absl::Duration max_job_time_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SERVICE_H_
