// The service over loopback: each RPC, each error class (with the field named
// in google.rpc.BadRequest), deadlines, cancellation mid-solve, queue full,
// drain on shutdown, health checking and reflection.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "absl/base/casts.h"
#include "absl/strings/match.h"
#include "client/client.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/server.h"

namespace otserve {
namespace {

using otclient::RowMatrix;
using otclient::SetArray;

class ServiceTest : public ::testing::Test {
 protected:
  void StartServer(int threads = 2, int max_queue = 4, Limits limits = {},
                   absl::Duration max_job_time = absl::Minutes(5)) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = threads;
    o.max_queue = max_queue;
    o.limits = limits;
    o.max_job_time = max_job_time;
    auto s = OtServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = ot::v1::OptimalTransportService::NewStub(channel_);
  }
  void SetUp() override { StartServer(); }

  int InFlight() {
    grpc::ClientContext c;
    ot::v1::GetServerInfoResponse info;
    EXPECT_TRUE(stub_->GetServerInfo(&c, {}, &info).ok());
    return info.jobs_in_flight();
  }
  // Polls until no job runs (a stopped solve frees its worker); false on
  // timeout.
  bool WaitNoJobs(absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + timeout;
    while (absl::Now() < end) {
      if (InFlight() == 0) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  std::unique_ptr<OtServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ot::v1::OptimalTransportService::Stub> stub_;
};

ot::v1::DistanceRequest SeedRequest() {
  ot::v1::DistanceRequest r;
  const double a[] = {0.5, 0.5}, b[] = {0.2, 0.8}, m[] = {0, 1, 1, 0};
  SetArray(a, {2}, r.mutable_source()->mutable_weights());
  SetArray(b, {2}, r.mutable_target()->mutable_weights());
  r.mutable_cost()->set_kind(ot::v1::COST_KIND_EXPLICIT);
  SetArray(m, {2, 2}, r.mutable_cost()->mutable_matrix());
  return r;
}

// A Sinkhorn job that runs for a long time: small epsilon, unreachable
// tolerance.
ot::v1::DistanceRequest SlowRequest(int n = 400) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  RowMatrix x(n, 2), y(n, 2);
  for (int i = 0; i < n * 2; ++i) {
    x.data()[i] = normal(rng);
    y.data()[i] = normal(rng) + 1;
  }
  ot::v1::DistanceRequest r;
  SetArray(x.data(), {n, 2}, r.mutable_source()->mutable_points());
  SetArray(y.data(), {n, 2}, r.mutable_target()->mutable_points());
  r.set_method(ot::v1::METHOD_SINKHORN);
  r.mutable_options()->set_epsilon(1e-4);
  r.mutable_options()->set_tolerance(1e-300);
  r.mutable_options()->set_epsilon_scaling(false);
  r.mutable_options()->set_max_iterations(1'000'000'000);
  return r;
}

// The fields named by the BadRequest details of an INVALID_ARGUMENT status.
std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  std::vector<std::string> fields;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) fields.push_back(v.field());
    }
  }
  return fields;
}

TEST_F(ServiceTest, DistanceSeedExample) {
  grpc::ClientContext c;
  ot::v1::DistanceResponse r;
  ASSERT_TRUE(stub_->Distance(&c, SeedRequest(), &r).ok());
  EXPECT_NEAR(r.value(), 0.3, 1e-15);
  EXPECT_EQ(r.diagnostics().method(), ot::v1::METHOD_EXACT);
  EXPECT_TRUE(r.diagnostics().converged());
  EXPECT_EQ(r.diagnostics().termination(), ot::v1::TERMINATION_CONVERGED);
  EXPECT_EQ(r.diagnostics().n(), 2);
}

