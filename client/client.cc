// otserve C++ client implementation.
#include "client/client.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/service_config.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace otclient {
namespace {

constexpr int kMaxAttempts = 3;

// A call's deadline and bearer token.
void Prepare(const std::string& token, absl::Duration timeout,
             grpc::ClientContext* context) {
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

template <typename Call>
grpc::Status CallWithRetry(const std::string& token, absl::Duration timeout,
                           Call call) {
  grpc::Status status;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    grpc::ClientContext context;
    Prepare(token, timeout, &context);
    status = call(&context);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
  }
  return status;
}

template <typename Proto>
void FillCommon(const Request& r, Proto* out) {
  for (auto [m, proto] : {std::pair{&r.source, out->mutable_source()},
                          std::pair{&r.target, out->mutable_target()}}) {
    if (m->points.size() > 0) {
      SetArray(m->points.data(), {m->points.rows(), m->points.cols()},
               proto->mutable_points());
    }
    if (m->weights.size() > 0) {
      SetArray(m->weights.data(), {m->weights.size()},
               proto->mutable_weights());
    }
  }
  out->mutable_cost()->set_kind(r.cost);
  out->mutable_cost()->set_p(r.p);
  if (r.cost == ot::v1::COST_KIND_EXPLICIT) {
    SetArray(r.cost_matrix.data(), {r.cost_matrix.rows(), r.cost_matrix.cols()},
             out->mutable_cost()->mutable_matrix());
  }
  out->set_method(r.method);
  auto* o = out->mutable_options();
  if (r.epsilon) o->set_epsilon(*r.epsilon);
  o->set_epsilon_scale(r.epsilon_scale);
  if (r.tolerance) o->set_tolerance(*r.tolerance);
  if (r.max_iterations) o->set_max_iterations(*r.max_iterations);
  if (r.epsilon_scaling) o->set_epsilon_scaling(*r.epsilon_scaling);
  if (r.marginal_relaxation) o->set_marginal_relaxation(*r.marginal_relaxation);
  if (r.num_directions) o->set_num_directions(*r.num_directions);
  if (r.seed) o->set_seed(*r.seed);
}

DistanceResult FromProto(const ot::v1::DistanceResponse& r) {
  return DistanceResult{r.value(), r.regularized_value(), r.distance(),
                        r.diagnostics()};
}

}  // namespace

void SetArray(const double* data, std::initializer_list<int64_t> shape,
              ot::v1::Array* out) {
  out->Clear();
  int64_t count = 1;
  for (int64_t s : shape) {
    out->add_shape(s);
    count *= s;
  }
  out->set_dtype(ot::v1::DTYPE_FLOAT64);
  out->set_data(reinterpret_cast<const char*>(data), count * sizeof(double));
}

