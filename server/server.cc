// OtServer: builder setup, health, reflection, drain.
#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"

namespace otserve {

absl::StatusOr<std::unique_ptr<OtServer>> OtServer::Start(
    const ServerOptions& o) {
  if (o.threads < 1 || o.threads > 1024) {
    return absl::InvalidArgumentError("--threads must be in [1, 1024]");
  }
  if (o.max_queue < 0 || o.max_queue > 1000) {
    return absl::InvalidArgumentError("--max_queue must be in [0, 1000]");
  }
  if (o.max_memory_mb < 64) {
    return absl::InvalidArgumentError("--max_memory_mb must be >= 64");
  }
  if (o.max_message_mb < 1 || o.max_message_mb > 2047) {
    return absl::InvalidArgumentError("--max_message_mb must be in [1, 2047]");
  }
  if (!(o.max_job_time > absl::ZeroDuration())) {
    return absl::InvalidArgumentError("--max_job_seconds must be > 0");
  }
  if (o.limits.max_points < 1 || o.limits.max_cost_entries < 1 ||
      o.limits.max_dense_dimension < 1) {
    return absl::InvalidArgumentError("size limits must be >= 1");
  }
  std::unique_ptr<OtServer> s(new OtServer());
  const int64_t max_bytes = int64_t{o.max_message_mb} << 20;
  // Half the budget for admitted jobs (their requests and working memory), a
  // quarter for gRPC's buffers of requests still arriving (a ResourceQuota),
  // whose parsed copies may briefly take as much again.
  const int64_t budget = o.max_memory_mb << 20;
  s->scheduler_ =
      std::make_unique<Scheduler>(o.threads, o.max_queue, budget / 2);
  s->service_ = std::make_unique<OtService>(s->scheduler_.get(), o.limits,
                                            max_bytes, o.max_job_time);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen, grpc::InsecureServerCredentials(),
                           &s->port_);
  grpc::ResourceQuota quota("otserve");
  quota.Resize(static_cast<size_t>(budget / 4));
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(max_bytes));
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen));
  }
  auto* health = s->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus("ot.v1.OptimalTransportService", true);
  return s;
}

bool OtServer::Shutdown(absl::Duration drain, absl::Duration grace) {
  if (shut_down_.exchange(true)) return scheduler_->WaitIdle(absl::Now());
  // Still serving: health checks read NOT_SERVING, new jobs UNAVAILABLE.
  server_->GetHealthCheckService()->SetServingStatus(false);
  scheduler_->StopAdmitting();
  scheduler_->WaitIdle(absl::Now() + drain);
  // Stops the server; calls still running are cancelled, which reaches their
  // solves through OnCancel.
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  return scheduler_->WaitIdle(absl::Now() + grace);
}

OtServer::~OtServer() {
  Shutdown(absl::ZeroDuration(), absl::InfiniteDuration());
  server_->Wait();
  scheduler_->WaitIdle(absl::InfiniteFuture());
}

}  // namespace otserve
