// The GPU's whole-solve batch algorithm (core/gpu/block_sinkhorn.h) run on the
// host as a block of one thread, against SolveSinkhorn: the same problems must
// give the same values, marginals and diagnostics; and SolveTransportBatch
// with kernels that take batches against SolveTransport item by item.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/common/cost_source.h"
#include "core/entropic/divergence.h"
#include "core/entropic/sinkhorn.h"
#include "core/gpu/batch.h"
#include "core/transport.h"

namespace otcore::gpu {
namespace {

struct Problem {
  RowMatrix x, y;
  Eigen::VectorXd a, b;
};

Problem Make(int n, int m, int d, uint64_t seed, bool uniform) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> unit(0.2, 1.0);
  Problem p{RowMatrix(n, d), RowMatrix(m, d), Eigen::VectorXd(n),
            Eigen::VectorXd(m)};
  for (double& v : p.x.reshaped()) v = normal(rng);
  for (double& v : p.y.reshaped()) v = 0.7 * normal(rng) + 0.8;
  for (double& v : p.a) v = uniform ? 1.0 : unit(rng);
  for (double& v : p.b) v = uniform ? 1.0 : unit(rng);
  p.a /= p.a.sum();
  p.b /= p.b.sum();
  return p;
}

SinkhornBatchItem ItemOf(const Problem& p, const CostSpec& spec,
                         const SinkhornOptions& o) {
  const CostSource source = CostSource::Clouds(p.x, p.y, spec);
  SinkhornBatchItem item{source, p.a.array(), p.b.array()};
  item.epsilon = o.epsilon;
  item.eps_start =
      o.epsilon_scaling ? std::max(o.epsilon, source.Range()) : o.epsilon;
  item.tolerance = o.tolerance;
  item.max_iterations = o.max_iterations;
  return item;
}

TEST(GpuBatchTest, HostBlocksAgreeWithSolveSinkhorn) {
  CostSpec sq, euclid, power;
  euclid.kind = CostKind::kEuclidean;
  power.kind = CostKind::kPower;
  power.p = 1.5;
  struct Case {
    Problem p;
    CostSpec spec;
    double eps;
    bool scaling;
  };
  std::vector<Case> cases = {
      {Make(30, 45, 2, 1, true), sq, 0.1, true},
      {Make(64, 17, 3, 2, false), sq, 0.05, true},
      {Make(40, 40, 5, 3, false), euclid, 0.2, false},
      {Make(25, 33, 2, 4, true), power, 0.08, true},
  };
  cases[1].p.a(3) = 0.0;  // a point without mass
  cases[1].p.a /= cases[1].p.a.sum();
  SolveControl control;
  std::vector<SinkhornBatchItem> items;
  std::vector<SinkhornResult> want;
  for (const Case& c : cases) {
    SinkhornOptions o;
    o.epsilon = c.eps;
    o.tolerance = 1e-10;
    o.epsilon_scaling = c.scaling;
    items.push_back(ItemOf(c.p, c.spec, o));
    auto r = SolveSinkhorn(
        c.p.a, c.p.b, CostSource::Clouds(c.p.x, c.p.y, c.spec), o, control);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->summary.converged());
    want.push_back(*std::move(r));
  }
  std::vector<SinkhornBatchOutcome> got;
  ASSERT_TRUE(SolveBatchOnHost(items, &got, control).ok());
  ASSERT_EQ(got.size(), cases.size());
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(k);
    const SinkhornBatchOutcome& g = got[k];
    EXPECT_TRUE(g.summary.converged()) << g.summary.message;
    EXPECT_EQ(g.summary.method, Method::kSinkhorn);
    EXPECT_LE(g.summary.marginal_error, 1e-9);
    EXPECT_EQ(g.summary.epsilon, cases[k].eps);
    EXPECT_GT(g.summary.iterations, 0);
    EXPECT_NEAR(g.cost, want[k].cost, 1e-8 * std::abs(want[k].cost));
    EXPECT_NEAR(g.regularized_cost, want[k].regularized_cost,
                1e-8 * std::abs(want[k].regularized_cost));
    // Potentials agree up to the constant shift (f + c, g - c).
    const double shift = g.f(0) - want[k].f(0);
    EXPECT_LE((g.f.array() - want[k].f.array() - shift).abs().maxCoeff(), 1e-6);
    EXPECT_LE((g.g.array() - want[k].g.array() + shift).abs().maxCoeff(), 1e-6);
  }
}