absl::StatusOr<RowMatrix> GetArray(const ot::v1::Array& array) {
  if (array.shape_size() < 1 || array.shape_size() > 2) {
    return absl::InternalError("response array has an unexpected rank");
  }
  const int64_t rows = array.shape(0),
                cols = array.shape_size() == 2 ? array.shape(1) : 1;
  RowMatrix out(rows, cols);
  if (array.dtype() != ot::v1::DTYPE_FLOAT64 ||
      static_cast<int64_t>(array.data().size()) != rows * cols * 8) {
    return absl::InternalError("response array is not float64 of its shape");
  }
  std::memcpy(out.data(), array.data().data(), array.data().size());
  return out;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  google::rpc::Status details;
  if (!status.error_details().empty() &&
      details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      if (!any.UnpackTo(&bad)) continue;
      for (const auto& v : bad.field_violations()) {
        if (message.find(v.field()) == std::string::npos) {
          absl::StrAppend(&message, "; ", v.field(), ": ", v.description());
        }
      }
    }
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

std::unique_ptr<Client> Client::Create(const std::string& target) {
  return *Create(target, ClientOptions());
}

namespace {
absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

ClientOptions ClientOptions::FromEnvironment() {
  ClientOptions o;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  o.token = env("OTSERVE_TOKEN");
  o.root_certificates = env("OTSERVE_TLS_CA");
  o.client_cert = env("OTSERVE_TLS_CERT");
  o.client_key = env("OTSERVE_TLS_KEY");
  const std::string tls = env("OTSERVE_TLS");
  o.tls = (!tls.empty() && tls != "0" && tls != "false") ||
          !o.root_certificates.empty() || !o.client_cert.empty();
  return o;
}

// "ip:port,ip:port" -> "ipv4:..." (or ipv6:); other targets unchanged.
absl::StatusOr<std::string> ChannelTarget(const std::string& target) {
  const bool scheme_given =
      target.find("://") != std::string::npos ||
      absl::StartsWith(target, "ipv4:") || absl::StartsWith(target, "ipv6:") ||
      absl::StartsWith(target, "dns:") || absl::StartsWith(target, "unix:");
  if (scheme_given || target.find(',') == std::string::npos) return target;
  std::string scheme;
  for (absl::string_view address : absl::StrSplit(target, ',')) {
    const size_t colon = address.rfind(':');
    std::string host(address.substr(0, colon == address.npos ? 0 : colon));
    if (host.size() >= 2 && host.front() == '[') {
      host = host.substr(1, host.size() - 2);
    }
    unsigned char buffer[16];
    const char* kind = inet_pton(AF_INET, host.c_str(), buffer) == 1    ? "ipv4"
                       : inet_pton(AF_INET6, host.c_str(), buffer) == 1 ? "ipv6"
                                                                        : "";
    if (colon == address.npos || !*kind ||
        (!scheme.empty() && scheme != kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "several addresses must be IP:port of one family (got \"", address,
          "\"); for names use dns:///name:port"));
    }
    scheme = kind;
  }
  return absl::StrCat(scheme, ":", target);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(
    const std::string& target, const ClientOptions& options) {
  absl::StatusOr<std::string> channel_target = ChannelTarget(target);
  if (!channel_target.ok()) return channel_target.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  std::string config = kServiceConfigJson;
  if (options.wait_for_ready) {
    // Every method config of the API's file gets "waitForReady": true.
    for (size_t at = 0;
         (at = config.find("\"retryPolicy\"", at)) != std::string::npos;
         at += 40) {
      config.insert(at, "\"waitForReady\": true, ");
    }
  }
  args.SetServiceConfigJSON(config);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Retries replay the request: keep requests up to the message limit.
  args.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE, 256 << 20);
  grpc_channel_args extra = options.channel_args.c_channel_args();
  for (size_t i = 0; i < extra.num_args; ++i) {
    const grpc_arg& a = extra.args[i];
    if (a.type == GRPC_ARG_INTEGER) args.SetInt(a.key, a.value.integer);
    if (a.type == GRPC_ARG_STRING) args.SetString(a.key, a.value.string);
  }
  if (options.client_cert.empty() != options.client_key.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate and its key go together");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    for (auto [path, pem] :
         {std::pair{&options.root_certificates, &ssl.pem_root_certs},
          std::pair{&options.client_cert, &ssl.pem_cert_chain},
          std::pair{&options.client_key, &ssl.pem_private_key}}) {
      if (path->empty()) continue;
      absl::StatusOr<std::string> text = ReadPem(*path);
      if (!text.ok()) return text.status();
      *pem = *std::move(text);
    }
    credentials = grpc::SslCredentials(ssl);
  } else if (!options.client_cert.empty()) {
    return absl::InvalidArgumentError("a client certificate needs TLS");
  }
  auto client = std::make_unique<Client>(
      grpc::CreateCustomChannel(*channel_target, credentials, args));
  client->token_ = options.token;
  return client;
}

Client::Client(std::shared_ptr<grpc::Channel> channel)
    : stub_(ot::v1::OptimalTransportService::NewStub(channel)) {}

void Client::ToProto(const Request& r, ot::v1::DistanceRequest* out) {
  FillCommon(r, out);
}
void Client::ToProto(const Request& r, ot::v1::PlanRequest* out) {
  FillCommon(r, out);
  out->set_format(ot::v1::PLAN_FORMAT_DENSE);
}

