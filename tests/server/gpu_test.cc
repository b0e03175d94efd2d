// GPU routing, accounting and scheduling over loopback with a fake device
// (the CPU kernels under another name), so that all of it is checked without a
// GPU; and, where this machine has a CUDA device (never in CI), the CUDA
// kernels against the CPU's.
#include "server/gpu.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "core/common/cost_source.h"
#include "core/entropic/kernels.h"
#include "core/gpu/backend.h"
#include "core/gpu/batch.h"
#include "server/server.h"

namespace otserve {
namespace {

using otclient::SetArray;

ot::v1::DistanceRequest Clouds(int n, ot::v1::Method method,
                               ot::v1::Device device) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  std::vector<double> x(n * 2), y(n * 2);
  for (double& v : x) v = normal(rng);
  for (double& v : y) v = normal(rng) + 1.0;
  ot::v1::DistanceRequest r;
  SetArray(x.data(), {n, 2}, r.mutable_source()->mutable_points());
  SetArray(y.data(), {n, 2}, r.mutable_target()->mutable_points());
  r.set_method(method);
  r.mutable_options()->set_epsilon(0.5);
  r.mutable_options()->set_device(device);
  return r;
}

class GpuServiceTest : public ::testing::Test {
 protected:
  void Start(const otcore::gpu::GpuBackend* backend, std::string gpus,
             int64_t auto_min_entries = kGpuAutoMinEntries) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.gpu.devices = std::move(gpus);
    o.gpu.auto_min_entries = auto_min_entries;
    o.gpu_backend = backend;
    auto s = OtServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    stub_ = ot::v1::OptimalTransportService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  grpc::Status Distance(const ot::v1::DistanceRequest& r,
                        ot::v1::DistanceResponse* out) {
    grpc::ClientContext c;
    return stub_->Distance(&c, r, out);
  }

  std::unique_ptr<OtServer> server_;
  std::unique_ptr<ot::v1::OptimalTransportService::Stub> stub_;
};

TEST_F(GpuServiceTest, WithoutGpusGpuRequestsFailAndAutoRunsOnTheCpu) {
  FakeGpuBackend none(/*devices=*/0, 0);
  Start(&none, "all");
  ot::v1::DistanceResponse r;
  grpc::Status s =
      Distance(Clouds(50, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_GPU), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("no GPU"), std::string::npos);
  ASSERT_TRUE(
      Distance(Clouds(50, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_AUTO), &r)
          .ok());
  EXPECT_EQ(r.diagnostics().device(), "cpu");
  EXPECT_EQ(r.diagnostics().precision(), "float64");
}

// PRECISION_FLOAT32 on a CPU placement: float32 exponentials for clouds,
// reported, and the value within float32's reach of the float64 one.
TEST_F(GpuServiceTest, CpuPlacementsReduceInFloat32WhenAsked) {
  FakeGpuBackend none(/*devices=*/0, 0);
  Start(&none, "all");
  ot::v1::DistanceRequest r64 =
      Clouds(120, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_CPU);
  ot::v1::DistanceRequest r32 = r64;
  r32.mutable_options()->set_precision(ot::v1::PRECISION_FLOAT32);
  ot::v1::DistanceResponse a, b;
  ASSERT_TRUE(Distance(r64, &a).ok());
  ASSERT_TRUE(Distance(r32, &b).ok());
  EXPECT_EQ(a.diagnostics().precision(), "float64");
  EXPECT_EQ(b.diagnostics().precision(), "float32");
  EXPECT_EQ(b.diagnostics().device(), "cpu");
  EXPECT_NEAR(b.value(), a.value(), 1e-5 * a.value());
}

TEST_F(GpuServiceTest, GpuJobsRunOnTheDeviceWithTheSameAnswer) {
  FakeGpuBackend fake(/*devices=*/2, int64_t{1} << 30);
  Start(&fake, "all");
  ot::v1::DistanceResponse cpu, gpu;
  ASSERT_TRUE(
      Distance(Clouds(80, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_CPU), &cpu)
          .ok());
  EXPECT_EQ(fake.reductions(), 0);
  ASSERT_TRUE(
      Distance(Clouds(80, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_GPU), &gpu)
          .ok());
  EXPECT_GT(fake.reductions(), 0);
  EXPECT_EQ(cpu.diagnostics().device(), "cpu");
  EXPECT_EQ(gpu.diagnostics().device().rfind("fake:", 0), 0u)
      << gpu.diagnostics().device();
  // The CPU iterates on its in-memory kernel, the device on reductions: the
  // same fixed point to rounding.
  EXPECT_NEAR(gpu.value(), cpu.value(), 1e-12 * cpu.value());
  EXPECT_EQ(gpu.diagnostics().precision(), "float64");
  // float32 asked for: the fake device computes in float64 and says so.
  ot::v1::DistanceRequest f32 =
      Clouds(80, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_GPU);
  f32.mutable_options()->set_precision(ot::v1::PRECISION_FLOAT32);
  ASSERT_TRUE(Distance(f32, &gpu).ok());
  EXPECT_EQ(gpu.diagnostics().precision(), "float64");
  EXPECT_NEAR(gpu.value(), cpu.value(), 1e-12 * cpu.value());
  // A method without a GPU implementation, asked for on the GPU.
  grpc::Status s =
      Distance(Clouds(20, ot::v1::METHOD_EXACT, ot::v1::DEVICE_GPU), &gpu);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("exact"), std::string::npos);
  // GetServerInfo lists the devices and their budgets.
  grpc::ClientContext c;
  ot::v1::GetServerInfoResponse info;
  ASSERT_TRUE(stub_->GetServerInfo(&c, {}, &info).ok());
  ASSERT_EQ(info.gpus_size(), 2);
  EXPECT_EQ(info.gpus(1).id(), 1);
  EXPECT_EQ(info.gpus(0).backend(), "fake");
  EXPECT_EQ(info.gpus(0).total_bytes(), int64_t{1} << 30);
  EXPECT_EQ(info.gpus(0).budget_bytes(),
            static_cast<int64_t>(0.8 * static_cast<double>(1 << 30)));
}

