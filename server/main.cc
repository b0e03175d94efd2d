// otserve: the optimal transport gRPC server. Flags are described by --help.
// SIGINT / SIGTERM: health goes NOT_SERVING (still answering), new jobs get
// UNAVAILABLE, in-flight jobs drain for up to --drain_seconds, then the rest
// are cancelled and the process exits 0; a second signal exits at once (1).
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
          "Worker threads that run solves; 0 = number of CPU cores.");
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

  // Block the stop signals before any thread starts; this thread waits for
  // them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  otserve::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.threads = absl::GetFlag(FLAGS_threads);
  if (options.threads == 0) {
    options.threads = std::max(1u, std::thread::hardware_concurrency());
  }
  options.max_queue = absl::GetFlag(FLAGS_max_queue);
  if (options.max_queue < 0) options.max_queue = 4 * options.threads;
  options.max_message_mb = absl::GetFlag(FLAGS_max_message_mb);
  options.max_memory_mb = absl::GetFlag(FLAGS_max_memory_mb);
  options.max_job_time = absl::Seconds(absl::GetFlag(FLAGS_max_job_seconds));
  options.limits.max_points = absl::GetFlag(FLAGS_max_points);
  options.limits.max_cost_entries = absl::GetFlag(FLAGS_max_cost_entries);
  options.limits.max_dense_dimension = absl::GetFlag(FLAGS_max_dense_dimension);
  auto server = otserve::OtServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "otserve: %s\n", server.status().ToString().c_str());
    return 2;
  }
  std::fprintf(
      stderr, "otserve %s listening on port %d (%d threads, queue %d)\n",
      otcore::kVersion, (*server)->port(), options.threads, options.max_queue);

  int signal_number = 0;
  sigwait(&stop, &signal_number);
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
