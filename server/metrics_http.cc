// cpp-httplib glue for the scrape endpoint.
#include "server/metrics_http.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otserve {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, const Metrics* metrics) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen must be host:port, got \"", listen, "\""));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);  // [::1]
  }
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  s->http_ = std::make_unique<httplib::Server>();
  s->http_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  s->http_->Get("/metrics", [metrics](const httplib::Request&,
                                      httplib::Response& response) {
    response.set_content(metrics->Render(),
                         "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    s->port_ = s->http_->bind_to_any_port(host);
  } else if (s->http_->bind_to_port(host, port)) {
    s->port_ = port;
  }
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " for metrics"));
  }
  httplib::Server* http = s->http_.get();
  s->thread_ = std::thread([http]() { http->listen_after_bind(); });
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace otserve