TEST(GpuBatchTest, IterationCapsAndStagesAreReported) {
  const Problem p = Make(50, 50, 2, 7, true);
  SinkhornOptions o;
  o.epsilon = 1e-3;
  o.tolerance = 1e-12;
  o.max_iterations = 30;  // ends inside the epsilon stages
  std::vector<SinkhornBatchOutcome> got;
  SolveControl control;
  ASSERT_TRUE(SolveBatchOnHost({ItemOf(p, {}, o)}, &got, control).ok());
  EXPECT_EQ(got[0].summary.termination, Termination::kIterationLimit);
  EXPECT_EQ(got[0].summary.iterations, 30);
  EXPECT_GT(got[0].summary.epsilon, o.epsilon);
  EXPECT_NE(got[0].summary.message.find("stopped at epsilon stage"),
            std::string::npos)
      << got[0].summary.message;
  // The CPU solver stops at the same stage after the same iterations.
  auto cpu =
      SolveSinkhorn(p.a, p.b, CostSource::Clouds(p.x, p.y, {}), o, control);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->summary.epsilon, got[0].summary.epsilon);
}

TEST(GpuBatchTest, PackedOffsetsDoNotOverlap) {
  const Problem p1 = Make(10, 20, 3, 1, true), p2 = Make(7, 4, 3, 2, false);
  SinkhornOptions o;
  o.epsilon = 0.1;
  const std::vector<SinkhornBatchItem> items = {ItemOf(p1, {}, o),
                                                ItemOf(p2, {}, o)};
  const PackedBatch packed = PackBatch(items);
  ASSERT_EQ(packed.problems.size(), 2u);
  EXPECT_EQ(packed.coords.size(), 3u * (10 + 20 + 7 + 4));
  EXPECT_EQ(packed.weights.size(), 2u * (10 + 20 + 7 + 4));
  EXPECT_EQ(packed.scratch, (10 + 20 + 2 * 20) + (7 + 4 + 2 * 7));
  EXPECT_EQ(packed.problems[1].f, 10 + 20 + 2 * 20);
  EXPECT_EQ(packed.weights[packed.problems[1].log_b + 2], std::log(p2.b(2)));
  EXPECT_LE(packed.Bytes(),
            BlockProblemBytes(10, 20, 3) + BlockProblemBytes(7, 4, 3));
}

// Test doubles of device kernels: every reduction on the CPU's.
class CpuForwarding : public EntropicKernels {
 public:
  void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    CpuEntropicKernels().RowSoftMin(c, h, w, eps, out, control);
  }
  void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    CpuEntropicKernels().ColSoftMin(c, h, w, eps, out, control);
  }
  void PrimalPass(const CostSource& c, const Eigen::ArrayXd& u,
                  const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* rows,
                  Eigen::ArrayXd* row_cost, RowMatrix* plan,
                  const SolveControl& control) const override {
    CpuEntropicKernels().PrimalPass(c, u, v, eps, rows, row_cost, plan,
                                    control);
  }
};

// Kernels that take batches and run them on the host (as the fake device).
class HostBatchKernels final : public CpuForwarding {
 public:
  absl::string_view name() const override { return "host-batch"; }
  bool TakesInBatch(int64_t n, int64_t m, int64_t d) const override {
    return BlockTakes(n, m, d);
  }
  absl::Status SolveBatch(absl::Span<const SinkhornBatchItem> items,
                          std::vector<SinkhornBatchOutcome>* outcomes,
                          const SolveControl& control) const override {
    ++batches;
    items_seen += items.size();
    return SolveBatchOnHost(items, outcomes, control);
  }
  mutable int batches = 0;
  mutable size_t items_seen = 0;
};

