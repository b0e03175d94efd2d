// The Prometheus scrape endpoint: GET /metrics on its own port
// (--metrics_listen), served by cpp-httplib with one thread. Thread-safe;
// the destructor stops the server and joins its thread.
#ifndef OTSERVE_SERVER_METRICS_HTTP_H_
#define OTSERVE_SERVER_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace httplib {
class Server;
}

namespace otserve {

class MetricsHttpServer {
 public:
  // Listens on `listen` (host:port; port 0 picks one) and serves `metrics`,
  // which must outlive this server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const Metrics* metrics);
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_METRICS_HTTP_H_