TEST_F(GpuServiceTest, AutoSendsLargeEntropicJobsToTheGpu) {
  FakeGpuBackend fake(1, int64_t{1} << 30);
  Start(&fake, "0", /*auto_min_entries=*/100 * 100);
  ot::v1::DistanceResponse r;
  ASSERT_TRUE(
      Distance(Clouds(99, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_AUTO), &r)
          .ok());
  EXPECT_EQ(r.diagnostics().device(), "cpu");  // 99 x 99 < threshold
  ASSERT_TRUE(
      Distance(Clouds(100, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_AUTO), &r)
          .ok());
  EXPECT_EQ(r.diagnostics().device(), "fake:0");
  ASSERT_TRUE(
      Distance(Clouds(100, ot::v1::METHOD_EXACT, ot::v1::DEVICE_AUTO), &r)
          .ok());
  EXPECT_EQ(r.diagnostics().device(), "cpu");  // no GPU implementation
}

TEST_F(GpuServiceTest, JobsThatCannotFitTheDeviceAreRefusedWithTheirSize) {
  // 1 MiB of device memory, 0.8 of it admitted: a 400 x 400 dense plan
  // (1.28 MB) does not fit.
  FakeGpuBackend small(1, int64_t{1} << 20);
  Start(&small, "all");
  ot::v1::PlanRequest plan;
  const ot::v1::DistanceRequest d =
      Clouds(400, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_GPU);
  *plan.mutable_source() = d.source();
  *plan.mutable_target() = d.target();
  plan.set_method(d.method());
  *plan.mutable_options() = d.options();
  plan.set_format(ot::v1::PLAN_FORMAT_DENSE);
  grpc::ClientContext c;
  ot::v1::PlanResponse out;
  grpc::Status s = stub_->Plan(&c, plan, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("MiB of GPU memory"), std::string::npos)
      << s.error_message();
  // The distance alone (matrix-free clouds) fits.
  ot::v1::DistanceResponse r;
  EXPECT_TRUE(Distance(d, &r).ok());
}

