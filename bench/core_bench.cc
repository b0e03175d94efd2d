// Micro-benchmarks of the core kernels on seeded point clouds (single-threaded:
// no parallel-for is installed in SolveControl). Speed goals live here and in
// compare_pot.py, never in tests.
#include <benchmark/benchmark.h>

#include <random>

#include "core/common/cost.h"
#include "core/entropic/sinkhorn.h"
#include "core/entropic/softmin.h"
#include "core/exact/network_simplex.h"
#include "core/exact/one_d.h"

namespace {

otcore::RowMatrix Cloud(int n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  otcore::RowMatrix x(n, d);
  for (int k = 0; k < x.size(); ++k) x.data()[k] = normal(rng);
  return x;
}

void BM_PairwiseCost(benchmark::State& state) {
  const int n = state.range(0);
  const auto x = Cloud(n, 3, 1), y = Cloud(n, 3, 2);
  for (auto _ : state) benchmark::DoNotOptimize(otcore::PairwiseCost(x, y, {}));
  state.SetItemsProcessed(state.iterations() * int64_t{n} * n);
}
BENCHMARK(BM_PairwiseCost)->Arg(500)->Arg(2000);

void BM_RowSoftMin(benchmark::State& state) {
  const int n = state.range(0);
  const auto c = otcore::PairwiseCost(Cloud(n, 3, 1), Cloud(n, 3, 2), {});
  const Eigen::ArrayXd h = Eigen::ArrayXd::Zero(n), w = Eigen::ArrayXd::Zero(n);
  Eigen::ArrayXd out;
  for (auto _ : state) otcore::RowSoftMin(c, h, w, 0.05, &out);
  state.SetItemsProcessed(state.iterations() * int64_t{n} * n);  // entries
}
BENCHMARK(BM_RowSoftMin)->Arg(500)->Arg(2000);

void BM_ColSoftMin(benchmark::State& state) {
  const int n = state.range(0);
  const auto c = otcore::PairwiseCost(Cloud(n, 3, 1), Cloud(n, 3, 2), {});
  const Eigen::ArrayXd h = Eigen::ArrayXd::Zero(n), w = Eigen::ArrayXd::Zero(n);
  Eigen::ArrayXd out;
  for (auto _ : state) otcore::ColSoftMin(c, h, w, 0.05, &out);
  state.SetItemsProcessed(state.iterations() * int64_t{n} * n);
}
BENCHMARK(BM_ColSoftMin)->Arg(500)->Arg(2000);

void BM_NetworkSimplex(benchmark::State& state) {
  const int n = state.range(0);
  const auto c = otcore::PairwiseCost(Cloud(n, 3, 1), Cloud(n, 3, 2), {});
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(n, 1.0 / n);
  otcore::SolveControl control;
  for (auto _ : state) {
    benchmark::DoNotOptimize(otcore::SolveExact(a, a, c, {}, control));
  }
}
BENCHMARK(BM_NetworkSimplex)
    ->Arg(500)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

void BM_OneD(benchmark::State& state) {
  const int n = state.range(0);
  const auto x = Cloud(n, 1, 1), y = Cloud(n, 1, 2);
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(n, 1.0 / n);
  otcore::SolveControl control;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        otcore::SolveOneD(x.col(0), a, y.col(0), a, 2.0, control));
  }
  state.SetItemsProcessed(state.iterations() * int64_t{n});
}
BENCHMARK(BM_OneD)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
