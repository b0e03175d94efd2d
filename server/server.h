// OtServer: owns the gRPC server, the scheduler and the service; adds health
// checking and reflection; drains on shutdown. Used by `otserve` and by the
// loopback tests. Thread-safe: Shutdown() may be called from any thread, once.
#ifndef OTSERVE_SERVER_SERVER_H_
#define OTSERVE_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/convert.h"
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
};

class OtServer {
 public:
  // Validates the options, binds and starts serving.
  static absl::StatusOr<std::unique_ptr<OtServer>> Start(
      const ServerOptions& options);
  ~OtServer();

  int port() const { return port_; }

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
  std::unique_ptr<OtService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_SERVER_H_