TEST_F(GpuServiceTest, UnknownDeviceIdsAreRefusedAtStart) {
  FakeGpuBackend fake(1, int64_t{1} << 30);
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.gpu.devices = "0,3";
  o.gpu_backend = &fake;
  auto s = OtServer::Start(o);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GpuServiceTest, DeadlinesStopGpuJobs) {
  FakeGpuBackend fake(1, int64_t{1} << 30);
  Start(&fake, "all");
  ot::v1::DistanceRequest slow =
      Clouds(400, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_GPU);
  slow.mutable_options()->set_epsilon(1e-4);
  slow.mutable_options()->set_tolerance(1e-300);
  slow.mutable_options()->set_max_iterations(1'000'000'000);
  slow.mutable_options()->set_epsilon_scaling(false);
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() +
                 std::chrono::milliseconds(300));
  ot::v1::DistanceResponse r;
  const absl::Time start = absl::Now();
  grpc::Status s = stub_->Distance(&c, slow, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(GpuServiceTest, FixedSupportBarycentersRunOnTheGpuOthersDoNot) {
  FakeGpuBackend fake(1, int64_t{1} << 30);
  Start(&fake, "all");
  ot::v1::BarycenterRequest r;
  r.set_kind(ot::v1::BARYCENTER_KIND_FIXED_SUPPORT);
  const int n = 30;
  std::vector<double> support(n), h1(n), h2(n);
  for (int i = 0; i < n; ++i) {
    support[i] = i / static_cast<double>(n);
    h1[i] = std::exp(-20 * (support[i] - 0.3) * (support[i] - 0.3));
    h2[i] = std::exp(-20 * (support[i] - 0.7) * (support[i] - 0.7));
  }
  for (auto* h : {&h1, &h2}) {
    double sum = 0;
    for (double v : *h) sum += v;
    for (double& v : *h) v /= sum;
    SetArray(h->data(), {n}, r.add_measures()->mutable_weights());
  }
  SetArray(support.data(), {n, 1}, r.mutable_support());
  r.mutable_options()->set_epsilon(0.01);
  ot::v1::BarycenterResponse cpu, gpu;
  r.mutable_options()->set_device(ot::v1::DEVICE_CPU);
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->Barycenter(&c, r, &cpu).ok());
  }
  r.mutable_options()->set_device(ot::v1::DEVICE_GPU);
  {
    grpc::ClientContext c;
    grpc::Status s = stub_->Barycenter(&c, r, &gpu);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(gpu.diagnostics().device(), "fake:0");
  EXPECT_EQ(cpu.diagnostics().device(), "cpu");
  EXPECT_EQ(gpu.weights().data(), cpu.weights().data());
  EXPECT_GT(fake.reductions(), 0);
  ot::v1::BarycenterRequest g;
  g.set_kind(ot::v1::BARYCENTER_KIND_GAUSSIAN);
  *g.add_measures()->mutable_points() = r.support();
  g.mutable_options()->set_device(ot::v1::DEVICE_GPU);
  grpc::ClientContext c;
  ot::v1::BarycenterResponse out;
  EXPECT_EQ(stub_->Barycenter(&c, g, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// A batch on the GPU: its Sinkhorn items are solved together (one batch call
// on the device), other methods on the CPU, bad items fail alone; the values
// match the CPU's item by item.
TEST_F(GpuServiceTest, BatchesSolveTheirSinkhornItemsTogetherOnTheGpu) {
  FakeGpuBackend fake(/*devices=*/1, int64_t{1} << 30);
  Start(&fake, "all");
  auto batch = [](ot::v1::Device device) {
    ot::v1::DistanceBatchRequest b;
    for (int n : {30, 45, 60}) {
      *b.add_items() = Clouds(n, ot::v1::METHOD_SINKHORN, device);
      b.mutable_items()->rbegin()->mutable_options()->set_tolerance(1e-10);
    }
    *b.add_items() = Clouds(20, ot::v1::METHOD_EXACT, ot::v1::DEVICE_AUTO);
    *b.add_items() = Clouds(20, ot::v1::METHOD_SINKHORN, device);
    b.mutable_items(4)->mutable_options()->set_epsilon(-1.0);
    return b;
  };
  ot::v1::DistanceBatchResponse cpu, gpu;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->DistanceBatch(&c, batch(ot::v1::DEVICE_CPU), &cpu).ok());
  }
  EXPECT_EQ(fake.reductions(), 0);
  {
    ot::v1::DistanceBatchRequest b = batch(ot::v1::DEVICE_AUTO);
    b.mutable_items(1)->mutable_options()->set_device(ot::v1::DEVICE_GPU);
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->DistanceBatch(&c, b, &gpu).ok());
  }
  EXPECT_EQ(fake.reductions(), 1);  // one batch call, nothing else
  ASSERT_EQ(gpu.items_size(), 5);
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(gpu.items(k).has_result()) << gpu.items(k).error().message();
    const auto& g = gpu.items(k).result();
    const auto& want = cpu.items(k).result();
    EXPECT_EQ(g.diagnostics().device(), "fake:0");
    EXPECT_EQ(want.diagnostics().device(), "cpu");
    EXPECT_NEAR(g.value(), want.value(), 1e-8 * want.value());
    EXPECT_EQ(g.diagnostics().termination(), ot::v1::TERMINATION_CONVERGED);
    EXPECT_LE(g.diagnostics().marginal_error(), 1e-10);
  }
  ASSERT_TRUE(gpu.items(3).has_result());
  EXPECT_EQ(gpu.items(3).result().diagnostics().device(), "cpu");
  EXPECT_EQ(gpu.items(3).result().value(), cpu.items(3).result().value());
  ASSERT_TRUE(gpu.items(4).has_error());
  EXPECT_EQ(gpu.items(4).error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A batch of methods without a GPU path, asked for on the GPU.
  ot::v1::DistanceBatchRequest exact;
  *exact.add_items() = Clouds(20, ot::v1::METHOD_EXACT, ot::v1::DEVICE_GPU);
  grpc::ClientContext c;
  EXPECT_EQ(stub_->DistanceBatch(&c, exact, &gpu).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// Sliced jobs run on the device's sliced kernels: the same value as the CPU;
// AUTO sends them there from directions x (n + m) values on.
TEST_F(GpuServiceTest, SlicedJobsRunOnTheGpu) {
  FakeGpuBackend fake(/*devices=*/1, int64_t{1} << 30);
  Start(&fake, "all", /*auto_min_entries=*/100 * 400);
  ot::v1::DistanceResponse cpu, gpu, autod;
  ot::v1::DistanceRequest r =
      Clouds(200, ot::v1::METHOD_SLICED, ot::v1::DEVICE_CPU);
  r.mutable_options()->set_num_directions(100);
  ASSERT_TRUE(Distance(r, &cpu).ok());
  EXPECT_EQ(fake.reductions(), 0);
  r.mutable_options()->set_device(ot::v1::DEVICE_GPU);
  ASSERT_TRUE(Distance(r, &gpu).ok());
  EXPECT_EQ(fake.reductions(), 1);
  EXPECT_EQ(gpu.value(), cpu.value());
  EXPECT_EQ(gpu.diagnostics().device(), "fake:0");
  r.mutable_options()->set_device(ot::v1::DEVICE_AUTO);
  ASSERT_TRUE(Distance(r, &autod).ok());
  EXPECT_EQ(autod.diagnostics().device(), "fake:0");
  r.mutable_options()->set_num_directions(99);  // below the threshold
  ASSERT_TRUE(Distance(r, &autod).ok());
  EXPECT_EQ(autod.diagnostics().device(), "cpu");
}

// A Sinkhorn divergence on the GPU runs its problems together (fused
// reduction sets); the value agrees with the CPU's separate solves.
TEST_F(GpuServiceTest, DivergencesRunTheirReductionsTogetherOnTheGpu) {
  FakeGpuBackend fake(/*devices=*/1, int64_t{1} << 30);
  Start(&fake, "all");
  const ot::v1::DistanceRequest clouds =
      Clouds(70, ot::v1::METHOD_SINKHORN, ot::v1::DEVICE_CPU);
  ot::v1::DivergenceRequest r;
  *r.mutable_source() = clouds.source();
  *r.mutable_target() = clouds.target();
  r.set_kind(ot::v1::DIVERGENCE_KIND_SINKHORN);
  r.mutable_options()->set_epsilon(0.1);
  r.mutable_options()->set_tolerance(1e-10);
  r.mutable_options()->set_device(ot::v1::DEVICE_CPU);
  ot::v1::DivergenceResponse cpu, gpu;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->Divergence(&c, r, &cpu).ok());
  }
  EXPECT_EQ(fake.reductions(), 0);
  r.mutable_options()->set_device(ot::v1::DEVICE_GPU);
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->Divergence(&c, r, &gpu).ok());
  }
  EXPECT_GT(fake.reductions(), 0);
  EXPECT_EQ(gpu.diagnostics().device(), "fake:0");
  EXPECT_EQ(gpu.diagnostics().termination(), ot::v1::TERMINATION_CONVERGED);
  EXPECT_NEAR(gpu.value(), cpu.value(), 1e-7 * std::abs(cpu.cross_term()));
  EXPECT_NEAR(gpu.cross_term(), cpu.cross_term(),
              1e-7 * std::abs(cpu.cross_term()));
}