TEST_F(ServiceTest, PlanSparseDenseAndPotentials) {
  ot::v1::PlanRequest req;
  const auto seed = SeedRequest();
  *req.mutable_source() = seed.source();
  *req.mutable_target() = seed.target();
  *req.mutable_cost() = seed.cost();
  grpc::ClientContext c1;
  ot::v1::PlanResponse sparse;
  ASSERT_TRUE(stub_->Plan(&c1, req, &sparse).ok());
  ASSERT_TRUE(sparse.has_sparse_plan());
  double total = 0;
  for (int k = 0; k < sparse.sparse_plan().values_size(); ++k) {
    total += sparse.sparse_plan().values(k);
  }
  EXPECT_NEAR(total, 1.0, 1e-15);
  auto f = otclient::GetArray(sparse.f()), g = otclient::GetArray(sparse.g());
  ASSERT_TRUE(f.ok() && g.ok());
  EXPECT_NEAR(0.5 * ((*f)(0) + (*f)(1)) + 0.2 * (*g)(0) + 0.8 * (*g)(1), 0.3,
              1e-12);

  req.set_format(ot::v1::PLAN_FORMAT_DENSE);
  grpc::ClientContext c2;
  ot::v1::PlanResponse dense;
  ASSERT_TRUE(stub_->Plan(&c2, req, &dense).ok());
  auto plan = otclient::GetArray(dense.dense_plan());
  ASSERT_TRUE(plan.ok());
  RowMatrix expected(2, 2);
  expected << 0.2, 0.3, 0.0, 0.5;
  EXPECT_TRUE(plan->isApprox(expected, 1e-14));
}

TEST_F(ServiceTest, CppClientPointCloudsAndValuesEncoding) {
  otclient::Client client(channel_);
  otclient::Request r;
  r.source.points = RowMatrix(3, 1);
  r.source.points << 0, 1, 2;
  r.target.points = RowMatrix(3, 1);
  r.target.points << 1, 2, 3;
  auto d = client.Distance(r);  // AUTO -> 1-D, each point moves by 1
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NEAR(d->value, 1.0, 1e-15);
  EXPECT_EQ(d->diagnostics.method(), ot::v1::METHOD_ONE_D);

  // The same request with `values` instead of raw bytes, and float32 bytes.
  ot::v1::DistanceRequest proto;
  otclient::Client::ToProto(r, &proto);
  for (auto* m : {proto.mutable_source(), proto.mutable_target()}) {
    RowMatrix p = *otclient::GetArray(m->points());
    m->mutable_points()->clear_data();
    m->mutable_points()->mutable_values()->Assign(p.data(),
                                                  p.data() + p.size());
  }
  grpc::ClientContext c;
  ot::v1::DistanceResponse out;
  ASSERT_TRUE(stub_->Distance(&c, proto, &out).ok());
  EXPECT_NEAR(out.value(), 1.0, 1e-15);
  const float xs[] = {0, 1, 2};
  proto.mutable_source()->mutable_points()->clear_values();
  proto.mutable_source()->mutable_points()->set_dtype(ot::v1::DTYPE_FLOAT32);
  proto.mutable_source()->mutable_points()->set_data(
      reinterpret_cast<const char*>(xs), 12);
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->Distance(&c2, proto, &out).ok());
  EXPECT_NEAR(out.value(), 1.0, 1e-15);
}

TEST_F(ServiceTest, ServerInfo) {
  grpc::ClientContext c;
  ot::v1::GetServerInfoResponse info;
  ASSERT_TRUE(stub_->GetServerInfo(&c, {}, &info).ok());
  EXPECT_EQ(info.worker_threads(), 2);
  EXPECT_EQ(info.max_queue(), 4);
  EXPECT_GE(info.max_message_bytes(), int64_t{256} << 20);
  EXPECT_EQ(info.methods_size(), 8);
  EXPECT_EQ(info.barycenter_kinds_size(), 4);
}

