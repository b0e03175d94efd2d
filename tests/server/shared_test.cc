// The shared-service pieces without a network: token parsing and lookup,
// per-tenant fairness and limits in the scheduler, the metrics exposition and
// request-log lines.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace otserve {
namespace {

using Admission = Scheduler::Admission;
using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

TEST(TokensTest, ParseNamesTheBadLine) {
  auto table = ParseTokens(
      "# comment\n\n0123456789abcdef alice\n  fedcba9876543210 bob 3 \n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->at("0123456789abcdef").name, "alice");
  EXPECT_EQ(table->at("fedcba9876543210").weight, 3);
  for (const char* bad : {"short alice\n", "0123456789abcdef\n",
                          "0123456789abcdef a 0\n", "0123456789abcdef a 2 x\n",
                          "0123456789abcdef a\n0123456789abcdef b\n"}) {
    auto parsed = ParseTokens(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_NE(parsed.status().message().find("line "), std::string::npos);
  }
}

TEST(TokensTest, MissingWrongValidAndReload) {
  const std::string path = ::testing::TempDir() + "/tokens.txt";
  std::ofstream(path) << "0123456789abcdef alice\n";
  auto auth = TokenAuth::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->open());
  EXPECT_EQ((*auth)->Authenticate({}).status().code(),
            absl::StatusCode::kUnauthenticated);
  Metadata wrong = {{"authorization", "Bearer 0123456789abcdeX"}};
  EXPECT_EQ((*auth)->Authenticate(wrong).status().code(),
            absl::StatusCode::kUnauthenticated);
  Metadata no_scheme = {{"authorization", "0123456789abcdef"}};
  EXPECT_EQ((*auth)->Authenticate(no_scheme).status().code(),
            absl::StatusCode::kUnauthenticated);
  Metadata valid = {{"authorization", "Bearer 0123456789abcdef"}};
  ASSERT_TRUE((*auth)->Authenticate(valid).ok());
  EXPECT_EQ((*auth)->Authenticate(valid)->name, "alice");
  // Reload: the new table replaces the old; a bad file keeps the old one.
  std::ofstream(path) << "ffffffffffffffff carol 2\n";
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_FALSE((*auth)->Authenticate(valid).ok());
  Metadata carol = {{"authorization", "Bearer ffffffffffffffff"}};
  EXPECT_EQ((*auth)->Authenticate(carol)->weight, 2);
  std::ofstream(path) << "bad\n";
  EXPECT_FALSE((*auth)->Reload().ok());
  EXPECT_TRUE((*auth)->Authenticate(carol).ok());
  // No file: open, every caller is anonymous.
  TokenAuth open;
  EXPECT_TRUE(open.open());
  EXPECT_EQ(open.Authenticate({})->name, kAnonymousTenant);
  std::remove(path.c_str());
}

// Occupies the scheduler's only worker with a job of `tenant` until `release`
// is notified; returns once the job runs.
void HoldTheWorker(Scheduler& s, const Tenant& tenant,
                   absl::Notification* release) {
  // Shared: Notify may still run after the waiter below has returned.
  auto running = std::make_shared<absl::Notification>();
  ASSERT_EQ(s.TrySubmit(
                [running, release](absl::Duration) {
                  running->Notify();
                  release->WaitForNotification();
                },
                0, tenant),
            Admission::kAdmitted);
  running->WaitForNotification();
}

// One worker held; tenant A queues 12 jobs, then B queues 3: B's jobs must
// start interleaved with A's (round robin), not after all of A's.
TEST(TenantSchedulingTest, RoundRobinAcrossTenantsFifoWithin) {
  Scheduler s(/*threads=*/1, /*max_queue=*/64);
  absl::Notification release;
  HoldTheWorker(s, Tenant{"a", 1}, &release);
  absl::Mutex mu;
  std::vector<std::string> order;
  auto job = [&](std::string tag) {
    return [&, tag](absl::Duration) {
      absl::MutexLock lock(&mu);
      order.push_back(tag);
    };
  };
  for (int k = 0; k < 12; ++k) {
    ASSERT_EQ(s.TrySubmit(job("a" + std::to_string(k)), 0, Tenant{"a", 1}),
              Admission::kAdmitted);
  }
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(s.TrySubmit(job("b" + std::to_string(k)), 0, Tenant{"b", 1}),
              Admission::kAdmitted);
  }
  EXPECT_EQ(s.queued(), 15);
  release.Notify();
  ASSERT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  // "a" was being served when its 12 jobs queued, so its turn comes first.
  const std::vector<std::string> expected = {"a0", "b0", "a1", "b1",  "a2",
                                             "b2", "a3", "a4", "a5",  "a6",
                                             "a7", "a8", "a9", "a10", "a11"};
  EXPECT_EQ(order, expected);
}

TEST(TenantSchedulingTest, WeightsGiveConsecutiveStarts) {
  Scheduler s(/*threads=*/1, /*max_queue=*/64);
  absl::Notification release;
  HoldTheWorker(s, Tenant{"gate", 1}, &release);
  absl::Mutex mu;
  std::string order;
  for (int k = 0; k < 6; ++k) {
    for (auto [name, weight] : {std::pair{"h", 2}, std::pair{"l", 1}}) {
      std::string tag(name);
      ASSERT_EQ(s.TrySubmit(
                    [&, tag](absl::Duration) {
                      absl::MutexLock lock(&mu);
                      order += tag;
                    },
                    0, Tenant{tag, weight}),
                Admission::kAdmitted);
    }
  }
  release.Notify();
  ASSERT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(order, "hhlhhlhhllll");
}

TEST(TenantSchedulingTest, TenantLimitsLeaveRoomForOthers) {
  Scheduler s(/*threads=*/1, /*max_queue=*/8, /*max_bytes=*/1000);
  s.set_tenant_limits({/*max_jobs=*/3, /*max_bytes=*/500});
  absl::Notification release;
  auto wait = [&](absl::Duration) { release.WaitForNotification(); };
  const Tenant a{"a", 1}, b{"b", 1};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(s.TrySubmit(wait, 10, a), Admission::kAdmitted);
  }
  EXPECT_EQ(s.TrySubmit(wait, 10, a), Admission::kTenantFull);
  EXPECT_EQ(s.Precheck(10, a), Admission::kTenantFull);
  EXPECT_EQ(s.TrySubmit(wait, 10, b), Admission::kAdmitted);
  // Bytes: b's second job may not take b past 500 of the 1000.
  EXPECT_EQ(s.TrySubmit(wait, 491, b), Admission::kTenantFull);
  EXPECT_EQ(s.TrySubmit(wait, 490, b), Admission::kAdmitted);
  const std::vector<TenantLoad> loads = s.TenantLoads();
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[0].name, "a");
  EXPECT_EQ(loads[0].jobs, 3);
  EXPECT_EQ(loads[1].bytes, 500);
  release.Notify();
  ASSERT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_TRUE(s.TenantLoads().empty());
  EXPECT_EQ(s.TrySubmit(wait, 10, a), Admission::kAdmitted);
  ASSERT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
}