// The CUDA kernels' tests: skipped where this build or machine has no CUDA
// device (CI never has one).
class CudaKernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!otcore::gpu::CudaCompiled() || cuda.Devices().empty()) {
      GTEST_SKIP() << "no CUDA device on this machine (compiled: "
                   << otcore::gpu::CudaCompiled() << ")";
    }
  }
  const otcore::gpu::GpuBackend& cuda = otcore::gpu::CudaBackend();
};

// The CUDA kernels against the CPU's, where a CUDA device exists.
TEST_F(CudaKernelsTest, AgreeWithTheCpuKernels) {
  auto kernels = cuda.Kernels(0, otcore::gpu::Precision::kFloat64);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  std::mt19937_64 rng(2);
  std::normal_distribution<double> normal;
  otcore::RowMatrix x(300, 3), y(200, 3);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng);
  const otcore::RowMatrix dense = otcore::PairwiseCost(x, y, {});
  Eigen::ArrayXd h = Eigen::ArrayXd::Random(200), w = Eigen::ArrayXd::Zero(200);
  Eigen::ArrayXd hx = Eigen::ArrayXd::Random(300),
                 wx = Eigen::ArrayXd::Zero(300);
  otcore::SolveControl control;
  for (const otcore::CostSource& c : {otcore::CostSource::Clouds(x, y, {}),
                                      otcore::CostSource::Dense(dense)}) {
    Eigen::ArrayXd want, got;
    otcore::CpuEntropicKernels().RowSoftMin(c, h, w, 0.1, &want, control);
    (*kernels)->RowSoftMin(c, h, w, 0.1, &got, control);
    EXPECT_LE((got - want).abs().maxCoeff(), 1e-12) << "rows";
    otcore::CpuEntropicKernels().ColSoftMin(c, hx, wx, 0.1, &want, control);
    (*kernels)->ColSoftMin(c, hx, wx, 0.1, &got, control);
    EXPECT_LE((got - want).abs().maxCoeff(), 1e-12) << "columns";
    Eigen::ArrayXd r1, c1, r2, c2;
    otcore::RowMatrix p1, p2;
    otcore::CpuEntropicKernels().PrimalPass(c, hx, h, 0.1, &r1, &c1, &p1,
                                            control);
    (*kernels)->PrimalPass(c, hx, h, 0.1, &r2, &c2, &p2, control);
    EXPECT_LE((r1 - r2).abs().maxCoeff(), 1e-12 * r1.abs().maxCoeff());
    EXPECT_LE((p1 - p2).cwiseAbs().maxCoeff(), 1e-12 * p1.maxCoeff());
  }
}