TEST_F(ServiceTest, EveryBadInputNamesItsField) {
  struct Case {
    const char* name;
    std::function<void(ot::v1::DistanceRequest*)> mutate;
    const char* field;
  };
  const double nan_points[] = {0, std::nan(""), 1, 2};
  const double pts2[] = {0, 1, 2, 3}, pts3[] = {0, 1, 2, 3, 4, 5};
  const double neg[] = {1.5, -0.5}, zeros[] = {0, 0}, heavy[] = {0.7, 0.8};
  const double inf_cost[] = {0, 1, HUGE_VAL, 0};
  const std::vector<Case> cases = {
      {"nan point",
       [&](auto* r) {
         r->mutable_cost()->Clear();
         SetArray(nan_points, {2, 2}, r->mutable_source()->mutable_points());
         SetArray(pts2, {2, 2}, r->mutable_target()->mutable_points());
       },
       "source.points"},
      {"inf cost",
       [&](auto* r) {
         SetArray(inf_cost, {2, 2}, r->mutable_cost()->mutable_matrix());
       },
       "cost.matrix"},
      {"negative weight",
       [&](auto* r) {
         SetArray(neg, {2}, r->mutable_target()->mutable_weights());
       },
       "target.weights"},
      {"all-zero weights",
       [&](auto* r) {
         SetArray(zeros, {2}, r->mutable_source()->mutable_weights());
       },
       "source.weights"},
      {"mass mismatch",
       [&](auto* r) {
         SetArray(heavy, {2}, r->mutable_target()->mutable_weights());
       },
       "target.weights"},
      {"weights vs matrix shape",
       [&](auto* r) {
         SetArray(pts3, {3}, r->mutable_source()->mutable_weights());
       },
       "source.weights"},
      {"dimension mismatch",
       [&](auto* r) {
         r->mutable_cost()->Clear();
         SetArray(pts2, {2, 2}, r->mutable_source()->mutable_points());
         SetArray(pts3, {2, 3}, r->mutable_target()->mutable_points());
       },
       "target.points"},
      {"dtype vs bytes",
       [&](auto* r) {
         r->mutable_source()->mutable_weights()->set_dtype(
             ot::v1::DTYPE_FLOAT32);
       },
       "source.weights.data"},
      {"missing dtype",
       [&](auto* r) {
         r->mutable_source()->mutable_weights()->set_dtype(
             ot::v1::DTYPE_UNSPECIFIED);
       },
       "source.weights.dtype"},
      {"empty measure",
       [&](auto* r) {
         r->mutable_source()->mutable_weights()->set_shape(0, 0);
       },
       "source.weights.shape"},
      {"missing points", [&](auto* r) { r->mutable_cost()->Clear(); },
       "source.points"},
      {"bad epsilon", [&](auto* r) { r->mutable_options()->set_epsilon(-1); },
       "options.epsilon"},
      {"bad tolerance",
       [&](auto* r) { r->mutable_options()->set_tolerance(0); },
       "options.tolerance"},
      {"bad iterations",
       [&](auto* r) { r->mutable_options()->set_max_iterations(0); },
       "options.max_iterations"},
      {"unknown method",
       [&](auto* r) { r->set_method(static_cast<ot::v1::Method>(42)); },
       "method"},
      {"1d with explicit cost",
       [&](auto* r) { r->set_method(ot::v1::METHOD_ONE_D); }, "method"},
      {"bad p",
       [&](auto* r) {
         r->mutable_cost()->Clear();
         r->mutable_cost()->set_kind(ot::v1::COST_KIND_POWER);
         r->mutable_cost()->set_p(0.5);
         SetArray(pts2, {2, 2}, r->mutable_source()->mutable_points());
         SetArray(pts2, {2, 2}, r->mutable_target()->mutable_points());
       },
       "cost.p"},
  };
  for (const Case& tc : cases) {
    ot::v1::DistanceRequest r = SeedRequest();
    tc.mutate(&r);
    grpc::ClientContext c;
    ot::v1::DistanceResponse out;
    grpc::Status status = stub_->Distance(&c, r, &out);
    std::vector<std::string> fields = ViolatedFields(status);
    EXPECT_NE(std::find(fields.begin(), fields.end(), tc.field), fields.end())
        << tc.name << ": " << status.error_message();
  }
}

