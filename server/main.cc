// otserve: the optimal transport gRPC server. Flags are described by --help.
// SIGINT / SIGTERM: health goes NOT_SERVING (still answering), new jobs get
// UNAVAILABLE, in-flight jobs drain for up to --drain_seconds, then the rest
// are cancelled and the process exits 0; a second signal exits at once (1).
// SIGHUP re-reads the --auth_tokens file.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "core/version.h"
#include "server/server.h"

ABSL_FLAG(
    std::string, listen, "127.0.0.1:50051",
    "Address to listen on, host:port (0.0.0.0:50051 for all interfaces).");
ABSL_FLAG(int, threads, 0,
          "Worker threads that run solves; 0 = the CPUs this process may use "
          "(affinity, bounded by a container's cgroup CPU quota).");
ABSL_FLAG(
    int, max_queue, -1,
    "Jobs that may wait for a free worker; beyond that calls fail at once "
    "with RESOURCE_EXHAUSTED (and RetryInfo). 0..1000; -1 = 4 x threads (at "
    "64, most queued jobs outlived their callers' deadlines under overload: "
    "bench/overload.py).");
ABSL_FLAG(int, max_message_mb, 256, "Largest request and response in MiB.");
ABSL_FLAG(int64_t, max_memory_mb, 4096,
          "Memory budget in MiB: jobs in flight (requests plus estimated "
          "working memory) are admitted within it (beyond: "
          "RESOURCE_EXHAUSTED), and gRPC's receive buffers are bounded by it. "
          "Set it below the container's memory limit.");
ABSL_FLAG(int64_t, max_points, 10'000'000,
          "Largest number of points per measure.");
ABSL_FLAG(
    int64_t, max_cost_entries, 100'000'000,
    "Largest number of doubles (8 bytes each) one job may allocate beyond its "
    "request: cost matrices and dense plans (n*m; point-cloud Sinkhorn "
    "without a plan runs matrix-free), sliced directions (L*d), covariance "
    "work, entropic-map evaluations (queries*targets).");
ABSL_FLAG(int64_t, max_dense_dimension, 2048,
          "Largest dimension d of the d x d eigendecompositions of the "
          "Gaussian methods (O(d^3), not interruptible).");
ABSL_FLAG(double, max_job_seconds, 300.0,
          "Longest one job may run once a worker starts it; then it stops "
          "with DEADLINE_EXCEEDED (bounds jobs sent without a deadline or "
          "with huge iteration caps).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server; with --tls_key, serve TLS "
          "only.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: clients must present a certificate it signed "
          "(mutual TLS).");
ABSL_FLAG(std::string, auth_tokens, "",
          "Token file: one \"<token> <tenant> [weight]\" per line. Calls "
          "need \"authorization: Bearer <token>\" (else UNAUTHENTICATED); "
          "SIGHUP re-reads it. Empty: the server is open to any caller.");
ABSL_FLAG(bool, public_server_info, false,
          "With --auth_tokens, GetServerInfo answers without a token.");
ABSL_FLAG(int, tenant_max_jobs, -1,
          "Jobs (queued + running) one tenant may have in flight; -1 = "
          "max(1, max_queue) with --auth_tokens (the workers' slots stay "
          "for others), no bound on an open server.");
ABSL_FLAG(int64_t, tenant_max_memory_mb, -1,
          "MiB of the jobs' memory budget one tenant may hold; -1 = half "
          "with --auth_tokens, no bound on an open server.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus endpoint GET /metrics (e.g. "
          "127.0.0.1:9090); empty: off.");
ABSL_FLAG(std::string, log_format, "none",
          "Request log on stderr, one line per call: json, text or none.");
ABSL_FLAG(bool, reflection, true,
          "Serve gRPC reflection (v1alpha; not token-protected: it describes "
          "the public API only).");
ABSL_FLAG(bool, channelz, false, "Serve the channelz service (debugging).");
ABSL_FLAG(double, max_connection_age_seconds, 300.0,
          "Close connections after this age (GOAWAY; in-flight calls get "
          "--max_job_seconds to finish) so that clients re-resolve and reach "
          "new replicas; 0 = never.");
ABSL_FLAG(double, keepalive_seconds, 60.0,
          "Ping idle connections after this many seconds (dead peers are "
          "dropped 20 s later).");
ABSL_FLAG(std::string, gpus, "none",
          "GPUs to use: none, all, or CUDA device ids (0,1). Entropic jobs "
          "(Sinkhorn, unbalanced, Sinkhorn divergences) go to a GPU when they "
          "ask for DEVICE_GPU, or with DEVICE_AUTO from "
          "--gpu_auto_min_entries cost entries on.");
