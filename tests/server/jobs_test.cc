// The decoders of server/jobs from proto literals (no server), and the method
// tables: each rule (validation of a field, AUTO, size limits, the method
// lists) is pinned here once.
#include "server/jobs/jobs.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <new>
#include <set>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/common/validate.h"
#include "core/methods.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/errors.h"
#include "server/methods.h"

namespace otserve {
namespace {

template <typename Message>
Message Parse(const std::string& text) {
  Message m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

// The BadRequest fields of a decode error, as a client would see them.
std::set<std::string> Fields(const absl::Status& status) {
  std::set<std::string> out;
  const grpc::Status g = ToGrpcStatus(status);
  google::rpc::Status details;
  if (!details.ParseFromString(g.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (!any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) out.insert(v.field());
  }
  return out;
}

// Two 2-D point clouds of `n` points (values 0..2n-1), packed values.
std::string Clouds(int n, int d = 2) {
  std::string pts;
  for (int k = 0; k < n * d; ++k) absl::StrAppend(&pts, " values: ", k % 7);
  const std::string shape = absl::StrCat("shape: ", n, " shape: ", d);
  return absl::StrCat("source { points { ", shape, pts,
                      " } } target { points { ", shape, pts, " } }");
}

TEST(MethodTableTest, EveryProtoMethodHasOneCoreRowAndTheSameName) {
  const auto* methods = ot::v1::Method_descriptor();
  for (int i = 0; i < methods->value_count(); ++i) {
    const auto value = static_cast<ot::v1::Method>(methods->value(i)->number());
    if (value == ot::v1::METHOD_UNSPECIFIED) continue;
    auto core = FromProto(value);
    ASSERT_TRUE(core.has_value()) << methods->value(i)->name();
    EXPECT_EQ(ToProto(*core), value);
    EXPECT_EQ(methods->value(i)->options().GetExtension(ot::v1::cli_name),
              otcore::InfoOf(*core).name)
        << methods->value(i)->name();
  }
  for (const otcore::MethodInfo& info : otcore::AllMethods()) {
    EXPECT_NE(ToProto(info.method), ot::v1::METHOD_UNSPECIFIED) << info.name;
    EXPECT_EQ(otcore::InfoOf(info.method).name, info.name);
    EXPECT_EQ(info.solve == nullptr, info.method == otcore::Method::kAuto);
  }
  EXPECT_FALSE(FromProto(static_cast<ot::v1::Method>(42)).has_value());
}

TEST(DecodeTest, ValidRequestDecodesWithViewsAndAutoIsTheCoresChoice) {
  auto job = DistanceJob::Decode(Parse<ot::v1::DistanceRequest>(Clouds(5)),
                                 DecodeContext{});
  ASSERT_TRUE(job.ok()) << job.status();
}

TEST(DecodeTest, EachFieldIsCheckedOnceAndNamed) {
  const DecodeContext context;
  struct Case {
    std::string extra;
    std::string field;
  };
  const Case cases[] = {
      {"options { epsilon: -1 }", "options.epsilon"},
      {"options { tolerance: 0 }", "options.tolerance"},
      {"options { tolerance: 1.5 }", "options.tolerance"},
      {"options { max_iterations: 0 }", "options.max_iterations"},
      {"options { max_iterations: 2000000000000 }", "options.max_iterations"},
      {"options { num_directions: 0 } method: METHOD_SLICED",
       "options.num_directions"},
      {"method: METHOD_UNBALANCED_SINKHORN", "options.marginal_relaxation"},
      {"options { marginal_relaxation: -1 } method: "
       "METHOD_UNBALANCED_SINKHORN",
       "options.marginal_relaxation"},
      {"method: METHOD_ONE_D", "method"},
      {"cost { kind: COST_KIND_POWER p: 0.5 }", "cost.p"},
      {"cost { kind: COST_KIND_EUCLIDEAN } method: METHOD_GAUSSIAN",
       "cost.kind"},
      {"options { epsilon_scale: 9 }", "options.epsilon_scale"},
  };
  for (const Case& c : cases) {
    auto job = DistanceJob::Decode(
        Parse<ot::v1::DistanceRequest>(Clouds(4) + " " + c.extra), context);
    ASSERT_FALSE(job.ok()) << c.extra;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Fields(job.status()).count(c.field))
        << c.extra << " -> " << job.status();
  }
}

TEST(DecodeTest, WeightsAndMassesAreTheCoresRule) {
  const std::string base =
      "cost { kind: COST_KIND_EXPLICIT matrix { shape: 2 shape: 2 values: 0 "
      "values: 1 values: 1 values: 0 } } ";
  auto heavy = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(
          base + "target { weights { shape: 2 values: 0.7 values: 0.8 } }"),
      {});
  EXPECT_EQ(Fields(heavy.status()), std::set<std::string>{"target.weights"});
  // The same rule in the core, with the same field.
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(2, 0.5);
  const Eigen::VectorXd b = (Eigen::VectorXd(2) << 0.7, 0.8).finished();
  EXPECT_EQ(otcore::FieldOf(otcore::ValidateBalanced(a, b)), "target.weights");
  // Unbalanced OT accepts different masses.
  auto unbalanced = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(
          base +
          "target { weights { shape: 2 values: 0.7 values: 0.8 } } method: "
          "METHOD_UNBALANCED_SINKHORN options { marginal_relaxation: 1 }"),
      {});
  EXPECT_TRUE(unbalanced.ok()) << unbalanced.status();
}

TEST(DecodeTest, SizeLimitsAskTheCoreWhatTheMethodAllocates) {
  DecodeContext context;
  context.limits.max_cost_entries = 100;  // 20 x 20 = 400 entries
  // Exact forms the cost: refused.
  auto exact = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(Clouds(20) + " method: METHOD_EXACT"),
      context);
  EXPECT_EQ(Fields(exact.status()), std::set<std::string>{"source"});
  // Point-cloud Sinkhorn without a plan runs matrix-free: admitted.
  auto sinkhorn = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(Clouds(20) + " method: METHOD_SINKHORN"),
      context);
  EXPECT_TRUE(sinkhorn.ok()) << sinkhorn.status();
  // ... but its dense plan is n x m: refused for Plan.
  auto plan = PlanJob::Decode(
      Parse<ot::v1::PlanRequest>(Clouds(20) + " method: METHOD_SINKHORN"),
      context);
  EXPECT_EQ(Fields(plan.status()), std::set<std::string>{"source"});
  // Sliced needs no cost matrix.
  auto sliced = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(Clouds(20) + " method: METHOD_SLICED"),
      context);
  EXPECT_TRUE(sliced.ok()) << sliced.status();
  context.limits.max_points = 10;
  auto points = DistanceJob::Decode(
      Parse<ot::v1::DistanceRequest>(Clouds(20) + " method: METHOD_SLICED"),
      context);
  EXPECT_EQ(Fields(points.status()),
            (std::set<std::string>{"source", "target"}));
}