TEST_F(ServiceTest, SizeLimitsAreEnforced) {
  Limits limits;
  limits.max_points = 3;
  limits.max_cost_entries = 5;
  StartServer(1, 1, limits);
  const double four[] = {0, 1, 2, 3};
  ot::v1::DistanceRequest r;
  r.set_method(ot::v1::METHOD_EXACT);
  SetArray(four, {4, 1},
           r.mutable_source()->mutable_points());  // 4 > max_points
  SetArray(four, {2, 1}, r.mutable_target()->mutable_points());
  grpc::ClientContext c;
  ot::v1::DistanceResponse out;
  grpc::Status status = stub_->Distance(&c, r, &out);
  auto fields = ViolatedFields(status);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "source"), fields.end())
      << status.error_message();
  // 3 x 2 = 6 cost entries > 5 for the exact method; fine for 1-D.
  SetArray(four, {3, 1}, r.mutable_source()->mutable_points());
  grpc::ClientContext c2;
  status = stub_->Distance(&c2, r, &out);
  fields = ViolatedFields(status);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "source"), fields.end())
      << status.error_message();
  r.set_method(ot::v1::METHOD_ONE_D);
  grpc::ClientContext c3;
  EXPECT_TRUE(stub_->Distance(&c3, r, &out).ok());
}

TEST_F(ServiceTest, DeadlineStopsTheSolve) {
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() +
                 std::chrono::milliseconds(300));
  ot::v1::DistanceResponse out;
  grpc::Status status = stub_->Distance(&c, SlowRequest(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitNoJobs()) << "the solve kept running after its deadline";
}

// Issue 10: a job sent without a deadline and with a huge iteration cap is
// stopped by the server's time limit per job, and the worker is freed.
// Issue 10: identical requests give bitwise-identical answers (request buffers
// land at varying alignments; vectorised reductions must not see that).
TEST_F(ServiceTest, IdenticalRequestsGiveIdenticalBits) {
  StartServer(1);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.1, 1.0);
  const int n = 300, m = 250, d = 3;
  RowMatrix x(n, d), y(m, d), c(n, m);
  for (int i = 0; i < n * d; ++i) x.data()[i] = normal(rng);
  for (int i = 0; i < m * d; ++i) y.data()[i] = normal(rng) + 0.5;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) c(i, j) = (x.row(i) - y.row(j)).squaredNorm();
  Eigen::VectorXd a(n), b(m);
  for (int i = 0; i < n; ++i) a(i) = uniform(rng);
  for (int j = 0; j < m; ++j) b(j) = uniform(rng);
  a /= a.sum();
  b /= b.sum();
  for (ot::v1::Method method :
       {ot::v1::METHOD_EXACT, ot::v1::METHOD_SINKHORN, ot::v1::METHOD_GAUSSIAN,
        ot::v1::METHOD_SLICED}) {
    ot::v1::DistanceRequest r;
    r.set_method(method);
    SetArray(a.data(), {n}, r.mutable_source()->mutable_weights());
    SetArray(b.data(), {m}, r.mutable_target()->mutable_weights());
    if (method == ot::v1::METHOD_EXACT) {
      r.mutable_cost()->set_kind(ot::v1::COST_KIND_EXPLICIT);
      SetArray(c.data(), {n, m}, r.mutable_cost()->mutable_matrix());
    } else {
      SetArray(x.data(), {n, d}, r.mutable_source()->mutable_points());
      SetArray(y.data(), {m, d}, r.mutable_target()->mutable_points());
    }
    std::set<uint64_t> bits;
    for (int k = 0; k < 16; ++k) {
      grpc::ClientContext ctx;
      ot::v1::DistanceResponse out;
      ASSERT_TRUE(stub_->Distance(&ctx, r, &out).ok());
      bits.insert(absl::bit_cast<uint64_t>(out.value()));
    }
    EXPECT_EQ(bits.size(), 1u) << ot::v1::Method_Name(method);
  }
}