ABSL_FLAG(int, gpu_streams, 2, "Jobs that run at once on one GPU.");
ABSL_FLAG(int, gpu_max_queue, 8, "Jobs that may wait per GPU.");
ABSL_FLAG(double, gpu_memory_fraction, 0.8,
          "Share of each GPU's free memory (at start) that jobs are admitted "
          "into; a job that cannot fit gets RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, gpu_auto_min_entries, otserve::kGpuAutoMinEntries,
          "DEVICE_AUTO sends a job to a GPU from this many cost entries n*m "
          "on (an estimate; see server/gpu.h).");
ABSL_FLAG(double, drain_seconds, 30.0,
          "On SIGINT/SIGTERM, how long in-flight jobs may run before being "
          "cancelled.");

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "optimal transport as a gRPC service (ot.v1.OptimalTransportService).\n"
      "Usage: otserve [--listen=HOST:PORT] [--threads=N] [--max_queue=N] "
      "[--max_message_mb=N]");
  absl::ParseCommandLine(argc, argv);

  // Block the signals before any thread starts; this thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigset_t waited = stop;
  sigaddset(&waited, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &waited, nullptr);

  otserve::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.threads = absl::GetFlag(FLAGS_threads);
  if (options.threads == 0) options.threads = otserve::DefaultThreads();
  options.max_queue = absl::GetFlag(FLAGS_max_queue);
  if (options.max_queue < 0) options.max_queue = 4 * options.threads;
  options.max_message_mb = absl::GetFlag(FLAGS_max_message_mb);
  options.max_memory_mb = absl::GetFlag(FLAGS_max_memory_mb);
  options.max_job_time = absl::Seconds(absl::GetFlag(FLAGS_max_job_seconds));
  options.limits.max_points = absl::GetFlag(FLAGS_max_points);
  options.limits.max_cost_entries = absl::GetFlag(FLAGS_max_cost_entries);
  options.limits.max_dense_dimension = absl::GetFlag(FLAGS_max_dense_dimension);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.auth_tokens = absl::GetFlag(FLAGS_auth_tokens);
  options.public_server_info = absl::GetFlag(FLAGS_public_server_info);
  options.tenant_max_jobs = absl::GetFlag(FLAGS_tenant_max_jobs);
  options.tenant_max_memory_mb = absl::GetFlag(FLAGS_tenant_max_memory_mb);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!otserve::ParseLogFormat(absl::GetFlag(FLAGS_log_format),
                               &options.log_format)) {
    std::fprintf(stderr, "otserve: --log_format must be json, text or none\n");
    return 2;
  }
  options.reflection = absl::GetFlag(FLAGS_reflection);
  options.channelz = absl::GetFlag(FLAGS_channelz);
  options.max_connection_age =
      absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_seconds));
  options.keepalive_time =
      absl::Seconds(absl::GetFlag(FLAGS_keepalive_seconds));
  auto server = otserve::OtServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "otserve: %s\n", server.status().ToString().c_str());
    return 2;
  }
  std::fprintf(
      stderr,
      "otserve %s listening on port %d (%d threads, queue %d, %s, %s)\n",
      otcore::kVersion, (*server)->port(), options.threads, options.max_queue,
      options.tls_cert.empty()
          ? "plaintext"
          : (options.tls_client_ca.empty() ? "TLS" : "mutual TLS"),
      (*server)->open() ? "OPEN: no --auth_tokens, any caller is served"
                        : "token auth");
  if ((*server)->metrics_port() > 0) {
    std::fprintf(stderr, "otserve: metrics on port %d (GET /metrics)\n",
                 (*server)->metrics_port());
  }
  std::fprintf(stderr, "otserve: GPUs: %s\n", (*server)->GpuSummary().c_str());

  int signal_number = 0;
  while (true) {
    sigwait(&waited, &signal_number);
    if (signal_number != SIGHUP) break;
    const auto reloaded = (*server)->ReloadTokens();
    if (reloaded.ok()) {
      std::fprintf(stderr, "otserve: SIGHUP, %zu tokens loaded\n", *reloaded);
    } else {
      std::fprintf(stderr, "otserve: SIGHUP, tokens kept: %s\n",
                   reloaded.status().ToString().c_str());
    }
  }
  std::fprintf(stderr, "otserve: signal %d, draining for up to %.0f s\n",
               signal_number, absl::GetFlag(FLAGS_drain_seconds));
  // A second signal ends the process at once.
  std::thread([stop]() {
    int again = 0;
    sigwait(&stop, &again);
    std::fprintf(stderr, "otserve: second signal %d, exiting now\n", again);
    std::_Exit(1);
  }).detach();
  const bool stopped =
      (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_drain_seconds)));
  if (!stopped) {
    // A job is inside work that cannot be interrupted (e.g. an
    // eigendecomposition): do not wait for it.
    std::fprintf(stderr, "otserve: stopped with jobs still running\n");
    std::fflush(stderr);
    std::_Exit(0);
  }
  std::fprintf(stderr, "otserve: stopped\n");
  return 0;
}