// Issue 10: every size a request implies is bounded before anything is
// allocated (these requests crashed or stalled the server).
TEST(DecodeTest, SizesImpliedByARequestAreBoundedFirst) {
  const DecodeContext context;
  // One float32 point of dimension 100,000 and a million directions.
  std::string point(4 * 100'000, '\0');
  ot::v1::DistanceRequest sliced;
  sliced.set_method(ot::v1::METHOD_SLICED);
  for (auto* m : {sliced.mutable_source(), sliced.mutable_target()}) {
    auto* a = m->mutable_points();
    a->add_shape(1);
    a->add_shape(100'000);
    a->set_dtype(ot::v1::DTYPE_FLOAT32);
    a->set_data(point);
  }
  sliced.mutable_options()->set_num_directions(1'000'000);
  auto job = DistanceJob::Decode(sliced, context);
  EXPECT_EQ(Fields(job.status()),
            std::set<std::string>{"options.num_directions"});
  // The Gaussian closed form on points of dimension 3,000 (d x d work).
  ot::v1::DistanceRequest gaussian = sliced;
  gaussian.set_method(ot::v1::METHOD_GAUSSIAN);
  gaussian.clear_options();
  for (auto* m : {gaussian.mutable_source(), gaussian.mutable_target()}) {
    m->mutable_points()->set_shape(1, 3000);
    m->mutable_points()->set_data(std::string(4 * 3000, '\0'));
  }
  job = DistanceJob::Decode(gaussian, context);
  EXPECT_EQ(Fields(job.status()), std::set<std::string>{"source.points"});
  ot::v1::BarycenterRequest bar;
  bar.set_kind(ot::v1::BARYCENTER_KIND_GAUSSIAN);
  *bar.add_measures() = gaussian.source();
  auto bjob = BarycenterJob::Decode(bar, context);
  EXPECT_EQ(Fields(bjob.status()), std::set<std::string>{"measures[0].points"});
}

TEST(DecodeTest, ResponsesThatCannotFitAreRefusedBeforeTheSolve) {
  DecodeContext context;
  context.max_message_bytes = 1000;  // 20 x 20 dense plan = 3,200 bytes
  auto dense = PlanJob::Decode(
      Parse<ot::v1::PlanRequest>(Clouds(20) + " method: METHOD_SINKHORN"),
      context);
  EXPECT_EQ(dense.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(dense.status().message().find("max_message_mb"), std::string::npos);
  auto gw = GromovJob::Decode(
      Parse<ot::v1::GromovRequest>(Clouds(20) + " return_plan: true"), context);
  EXPECT_EQ(gw.status().code(), absl::StatusCode::kResourceExhausted);
  auto map = MapJob::Decode(Parse<ot::v1::MapRequest>(Clouds(100)), context);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kResourceExhausted);
  // Small enough: admitted.
  context.max_message_bytes = 1 << 20;
  EXPECT_TRUE(
      PlanJob::Decode(Parse<ot::v1::PlanRequest>(Clouds(20)), context).ok());
  // The entropic map's k x m work is bounded by max_cost_entries.
  context.limits.max_cost_entries = 30;  // the 5 x 5 plan fits, 10 x 5 not
  std::string q = " query_points { shape: 10 shape: 2";
  for (int k = 0; k < 20; ++k) absl::StrAppend(&q, " values: ", k);
  auto query =
      MapJob::Decode(Parse<ot::v1::MapRequest>(Clouds(5) + q + " }"), context);
  EXPECT_EQ(Fields(query.status()), std::set<std::string>{"query_points"});
}

TEST(DecodeTest, PlanRefusesMethodsWithoutAPlan) {
  for (const char* method : {"METHOD_SLICED", "METHOD_MAX_SLICED"}) {
    auto job = PlanJob::Decode(
        Parse<ot::v1::PlanRequest>(Clouds(4) + " method: " + method), {});
    EXPECT_EQ(Fields(job.status()), std::set<std::string>{"method"}) << method;
  }
}

TEST(DecodeTest, MapRulesComeFromTheCore) {
  const std::string query =
      " query_points { shape: 1 shape: 2 values: 0 values: 1 }";
  auto ok = MapJob::Decode(Parse<ot::v1::MapRequest>(Clouds(4) + query), {});
  EXPECT_TRUE(ok.ok()) << ok.status();  // AUTO with a query: SINKHORN
  auto exact = MapJob::Decode(
      Parse<ot::v1::MapRequest>(Clouds(4) + query + " method: METHOD_EXACT"),
      {});
  EXPECT_EQ(Fields(exact.status()), std::set<std::string>{"method"});
  auto wrong_dim = MapJob::Decode(
      Parse<ot::v1::MapRequest>(
          Clouds(4) + " query_points { shape: 1 shape: 3 values: 0 values: 1 "
                      "values: 2 }"),
      {});
  EXPECT_EQ(Fields(wrong_dim.status()), std::set<std::string>{"query_points"});
}

TEST(DecodeTest, BarycenterKindsAndOptionsAreCheckedByTheirSolversOptions) {
  auto none = BarycenterJob::Decode({}, {});
  EXPECT_EQ(Fields(none.status()), std::set<std::string>{"kind"});
  auto grid = BarycenterJob::Decode(
      Parse<ot::v1::BarycenterRequest>(
          "kind: BARYCENTER_KIND_GRID measures { weights { shape: 2 shape: 2 "
          "values: 0.25 values: 0.25 values: 0.25 values: 0.25 } } options { "
          "epsilon: 0.1 tolerance: 2 }"),
      {});
  EXPECT_EQ(Fields(grid.status()), std::set<std::string>{"options.tolerance"});
  auto gaussian = BarycenterJob::Decode(
      Parse<ot::v1::BarycenterRequest>(
          "kind: BARYCENTER_KIND_GAUSSIAN measures { gaussian { mean { shape: "
          "1 values: 0 } covariance { shape: 1 shape: 1 values: 1 } } } "
          "weights { shape: 1 values: -1 }"),
      {});
  EXPECT_EQ(Fields(gaussian.status()), std::set<std::string>{"weights"});
}

TEST(DecodeTest, GromovChecksEachSpace) {
  auto job = GromovJob::Decode(
      Parse<ot::v1::GromovRequest>(
          "source { points { shape: 2 shape: 1 values: 0 values: 1 } } "
          "target_costs { shape: 2 shape: 3 values: 0 values: 1 values: 2 "
          "values: 3 values: 4 values: 5 } options { epsilon: -1 }"),
      {});
  EXPECT_EQ(Fields(job.status()),
            (std::set<std::string>{"target_costs", "options.epsilon"}));
}

// The job boundary: whatever a job throws fails that call with its own code
// and a message; the test process (like the server) survives.
TEST(JobBoundaryTest, ExceptionsBecomeThisCallsError) {
  auto run = [](auto body) {
    return CatchExceptions(body, "the job", "out of memory");
  };
  const absl::Status oom =
      run([]() -> absl::Status { throw std::bad_alloc(); });
  EXPECT_EQ(oom.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(oom.message(), "out of memory");
  const absl::Status std_error =
      run([]() -> absl::Status { throw std::length_error("vector too long"); });
  EXPECT_EQ(std_error.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std_error.message(), "the job failed: vector too long");
  const absl::Status unknown = run([]() -> absl::Status { throw 42; });
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInternal);
  EXPECT_NE(unknown.message().find("unknown exception"), std::string::npos);
  const absl::StatusOr<int> value =
      run([]() -> absl::StatusOr<int> { return 7; });
  EXPECT_EQ(*value, 7);
  const absl::Status passed =
      run([]() -> absl::Status { return absl::DeadlineExceededError("late"); });
  EXPECT_EQ(passed.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(DiagnosticsTest, StoppingRuleDefaultsToTheMarginalError) {
  otcore::Summary s;
  s.marginal_error = 3e-7;
  ot::v1::Diagnostics d;
  FillDiagnostics(s, absl::ZeroDuration(), 2, 3, &d);
  EXPECT_EQ(d.stopping_rule(), "marginal_error");
  EXPECT_EQ(d.stopping_value(), 3e-7);
  s.stopping_rule = "squared_displacement";
  s.stopping_value = 0.5;
  FillDiagnostics(s, absl::ZeroDuration(), 2, 3, &d);
  EXPECT_EQ(d.stopping_rule(), "squared_displacement");
  EXPECT_EQ(d.stopping_value(), 0.5);
  EXPECT_EQ(d.marginal_error(), 3e-7);
}

}  // namespace
}  // namespace otserve