// The CUDA batch kernel against its host run, where a CUDA device exists.
TEST_F(CudaKernelsTest, BatchAgreesWithTheHostBlocks) {
  auto kernels = cuda.Kernels(0, otcore::gpu::Precision::kFloat64);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  ASSERT_TRUE((*kernels)->TakesInBatch(200, 300, 3));
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<otcore::RowMatrix> clouds;
  std::vector<otcore::SinkhornBatchItem> items;
  for (int k = 0; k < 40; ++k) {
    const int n = 5 + 7 * k, m = 300 - 6 * k;
    clouds.emplace_back(n, 3);
    clouds.emplace_back(m, 3);
    for (double& v : clouds[2 * k].reshaped()) v = normal(rng);
    for (double& v : clouds[2 * k + 1].reshaped()) v = normal(rng) + 0.5;
    const auto source =
        otcore::CostSource::Clouds(clouds[2 * k], clouds[2 * k + 1], {});
    otcore::SinkhornBatchItem item{source, Eigen::ArrayXd::Constant(n, 1.0 / n),
                                   Eigen::ArrayXd::Constant(m, 1.0 / m)};
    item.epsilon = 0.05;
    item.eps_start = source.Range();
    item.tolerance = 1e-9;
    items.push_back(std::move(item));
  }
  otcore::SolveControl control;
  std::vector<otcore::SinkhornBatchOutcome> host, device;
  ASSERT_TRUE(otcore::gpu::SolveBatchOnHost(items, &host, control).ok());
  ASSERT_TRUE((*kernels)->SolveBatch(items, &device, control).ok());
  ASSERT_EQ(device.size(), items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    EXPECT_NEAR(device[k].cost, host[k].cost, 1e-10 * host[k].cost) << k;
    EXPECT_EQ(device[k].summary.termination, host[k].summary.termination);
    EXPECT_NEAR(device[k].summary.iterations, host[k].summary.iterations, 2);
  }
}

