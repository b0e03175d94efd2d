// Round trip of one tiny request (the 2 x 2 seed example) through an in-process
// server on loopback with the C++ client: the latency floor of the service.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "client/client.h"
#include "server/server.h"

namespace {

void BM_SeedExampleRoundTrip(benchmark::State& state) {
  otserve::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  auto server = otserve::OtServer::Start(options);
  if (!server.ok()) {
    state.SkipWithError("server did not start");
    return;
  }
  auto client =
      otclient::Client::Create(absl::StrCat("127.0.0.1:", (*server)->port()));
  otclient::Request r;
  r.source.weights = Eigen::Vector2d(0.5, 0.5);
  r.target.weights = Eigen::Vector2d(0.2, 0.8);
  r.cost = ot::v1::COST_KIND_EXPLICIT;
  r.cost_matrix = otclient::RowMatrix(2, 2);
  r.cost_matrix << 0, 1, 1, 0;
  // Each call is timed on its own; the percentiles are reported as counters
  // (p50_us is the latency figure).
  std::vector<double> micros;
  micros.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto d = client->Distance(r);
    micros.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
    if (!d.ok() || d->value != 0.3) state.SkipWithError("wrong answer");
  }
  if (micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros[static_cast<size_t>(q * (micros.size() - 1))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p90_us"] = at(0.90);
  state.counters["p99_us"] = at(0.99);
}
BENCHMARK(BM_SeedExampleRoundTrip)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
