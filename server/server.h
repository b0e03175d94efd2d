// OtServer: owns the gRPC server, the scheduler, authentication, metrics and
// the service; adds TLS, health checking, reflection and channelz; drains on
// shutdown. Used by `otserve` and by the
// loopback tests. Thread-safe: Shutdown() may be called from any thread, once.
#ifndef OTSERVE_SERVER_SERVER_H_
#define OTSERVE_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth.h"
#include "server/convert.h"
#include "server/gpu.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/scheduler.h"
#include "server/service.h"

namespace otserve {

struct ServerOptions {
  // host:port; port 0 picks a free port (see OtServer::port()).
  std::string listen = "127.0.0.1:50051";
  // Worker threads for solves (>= 1).
  int threads = 2;
  // Jobs that may wait for a worker (0..1000); more get RESOURCE_EXHAUSTED.
  int max_queue = 8;
  // Largest request and response, MiB (>= 1).
  int max_message_mb = 256;
  // Memory budget, MiB: jobs in flight (their requests and estimated working
  // memory) are admitted within it, and gRPC's buffers are bounded by it (a
  // ResourceQuota). >= 64.
  int64_t max_memory_mb = 4096;
  // Longest a job may run once started (DEADLINE_EXCEEDED after), > 0.
  absl::Duration max_job_time = absl::Minutes(5);
  Limits limits;

  // Shared-service options (README "Operating a shared server").
  // PEM files: server certificate chain and key enable TLS; a client CA also
  // requires and verifies client certificates (mutual TLS).
  std::string tls_cert, tls_key, tls_client_ca;
  // Token file ("<token> <tenant> [weight]" lines); empty: open server.
  std::string auth_tokens;
  // GetServerInfo answers without a token.
  bool public_server_info = false;
  // Per-tenant bounds on jobs (queued + running) and MiB in flight; -1: with
  // auth_tokens max(1, max_queue) jobs and half the jobs' memory budget,
  // without (one tenant) no bound.
  int tenant_max_jobs = -1;
  int64_t tenant_max_memory_mb = -1;
  // host:port of the Prometheus endpoint; empty: none.
  std::string metrics_listen;
  LogFormat log_format = LogFormat::kNone;
  bool reflection = true;
  bool channelz = false;
  // Connections are closed (GOAWAY) after this age so that clients
  // re-resolve and reach new replicas; 0: never. In-flight calls get
  // max_job_time to finish.
  absl::Duration max_connection_age = absl::Minutes(5);
  // Server keepalive pings on idle connections (and the client ping interval
  // it accepts).
  absl::Duration keepalive_time = absl::Seconds(60);

  // GPUs (--gpus ...) and the backend that provides them: null = CUDA (tests
  // pass a FakeGpuBackend, which must outlive the server).
  GpuOptions gpu;
  const otcore::gpu::GpuBackend* gpu_backend = nullptr;
};

// Worker threads for --threads=0: the CPUs this process may use, i.e. its
// affinity mask bounded by a cgroup CPU quota (a container's CPU limit:
// cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up.
int DefaultThreads();
// The quota in CPUs of a cgroup v2 cpu.max line ("200000 100000" -> 2,
// "150000 100000" -> 2, "max 100000" -> 0 = no quota).
int CpusFromCpuMax(absl::string_view cpu_max);

class OtServer {
 public:
  // Validates the options, binds and starts serving.
  static absl::StatusOr<std::unique_ptr<OtServer>> Start(
      const ServerOptions& options);
  ~OtServer();

  int port() const { return port_; }
  // Port of the metrics endpoint (0 when there is none).
  int metrics_port() const;
  // Re-reads the token file (SIGHUP); the old tokens stay on error.
  absl::StatusOr<size_t> ReloadTokens() { return auth_->Reload(); }
  bool open() const { return auth_->open(); }
  // The GPUs in use ("cuda:0 (NVIDIA H100 ...)", ...), for the start line.
  std::string GpuSummary() const;

  // Health goes NOT_SERVING (and still answers), new jobs are refused with
  // UNAVAILABLE, in-flight jobs get until `drain` to finish; then the server
  // stops and cancels what still runs. Returns true when every job has
  // stopped, false if one was still running `grace` after the cancel (e.g.
  // inside an eigendecomposition); the caller may then exit regardless.
  bool Shutdown(absl::Duration drain,
                absl::Duration grace = absl::Milliseconds(500));

 private:
  OtServer() = default;

  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<GpuPool> gpus_;
  std::unique_ptr<TokenAuth> auth_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<OtService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SERVER_H_