// The CUDA sliced kernels against the CPU's, where a CUDA device exists.
TEST_F(CudaKernelsTest, SlicedAgreesWithTheCpu) {
  auto kernels = cuda.Sliced(0);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal;
  otcore::RowMatrix x(3000, 5), y(2000, 5), dirs(300, 5);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng) + 0.2;
  for (double& v : dirs.reshaped()) v = normal(rng);
  dirs.rowwise().normalize();
  Eigen::VectorXd a = Eigen::VectorXd::Random(3000).array() + 1.5;
  Eigen::VectorXd b = Eigen::VectorXd::Constant(2000, 1.0);
  a /= a.sum();
  b /= b.sum();
  otcore::SolveControl control;
  for (double p : {1.0, 2.0, 1.5}) {
    Eigen::VectorXd want, got;
    ASSERT_TRUE(otcore::CpuSlicedKernels()
                    .ProjectedCosts(x, a, y, b, dirs, p, &want, control)
                    .ok());
    ASSERT_TRUE(
        (*kernels)->ProjectedCosts(x, a, y, b, dirs, p, &got, control).ok());
    EXPECT_LE((got - want).cwiseAbs().maxCoeff(), 1e-9 * want.maxCoeff())
        << "p " << p;
  }
}

// Fused reduction sets on CUDA against the CPU, where a CUDA device exists.
TEST_F(CudaKernelsTest, FusedSoftMinsAgreeWithTheCpu) {
  auto kernels = cuda.Kernels(0, otcore::gpu::Precision::kFloat64);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  ASSERT_TRUE((*kernels)->FusesSoftMins());
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal;
  otcore::RowMatrix x(700, 3), y(400, 3);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng) + 0.3;
  const auto sxy = otcore::CostSource::Clouds(x, y, {});
  const auto sxx = otcore::CostSource::Clouds(x, x, {});
  const auto syy = otcore::CostSource::Clouds(y, y, {});
  const Eigen::ArrayXd hx = Eigen::ArrayXd::Random(700),
                       hy = Eigen::ArrayXd::Random(400);
  const Eigen::ArrayXd lx = Eigen::ArrayXd::Constant(700, -std::log(700.0)),
                       ly = Eigen::ArrayXd::Constant(400, -std::log(400.0));
  Eigen::ArrayXd o1, o2, o3, w1, w2, w3;
  const otcore::SoftMinTask tasks[] = {
      {&sxy, &hy, &ly, &o1}, {&sxx, &hx, &lx, &o2}, {&syy, &hy, &ly, &o3}};
  otcore::SolveControl control;
  (*kernels)->RowSoftMins(tasks, 0.2, control);
  const otcore::SoftMinTask cpu[] = {
      {&sxy, &hy, &ly, &w1}, {&sxx, &hx, &lx, &w2}, {&syy, &hy, &ly, &w3}};
  otcore::CpuEntropicKernels().RowSoftMins(cpu, 0.2, control);
  EXPECT_LE((o1 - w1).abs().maxCoeff(), 1e-12);
  EXPECT_LE((o2 - w2).abs().maxCoeff(), 1e-12);
  EXPECT_LE((o3 - w3).abs().maxCoeff(), 1e-12);
}

// float32 reductions on CUDA: close to the CPU's, and reported.
TEST_F(CudaKernelsTest, Float32ReductionsAreCloseAndReported) {
  auto kernels = cuda.Kernels(0, otcore::gpu::Precision::kFloat32);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  EXPECT_EQ((*kernels)->precision(), "float64");  // nothing reduced yet
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  otcore::RowMatrix x(500, 3), y(300, 3);
  for (double& v : x.reshaped()) v = normal(rng);
  for (double& v : y.reshaped()) v = normal(rng);
  const auto c = otcore::CostSource::Clouds(x, y, {});
  const Eigen::ArrayXd h = Eigen::ArrayXd::Random(300),
                       w = Eigen::ArrayXd::Constant(300, -std::log(300.0));
  otcore::SolveControl control;
  Eigen::ArrayXd want, got;
  otcore::CpuEntropicKernels().RowSoftMin(c, h, w, 0.1, &want, control);
  (*kernels)->RowSoftMin(c, h, w, 0.1, &got, control);
  EXPECT_LE(((got - want).abs() / want.abs().max(1.0)).maxCoeff(), 1e-5);
  EXPECT_EQ((*kernels)->precision(), "float32");
}

}  // namespace
}  // namespace otserve