TEST_F(ServiceTest, ServerTimeLimitStopsAJobWithoutDeadline) {
  StartServer(2, 4, {}, absl::Milliseconds(300));
  grpc::ClientContext c;  // no deadline
  ot::v1::DistanceResponse out;
  const absl::Time start = absl::Now();
  const grpc::Status status = stub_->Distance(&c, SlowRequest(), &out);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(status.error_message().find("max_job_seconds"), std::string::npos)
      << status.error_message();
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_TRUE(WaitNoJobs());
}

TEST_F(ServiceTest, ClientCancelStopsTheSolve) {
  grpc::ClientContext c;
  const ot::v1::DistanceRequest request = SlowRequest();  // outlives the call
  ot::v1::DistanceResponse out;
  std::promise<grpc::Status> done;
  stub_->async()->Distance(&c, &request, &out,
                           [&done](grpc::Status s) { done.set_value(s); });
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (InFlight() == 0 && absl::Now() < end)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(InFlight(), 1);
  c.TryCancel();
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitNoJobs()) << "the solve kept running after the cancel";
}

TEST_F(ServiceTest, FullQueueAnswersResourceExhausted) {
  StartServer(/*threads=*/1, /*max_queue=*/1);
  // Two slow jobs fill the single worker and the single queue slot.
  grpc::ClientContext c[2];
  ot::v1::DistanceResponse out[2];
  std::promise<grpc::Status> done[2];
  const ot::v1::DistanceRequest slow = SlowRequest(200);
  for (int k = 0; k < 2; ++k) {
    stub_->async()->Distance(&c[k], &slow, &out[k], [&done, k](grpc::Status s) {
      done[k].set_value(s);
    });
  }
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (InFlight() < 2 && absl::Now() < end)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(InFlight(), 2);
  grpc::ClientContext third;
  ot::v1::DistanceResponse r;
  grpc::Status status = stub_->Distance(&third, SeedRequest(), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  for (auto& ctx : c) ctx.TryCancel();
  for (auto& d : done)
    EXPECT_EQ(d.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitNoJobs());
  grpc::ClientContext fourth;
  EXPECT_TRUE(stub_->Distance(&fourth, SeedRequest(), &r).ok());
}

TEST_F(ServiceTest, ShutdownDrainsInFlightJobs) {
  // A job that runs for a while and then finishes at its iteration cap.
  ot::v1::DistanceRequest req = SlowRequest(300);
  req.mutable_options()->set_max_iterations(400);
  grpc::ClientContext c;
  ot::v1::DistanceResponse out;
  std::promise<grpc::Status> done;
  stub_->async()->Distance(&c, &req, &out,
                           [&done](grpc::Status s) { done.set_value(s); });
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (InFlight() == 0 && absl::Now() < end)
    absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(InFlight(), 1);
  server_->Shutdown(absl::Seconds(120));
  grpc::Status status = done.get_future().get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.diagnostics().iterations(), 400);
  EXPECT_FALSE(out.diagnostics().converged());
  EXPECT_EQ(out.diagnostics().termination(),
            ot::v1::TERMINATION_ITERATION_LIMIT);
}

