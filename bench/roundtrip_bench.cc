// Round trip of one tiny request (the 2 x 2 seed example) through an in-process
// server on loopback with the C++ client: the latency floor of the service.
#include <benchmark/benchmark.h>

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
  for (auto _ : state) {
    auto d = client->Distance(r);
    if (!d.ok() || d->value != 0.3) state.SkipWithError("wrong answer");
  }
}
BENCHMARK(BM_SeedExampleRoundTrip)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
