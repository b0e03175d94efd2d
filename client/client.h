// otserve C++ client: typed calls on Eigen matrices to
// ot.v1.OptimalTransportService, with per-call deadlines and absl::StatusOr
// results. Calls are balanced over the target's addresses (round_robin) and
// retried on UNAVAILABLE (the service config, then up to 3 fresh attempts,
// backoff 50 ms x 2^k); all methods are idempotent. Thread-safe: one Client may
// be shared by many threads.
#ifndef OTSERVE_CLIENT_CLIENT_H_
#define OTSERVE_CLIENT_CLIENT_H_

#include <grpcpp/support/channel_arguments.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/common/eigen.h"
#include "ot/v1/service.grpc.pb.h"

namespace otclient {

using RowMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A discrete measure: points [n, d] (may be empty with an explicit cost) and
// weights [n] (empty = uniform).
struct Measure {
  RowMatrix points;
  Eigen::VectorXd weights;
};

struct Request {
  Measure source, target;
  ot::v1::CostKind cost = ot::v1::COST_KIND_SQEUCLIDEAN;
  double p = 2.0;         // exponent for COST_KIND_POWER
  RowMatrix cost_matrix;  // [n, m] for COST_KIND_EXPLICIT
  ot::v1::Method method = ot::v1::METHOD_AUTO;
  std::optional<double> epsilon;
  ot::v1::EpsilonScale epsilon_scale = ot::v1::EPSILON_SCALE_ABSOLUTE;
  std::optional<double> tolerance;
  std::optional<int64_t> max_iterations;
  std::optional<bool> epsilon_scaling;
  // METHOD_UNBALANCED_SINKHORN: lambda (POT's reg_m).
  std::optional<double> marginal_relaxation;
  // Sliced methods.
  std::optional<int64_t> num_directions;
  std::optional<uint64_t> seed;
  // Per-call deadline; infinite when unset.
  absl::Duration timeout = absl::InfiniteDuration();
};

struct DistanceResult {
  double value = 0.0;
  double regularized_value = 0.0;
  double distance = 0.0;  // value^(1/p)
  ot::v1::Diagnostics diagnostics;
};

struct PlanResult {
  double value = 0.0;
  double regularized_value = 0.0;
  ot::v1::Diagnostics diagnostics;
  RowMatrix plan;        // dense [n, m]; empty for METHOD_GAUSSIAN
  Eigen::VectorXd f, g;  // empty when the method has none
  // METHOD_GAUSSIAN: the Monge map x -> map_matrix x + map_offset.
  RowMatrix map_matrix;
  Eigen::VectorXd map_offset;
};

// How to reach the servers. Paths name PEM files.
struct ClientOptions {
  // Calls wait for a reachable server instead of failing at once.
  bool wait_for_ready = false;
  // Extra channel arguments (keepalive, ...), applied last.
  grpc::ChannelArguments channel_args;
  std::string token;  // sent as "authorization: Bearer <token>"
  bool tls = false;   // TLS with the system's roots or root_certificates
  std::string root_certificates;
  std::string client_cert, client_key;  // for mutual TLS
  // OTSERVE_TOKEN, OTSERVE_TLS (1/true), OTSERVE_TLS_CA (implies TLS),
  // OTSERVE_TLS_CERT, OTSERVE_TLS_KEY.
  static ClientOptions FromEnvironment();
};

class Client {
 public:
  // Connects lazily to `target` ("host:port"), insecure channel, 256 MiB
  // messages.
  static std::unique_ptr<Client> Create(const std::string& target);
  // `target`: "host:port", a scheme target ("dns:///name:port", every address
  // it resolves to), or several "ip:port" separated by commas. Calls are
  // balanced per call (round_robin) and retried on UNAVAILABLE by the
  // service config of proto/ot/v1/service_config.json. Errors for a bad
  // target list or unreadable PEM files.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      const std::string& target, const ClientOptions& options);
  explicit Client(std::shared_ptr<grpc::Channel> channel);

  absl::StatusOr<DistanceResult> Distance(const Request& request);
  absl::StatusOr<PlanResult> Plan(const Request& request);
  absl::StatusOr<ot::v1::GetServerInfoResponse> ServerInfo(
      absl::Duration timeout = absl::Seconds(10));
  // Distance with progress events passed to `on_progress` as they arrive.
  absl::StatusOr<DistanceResult> DistanceStream(
      const Request& request,
      const std::function<void(const ot::v1::Progress&)>& on_progress);
  // Many problems in one call; one result or error per request, in order.
  absl::StatusOr<std::vector<absl::StatusOr<DistanceResult>>> DistanceBatch(
      const std::vector<Request>& requests,
      absl::Duration timeout = absl::InfiniteDuration());
  // Raw-proto calls for the other job types (see proto/ot/v1/service.proto).
  absl::StatusOr<ot::v1::DivergenceResponse> Divergence(
      const ot::v1::DivergenceRequest& request,
      absl::Duration timeout = absl::InfiniteDuration());
  absl::StatusOr<ot::v1::BarycenterResponse> Barycenter(
      const ot::v1::BarycenterRequest& request,
      absl::Duration timeout = absl::InfiniteDuration());
  absl::StatusOr<ot::v1::MapResponse> Map(
      const ot::v1::MapRequest& request,
      absl::Duration timeout = absl::InfiniteDuration());
  absl::StatusOr<ot::v1::GromovResponse> GromovWasserstein(
      const ot::v1::GromovRequest& request,
      absl::Duration timeout = absl::InfiniteDuration());
  // As GromovWasserstein, with on_progress called per outer step while the
  // server works (GromovWassersteinStream).
  absl::StatusOr<ot::v1::GromovResponse> GromovWassersteinStream(
      const ot::v1::GromovRequest& request,
      const std::function<void(const ot::v1::Progress&)>& on_progress,
      absl::Duration timeout = absl::InfiniteDuration());

  // Proto building blocks, exposed for tests and tools.
  static void ToProto(const Request& request, ot::v1::DistanceRequest* out);
  static void ToProto(const Request& request, ot::v1::PlanRequest* out);

 private:
  std::unique_ptr<ot::v1::OptimalTransportService::Stub> stub_;
  std::string token_;
};

// grpc::Status -> absl::Status; field violations from google.rpc.BadRequest are
// appended to the message as "field: description".
absl::Status FromGrpcStatus(const grpc::Status& status);

// Little-endian float64 Array helpers. SetArray replaces the whole Array.
void SetArray(const double* data, std::initializer_list<int64_t> shape,
              ot::v1::Array* out);
absl::StatusOr<RowMatrix> GetArray(const ot::v1::Array& array);

// The method spelled as the API names it: each ot.v1.Method value's
// (ot.v1.cli_name) option, e.g. "exact", "1d", "max_sliced" ('-' may stand
// for '_'); nullopt for an unknown name.
std::optional<ot::v1::Method> MethodFromName(std::string name);
// Every method name, comma-separated, for usage messages.
std::string MethodNames();

}  // namespace otclient

#endif  // OTSERVE_CLIENT_CLIENT_H_