JobRecord Record(absl::string_view tenant, absl::StatusCode code,
                 bool converged) {
  JobRecord r;
  r.time = absl::FromUnixSeconds(1'800'000'000);
  r.tenant = std::string(tenant);
  r.rpc = "Distance";
  r.method = "sinkhorn";
  r.n = 5;
  r.m = 6;
  r.d = 2;
  r.code = code;
  r.has_result = code == absl::StatusCode::kOk;
  r.converged = converged;
  r.iterations = 40;
  r.solve_seconds = 0.003;
  r.total_seconds = 0.004;
  r.bytes_in = 200;
  if (code != absl::StatusCode::kOk) r.error = "bad \"x\"";
  return r;
}

TEST(MetricsTest, ExpositionCountsCallsByLabels) {
  Scheduler s(/*threads=*/2, /*max_queue=*/4);
  Metrics metrics(&s);
  metrics.Record(Record("alice", absl::StatusCode::kOk, true));
  metrics.Record(Record("alice", absl::StatusCode::kOk, false));
  metrics.Record(Record("bob", absl::StatusCode::kInvalidArgument, false));
  const std::string text = metrics.Render();
  for (const char* line :
       {"otserve_requests_total{rpc=\"Distance\",method=\"sinkhorn\","
        "code=\"OK\"} 2",
        "otserve_requests_total{rpc=\"Distance\",method=\"sinkhorn\","
        "code=\"INVALID_ARGUMENT\"} 1",
        "otserve_not_converged_total{method=\"sinkhorn\"} 1",
        "otserve_solver_iterations_total{method=\"sinkhorn\"} 80",
        "otserve_tenant_requests_total{tenant=\"alice\",code=\"OK\"} 2",
        "otserve_solve_duration_seconds_bucket{method=\"sinkhorn\","
        "le=\"0.005\"} 2",
        "otserve_request_duration_seconds_count{rpc=\"Distance\"} 3",
        "otserve_worker_threads 2", "otserve_queue_capacity 6",
        "# TYPE otserve_queue_wait_seconds histogram"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(MetricsTest, GpuQueuesAreExposedByDevice) {
  Scheduler cpu(/*threads=*/2, /*max_queue=*/4);
  Scheduler gpu(/*threads=*/2, /*max_queue=*/8, /*max_bytes=*/int64_t{1} << 30);
  Metrics metrics(&cpu);
  EXPECT_EQ(metrics.Render().find("otserve_gpu_"), std::string::npos);
  metrics.set_gpus({{"cuda:0", &gpu}});
  const std::string text = metrics.Render();
  for (const char* line :
       {"otserve_gpu_jobs_in_flight{device=\"cuda:0\"} 0",
        "otserve_gpu_jobs_queued{device=\"cuda:0\"} 0",
        "otserve_gpu_memory_in_flight_bytes{device=\"cuda:0\"} 0",
        "otserve_gpu_memory_budget_bytes{device=\"cuda:0\"} 1073741824",
        "# TYPE otserve_gpu_jobs_queued gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(RequestLogTest, OneLinePerCallWithoutArrays) {
  const std::string json =
      FormatLogLine(Record("alice", absl::StatusCode::kInvalidArgument, false),
                    LogFormat::kJson);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  for (const char* field :
       {"\"time\":\"2027-01-15T08:00:00.000000Z\"", "\"tenant\":\"alice\"",
        "\"rpc\":\"Distance\"", "\"n\":5", "\"m\":6", "\"d\":2",
        "\"status\":\"INVALID_ARGUMENT\"", "\"converged\":null",
        "\"error\":\"bad \\\"x\\\"\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  const std::string text = FormatLogLine(
      Record("alice", absl::StatusCode::kOk, true), LogFormat::kText);
  EXPECT_NE(text.find("tenant=alice rpc=Distance method=sinkhorn n=5 m=6 "
                      "d=2 status=OK"),
            std::string::npos)
      << text;
  LogFormat f;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml", &f));
}

TEST(DefaultThreadsTest, CgroupQuotaRoundsUp) {
  EXPECT_EQ(CpusFromCpuMax("200000 100000"), 2);
  EXPECT_EQ(CpusFromCpuMax("150000 100000\n"), 2);
  EXPECT_EQ(CpusFromCpuMax("50000 100000"), 1);
  EXPECT_EQ(CpusFromCpuMax("max 100000"), 0);
  EXPECT_EQ(CpusFromCpuMax("-1 100000"), 0);  // cgroup v1: no quota
  EXPECT_EQ(CpusFromCpuMax(""), 0);
  EXPECT_GE(DefaultThreads(), 1);
}

}  // namespace
}  // namespace otserve