TEST(GpuBatchTest, TransportBatchMatchesSingleSolves) {
  const Problem p1 = Make(30, 20, 2, 11, true), p2 = Make(40, 35, 2, 12, false);
  TransportProblem uniform, weighted;
  uniform.x.emplace(p1.x);
  uniform.y.emplace(p1.y);  // uniform weights
  weighted.x.emplace(p2.x);
  weighted.y.emplace(p2.y);
  weighted.a.emplace(p2.a);
  weighted.b.emplace(p2.b);
  const std::vector<TransportProblem> problems = {uniform, weighted, uniform,
                                                  weighted};
  std::vector<TransportOptions> options(4);
  for (auto& o : options) {
    o.method = Method::kSinkhorn;
    o.epsilon.value = 0.1;
    o.tolerance = 1e-9;
  }
  options[2].method = Method::kExact;  // solved alone
  options[3].epsilon.value = -1.0;     // an item's own error
  HostBatchKernels kernels;
  SolveControl control;
  control.set_entropic_kernels(&kernels);
  std::vector<absl::StatusOr<TransportResult>> got;
  ASSERT_TRUE(SolveTransportBatch(problems, options, control, &got).ok());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(kernels.batches, 1);
  EXPECT_EQ(kernels.items_seen, 2u);
  const SolveControl cpu;
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(got[k].ok()) << got[k].status();
    auto want = SolveTransport(problems[k], options[k], cpu);
    ASSERT_TRUE(want.ok());
    EXPECT_NEAR(got[k]->value, want->value, 1e-8 * want->value);
    EXPECT_NEAR(got[k]->distance, want->distance, 1e-8 * want->distance);
    EXPECT_TRUE(got[k]->summary.converged());
  }
  EXPECT_EQ(got[3].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got[3].status().message().find("epsilon"), std::string::npos);
}

// Kernels that fuse soft-min sets (as a GPU's), running them on the CPU.
class FusingKernels final : public CpuForwarding {
 public:
  absl::string_view name() const override { return "fusing"; }
  bool FusesSoftMins() const override { return true; }
  void RowSoftMins(absl::Span<const SoftMinTask> tasks, double eps,
                   const SolveControl& control) const override {
    ++calls;
    if (tasks.size() == 3) ++fused;  // a row update with both self updates
    EntropicKernels::RowSoftMins(tasks, eps, control);
  }
  mutable int calls = 0, fused = 0;
};

// The divergence's joint loop (four reductions per call, epsilon scaling)
// against the three separate solves of the CPU path.
TEST(GpuBatchTest, JointDivergenceMatchesSeparateSolves) {
  for (auto [n, m, uniform, kind, eps, scaling] :
       {std::tuple{60, 45, true, DivergenceKind::kSinkhorn, 0.05, true},
        std::tuple{40, 70, false, DivergenceKind::kSinkhorn, 0.5, false},
        std::tuple{50, 50, false, DivergenceKind::kSinkhornNoEntropy, 0.02,
                   true}}) {
    SCOPED_TRACE(n);
    const Problem p = Make(n, m, 2, n + m, uniform);
    DivergenceOptions o;
    o.kind = kind;
    o.epsilon.value = eps;
    o.sinkhorn.tolerance = 1e-10;
    o.sinkhorn.epsilon_scaling = scaling;
    const SolveControl cpu;
    auto want = SolveDivergence(p.x, p.a, p.y, p.b, {}, o, cpu);
    ASSERT_TRUE(want.ok()) << want.status();
    FusingKernels kernels;
    SolveControl fused;
    fused.set_entropic_kernels(&kernels);
    auto got = SolveDivergence(p.x, p.a, p.y, p.b, {}, o, fused);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_GT(kernels.fused, 1);
    EXPECT_TRUE(got->summary.converged()) << got->summary.message;
    EXPECT_LE(got->summary.marginal_error, 1e-10);
    EXPECT_EQ(got->summary.epsilon, eps);
    const double scale = std::abs(want->cross) + 1e-3;
    EXPECT_NEAR(got->value, want->value, 1e-7 * scale);
    EXPECT_NEAR(got->cross, want->cross, 1e-7 * scale);
    EXPECT_NEAR(got->self_source, want->self_source, 1e-7 * scale);
    EXPECT_NEAR(got->self_target, want->self_target, 1e-7 * scale);
  }
}

}  // namespace
}  // namespace otcore::gpu
