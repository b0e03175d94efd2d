// OtServer: builder setup, health, reflection, drain.
#include "server/server.h"

#include <grpcpp/ext/channelz_service_plugin.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otserve {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (o.tls_cert.empty()) {
    if (!o.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  auto key = ReadFile(o.tls_key, "--tls_key");
  if (!key.ok()) return key.status();
  auto cert = ReadFile(o.tls_cert, "--tls_cert");
  if (!cert.ok()) return cert.status();
  pair.private_key = *key;
  pair.cert_chain = *cert;
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!o.tls_client_ca.empty()) {
    auto ca = ReadFile(o.tls_client_ca, "--tls_client_ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// Reflection on or off for one builder: linking grpc++_reflection registers
// its plugin for every server of the process, so this option removes it, or
// adds it where it is missing.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool on) : on_(on) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    const std::string name =
        grpc::reflection::ProtoServerReflectionPlugin().name();
    const auto end =
        std::remove_if(plugins->begin(), plugins->end(),
                       [&name](const auto& p) { return p->name() == name; });
    const bool present = end != plugins->end();
    if (!on_) {
      plugins->erase(end, plugins->end());
    } else if (!present) {
      plugins->push_back(
          std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  const bool on_;
};

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

}  // namespace

int CpusFromCpuMax(absl::string_view cpu_max) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(cpu_max, ' ', absl::SkipEmpty());
  int64_t quota = 0, period = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &quota) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[1]), &period) ||
      quota <= 0 || period <= 0) {
    return 0;
  }
  return static_cast<int>((quota + period - 1) / period);
}

int DefaultThreads() {
  cpu_set_t set;
  int cpus = 0;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  int quota = CpusFromCpuMax(ReadSmallFile("/sys/fs/cgroup/cpu.max"));
  if (quota == 0) {
    quota = CpusFromCpuMax(
        absl::StrCat(ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), " ",
                     ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us")));
  }
  if (quota > 0) cpus = std::min(cpus, quota);
  return std::max(1, cpus);
}

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
  if (o.tenant_max_jobs == 0 || o.tenant_max_jobs < -1 ||
      o.tenant_max_memory_mb == 0 || o.tenant_max_memory_mb < -1) {
    return absl::InvalidArgumentError(
        "--tenant_max_jobs and --tenant_max_memory_mb must be >= 1 (or -1)");
  }
  auto credentials = Credentials(o);
  if (!credentials.ok()) return credentials.status();
  // Everything that can fail comes before the server object exists.
  auto auth = TokenAuth::FromFile(o.auth_tokens);
  if (!auth.ok()) return auth.status();
  auto gpus = GpuPool::Create(
      o.gpu_backend ? *o.gpu_backend : otcore::gpu::CudaBackend(), o.gpu);
  if (!gpus.ok()) return gpus.status();
  std::unique_ptr<OtServer> s(new OtServer());
  s->auth_ = *std::move(auth);
  s->gpus_ = *std::move(gpus);
  const int64_t max_bytes = int64_t{o.max_message_mb} << 20;
  // Half the budget for admitted jobs (their requests and working memory), a
  // quarter for gRPC's buffers of requests still arriving (a ResourceQuota),
  // whose parsed copies may briefly take as much again.
  const int64_t budget = o.max_memory_mb << 20;
  s->scheduler_ =
      std::make_unique<Scheduler>(o.threads, o.max_queue, budget / 2);
  // With tokens (several tenants), by default a tenant may fill the queue but
  // leaves `threads` slots (and half the memory) to the others; an open
  // server has one tenant and no such default.
  TenantLimits tenant;
  if (o.tenant_max_jobs > 0) {
    tenant.max_jobs = o.tenant_max_jobs;
  } else if (!s->auth_->open()) {
    tenant.max_jobs = std::max(1, o.max_queue);
  }
  if (o.tenant_max_memory_mb > 0) {
    tenant.max_bytes = o.tenant_max_memory_mb << 20;
  } else if (!s->auth_->open()) {
    tenant.max_bytes = s->scheduler_->max_bytes() / 2;
  }
  s->scheduler_->set_tenant_limits(tenant);
  s->metrics_ = std::make_unique<Metrics>(s->scheduler_.get());
  std::vector<std::pair<std::string, const Scheduler*>> gpu_queues;
  for (int slot = 0; slot < s->gpus_->size(); ++slot) {
    gpu_queues.emplace_back(s->gpus_->DeviceName(slot),
                            &s->gpus_->scheduler(slot));
  }
  s->metrics_->set_gpus(std::move(gpu_queues));
  if (!o.metrics_listen.empty()) {
    auto http = MetricsHttpServer::Start(o.metrics_listen, s->metrics_.get());
    if (!http.ok()) return http.status();
    s->metrics_http_ = *std::move(http);
  }
  ServiceEnv env;
  env.scheduler = s->scheduler_.get();
  env.decode = {o.limits, max_bytes};
  env.max_job_time = o.max_job_time;
  env.auth = s->auth_.get();
  env.metrics = s->metrics_.get();
  env.log_format = o.log_format;
  env.public_server_info = o.public_server_info;
  env.gpus = s->gpus_.get();
  s->service_ = std::make_unique<OtService>(std::move(env));

  grpc::EnableDefaultHealthCheckService(true);
  if (o.channelz) grpc::channelz::experimental::InitChannelzService();
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(o.reflection));
  builder.AddListeningPort(o.listen, *credentials, &s->port_);
  // Keepalive: ping idle connections, accept client pings down to 10 s.
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(o.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  if (o.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(std::min<int64_t>(
            absl::ToInt64Milliseconds(o.max_connection_age), INT32_MAX)));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(std::min<int64_t>(
            absl::ToInt64Milliseconds(o.max_job_time) + 1000, INT32_MAX)));
  }
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

int OtServer::metrics_port() const {
  return metrics_http_ ? metrics_http_->port() : 0;
}

bool OtServer::Shutdown(absl::Duration drain, absl::Duration grace) {
  if (shut_down_.exchange(true)) return scheduler_->WaitIdle(absl::Now());
  if (!server_) return true;  // Start failed before serving
  // Still serving: health checks read NOT_SERVING, new jobs UNAVAILABLE.
  server_->GetHealthCheckService()->SetServingStatus(false);
  scheduler_->StopAdmitting();
  gpus_->StopAdmitting();
  const absl::Time drained = absl::Now() + drain;
  scheduler_->WaitIdle(drained);
  gpus_->WaitIdle(drained);
  // Stops the server; calls still running are cancelled, which reaches their
  // solves through OnCancel.
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  const absl::Time end = absl::Now() + grace;
  const bool gpus_idle = gpus_->WaitIdle(end);
  return scheduler_->WaitIdle(end) && gpus_idle;
}

std::string OtServer::GpuSummary() const {
  ot::v1::GetServerInfoResponse info;
  gpus_->FillInfo(&info);
  if (info.gpus().empty()) return "no GPU";
  std::string out;
  for (const auto& g : info.gpus()) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", g.backend(), ":", g.id(),
                    " (", g.name(), ", ", g.budget_bytes() >> 20,
                    " MiB budget)");
  }
  return out;
}

OtServer::~OtServer() {
  Shutdown(absl::ZeroDuration(), absl::InfiniteDuration());
  server_->Wait();
  scheduler_->WaitIdle(absl::InfiniteFuture());
}

}  // namespace otserve