// Health and reflection through the generic stub (Debian ships no client stubs
// for them): hand-encoded protobuf messages. The health status byte: 1
// SERVING, 2 NOT_SERVING; -1 when the check itself failed.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& service) {
  grpc::GenericStub generic(channel);
  std::string request;
  if (!service.empty())
    request = std::string("\x0a", 1) + char(service.size()) + service;
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::ClientContext c;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&c, "/grpc.health.v1.Health/Check", {}, &in, &out,
                    [&done](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!out.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (auto& s : slices)
    bytes += std::string(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : -1;
}

// Issue 10: bytes that are not a request message got UNIMPLEMENTED with an
// empty message; now INVALID_ARGUMENT saying what was expected.
TEST_F(ServiceTest, UnparseableRequestIsInvalidArgument) {
  grpc::GenericStub generic(channel_);
  for (const char* method : {"/ot.v1.OptimalTransportService/Distance",
                             "/ot.v1.OptimalTransportService/Plan",
                             "/ot.v1.OptimalTransportService/DistanceStream"}) {
    grpc::Slice slice(std::string("\xff\xff\xff\x0a\x05", 5));
    grpc::ByteBuffer in(&slice, 1), out;
    grpc::ClientContext c;
    std::promise<grpc::Status> done;
    if (absl::EndsWith(method, "Stream")) {
      // A server-streaming call through the generic stub: read to the end.
      grpc::CompletionQueue cq;
      auto call = generic.PrepareCall(&c, method, &cq);
      void* tag;
      bool ok;
      call->StartCall(reinterpret_cast<void*>(1));
      cq.Next(&tag, &ok);
      call->Write(in, grpc::WriteOptions().set_last_message(),
                  reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
      grpc::Status status;
      call->Finish(&status, reinterpret_cast<void*>(3));
      while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(3)) {
      }
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << method << ": " << status.error_message();
      continue;
    }
    generic.UnaryCall(&c, method, {}, &in, &out,
                      [&done](grpc::Status s) { done.set_value(s); });
    const grpc::Status status = done.get_future().get();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method;
    EXPECT_NE(status.error_message().find("not a valid ot.v1."),
              std::string::npos)
        << status.error_message();
  }
}

TEST_F(ServiceTest, HealthReportsServing) {
  for (std::string service : {"", "ot.v1.OptimalTransportService"}) {
    EXPECT_EQ(HealthStatus(channel_, service), 1) << "'" << service << "'";
  }
}

// Issue 10: during the drain health still answers, NOT_SERVING; new jobs get
// UNAVAILABLE; a job that would run forever is cancelled at the drain's end
// and Shutdown returns promptly.
TEST_F(ServiceTest, DrainAnswersNotServingThenCancels) {
  grpc::ClientContext slow;
  ot::v1::DistanceResponse out;
  std::promise<grpc::Status> done;
  const ot::v1::DistanceRequest req = SlowRequest();
  stub_->async()->Distance(&slow, &req, &out,
                           [&done](grpc::Status s) { done.set_value(s); });
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (InFlight() == 0 && absl::Now() < end)
    absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(InFlight(), 1);
  const absl::Time start = absl::Now();
  std::promise<bool> stopped;
  std::thread shutdown(
      [&]() { stopped.set_value(server_->Shutdown(absl::Seconds(1))); });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(HealthStatus(channel_, ""), 2);
  EXPECT_EQ(HealthStatus(channel_, "ot.v1.OptimalTransportService"), 2);
  grpc::ClientContext late;
  ot::v1::DistanceResponse r;
  EXPECT_EQ(stub_->Distance(&late, SeedRequest(), &r).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(stopped.get_future().get());
  shutdown.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The stopped call reads UNAVAILABLE (the server went away) or CANCELLED.
  const grpc::StatusCode code = done.get_future().get().error_code();
  EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE ||
              code == grpc::StatusCode::CANCELLED)
      << code;
}

TEST_F(ServiceTest, ReflectionListsTheService) {
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext c;
  auto call = generic.PrepareCall(
      &c, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice slice(std::string("\x3a\x00", 2));  // list_services: ""
  grpc::ByteBuffer request(&slice, 1), response;
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices)
    bytes += std::string(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("ot.v1.OptimalTransportService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
}

}  // namespace
}  // namespace otserve