absl::StatusOr<DistanceResult> Client::Distance(const Request& request) {
  ot::v1::DistanceRequest proto;
  ToProto(request, &proto);
  ot::v1::DistanceResponse response;
  grpc::Status status =
      CallWithRetry(token_, request.timeout, [&](grpc::ClientContext* c) {
        return stub_->Distance(c, proto, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return FromProto(response);
}

namespace {
// Reads a progress stream (Event: oneof progress / result) to its end.
template <typename Event, typename Reader>
auto ReadStream(Reader* reader,
                const std::function<void(const ot::v1::Progress&)>& on_progress)
    -> absl::StatusOr<std::decay_t<decltype(Event().result())>> {
  Event event;
  std::optional<std::decay_t<decltype(event.result())>> result;
  while (reader->Read(&event)) {
    if (event.has_progress()) {
      if (on_progress) on_progress(event.progress());
    } else {
      result = event.result();
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!result) return absl::InternalError("the stream ended without a result");
  return *std::move(result);
}
}  // namespace

absl::StatusOr<DistanceResult> Client::DistanceStream(
    const Request& request,
    const std::function<void(const ot::v1::Progress&)>& on_progress) {
  ot::v1::DistanceRequest proto;
  ToProto(request, &proto);
  grpc::ClientContext context;
  Prepare(token_, request.timeout, &context);
  auto reader = stub_->DistanceStream(&context, proto);
  auto response = ReadStream<ot::v1::DistanceEvent>(reader.get(), on_progress);
  if (!response.ok()) return response.status();
  return FromProto(*response);
}

absl::StatusOr<ot::v1::GromovResponse> Client::GromovWassersteinStream(
    const ot::v1::GromovRequest& request,
    const std::function<void(const ot::v1::Progress&)>& on_progress,
    absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(token_, timeout, &context);
  auto reader = stub_->GromovWassersteinStream(&context, request);
  return ReadStream<ot::v1::GromovEvent>(reader.get(), on_progress);
}

absl::StatusOr<std::vector<absl::StatusOr<DistanceResult>>>
Client::DistanceBatch(const std::vector<Request>& requests,
                      absl::Duration timeout) {
  ot::v1::DistanceBatchRequest proto;
  for (const Request& r : requests) ToProto(r, proto.add_items());
  ot::v1::DistanceBatchResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->DistanceBatch(c, proto, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<absl::StatusOr<DistanceResult>> out;
  for (const auto& item : response.items()) {
    if (item.has_result()) {
      out.push_back(FromProto(item.result()));
      continue;
    }
    std::string message = item.error().message();
    for (const auto& v : item.error().field_violations()) {
      if (message.find(v.field()) == std::string::npos) {
        absl::StrAppend(&message, "; ", v.field(), ": ", v.description());
      }
    }
    out.push_back(absl::Status(
        static_cast<absl::StatusCode>(item.error().code()), message));
  }
  return out;
}

absl::StatusOr<ot::v1::DivergenceResponse> Client::Divergence(
    const ot::v1::DivergenceRequest& request, absl::Duration timeout) {
  ot::v1::DivergenceResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->Divergence(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<ot::v1::BarycenterResponse> Client::Barycenter(
    const ot::v1::BarycenterRequest& request, absl::Duration timeout) {
  ot::v1::BarycenterResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->Barycenter(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<ot::v1::GromovResponse> Client::GromovWasserstein(
    const ot::v1::GromovRequest& request, absl::Duration timeout) {
  ot::v1::GromovResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->GromovWasserstein(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<ot::v1::MapResponse> Client::Map(
    const ot::v1::MapRequest& request, absl::Duration timeout) {
  ot::v1::MapResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->Map(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<PlanResult> Client::Plan(const Request& request) {
  ot::v1::PlanRequest proto;
  ToProto(request, &proto);
  ot::v1::PlanResponse response;
  grpc::Status status = CallWithRetry(
      token_, request.timeout,
      [&](grpc::ClientContext* c) { return stub_->Plan(c, proto, &response); });
  if (!status.ok()) return FromGrpcStatus(status);
  PlanResult result;
  result.value = response.value();
  result.regularized_value = response.regularized_value();
  result.diagnostics = response.diagnostics();
  // Each optional array: (present in the response, destination).
  struct Part {
    bool present;
    const ot::v1::Array* array;
    RowMatrix* out;
  };
  RowMatrix f, g, offset;
  for (const Part& part :
       {Part{response.has_dense_plan(), &response.dense_plan(), &result.plan},
        Part{response.has_f(), &response.f(), &f},
        Part{response.has_g(), &response.g(), &g},
        Part{response.has_linear_map(), &response.linear_map().matrix(),
             &result.map_matrix},
        Part{response.has_linear_map(), &response.linear_map().offset(),
             &offset}}) {
    if (!part.present) continue;
    auto array = GetArray(*part.array);
    if (!array.ok()) return array.status();
    *part.out = *std::move(array);
  }
  if (f.size() > 0) result.f = f.col(0);
  if (g.size() > 0) result.g = g.col(0);
  if (offset.size() > 0) result.map_offset = offset.col(0);
  return result;
}

absl::StatusOr<ot::v1::GetServerInfoResponse> Client::ServerInfo(
    absl::Duration timeout) {
  ot::v1::GetServerInfoResponse response;
  grpc::Status status =
      CallWithRetry(token_, timeout, [&](grpc::ClientContext* c) {
        return stub_->GetServerInfo(c, ot::v1::GetServerInfoRequest(),
                                    &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

std::optional<ot::v1::Method> MethodFromName(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  const auto* methods = ot::v1::Method_descriptor();
  for (int i = 0; i < methods->value_count(); ++i) {
    const auto* value = methods->value(i);
    if (value->options().GetExtension(ot::v1::cli_name) == name) {
      return static_cast<ot::v1::Method>(value->number());
    }
  }
  return std::nullopt;
}

std::string MethodNames() {
  std::string names;
  const auto* methods = ot::v1::Method_descriptor();
  for (int i = 0; i < methods->value_count(); ++i) {
    const std::string& name =
        methods->value(i)->options().GetExtension(ot::v1::cli_name);
    if (!name.empty()) absl::StrAppend(&names, names.empty() ? "" : ", ", name);
  }
  return names;
}

}  // namespace otclient
