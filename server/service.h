// The ot.v1.OptimalTransportService implementation on gRPC's callback API.
// Handlers decode and validate on the gRPC thread (linear, cheap), then hand
// the solve to the Scheduler; the worker fills the response and finishes the
// call. Cancellation and deadlines reach the solver through SolveControl.
// Thread-safe: gRPC calls the handlers concurrently.
#ifndef OTSERVE_SERVER_SERVICE_H_
#define OTSERVE_SERVER_SERVICE_H_

#include <cstdint>

#include "ot/v1/service.grpc.pb.h"
#include "server/convert.h"
#include "server/scheduler.h"

namespace otserve {

inline constexpr char kVersion[] = "0.1.0";

class OtService final
    : public ot::v1::OptimalTransportService::CallbackService {
 public:
  // `scheduler` must outlive the service.
  OtService(Scheduler* scheduler, Limits limits, int64_t max_message_bytes)
      : scheduler_(scheduler),
        limits_(limits),
        max_message_bytes_(max_message_bytes) {}

  grpc::ServerUnaryReactor* Distance(
      grpc::CallbackServerContext* context,
      const ot::v1::DistanceRequest* request,
      ot::v1::DistanceResponse* response) override;
  grpc::ServerUnaryReactor* Plan(grpc::CallbackServerContext* context,
                                 const ot::v1::PlanRequest* request,
                                 ot::v1::PlanResponse* response) override;
  grpc::ServerUnaryReactor* Divergence(
      grpc::CallbackServerContext* context,
      const ot::v1::DivergenceRequest* request,
      ot::v1::DivergenceResponse* response) override;
  grpc::ServerUnaryReactor* Barycenter(
      grpc::CallbackServerContext* context,
      const ot::v1::BarycenterRequest* request,
      ot::v1::BarycenterResponse* response) override;
  grpc::ServerUnaryReactor* DistanceBatch(
      grpc::CallbackServerContext* context,
      const ot::v1::DistanceBatchRequest* request,
      ot::v1::DistanceBatchResponse* response) override;
  grpc::ServerWriteReactor<ot::v1::DistanceEvent>* DistanceStream(
      grpc::CallbackServerContext* context,
      const ot::v1::DistanceRequest* request) override;
  grpc::ServerUnaryReactor* GromovWasserstein(
      grpc::CallbackServerContext* context,
      const ot::v1::GromovRequest* request,
      ot::v1::GromovResponse* response) override;
  grpc::ServerUnaryReactor* Map(grpc::CallbackServerContext* context,
                                const ot::v1::MapRequest* request,
                                ot::v1::MapResponse* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const ot::v1::GetServerInfoRequest* request,
      ot::v1::GetServerInfoResponse* response) override;

 private:
  grpc::ServerUnaryReactor* FreeSupportBarycenter(
      grpc::CallbackServerContext* context,
      const ot::v1::BarycenterRequest* request,
      ot::v1::BarycenterResponse* response);
  grpc::ServerUnaryReactor* GridBarycenter(
      grpc::CallbackServerContext* context,
      const ot::v1::BarycenterRequest* request,
      ot::v1::BarycenterResponse* response);
  grpc::ServerUnaryReactor* FixedSupportBarycenter(
      grpc::CallbackServerContext* context,
      const ot::v1::BarycenterRequest* request,
      ot::v1::BarycenterResponse* response);

  Scheduler* const scheduler_;
  const Limits limits_;
  const int64_t max_message_bytes_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SERVICE_H_
