// The scheduler's admission (jobs, memory budget, draining) and its FIFO
// start order.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace otserve {
namespace {

using Admission = Scheduler::Admission;

TEST(SchedulerTest, MemoryBudgetAdmitsWithinItAndReleasesAfterTheJob) {
  Scheduler s(/*threads=*/1, /*max_queue=*/10, /*max_bytes=*/1000);
  absl::Notification release, started;
  ASSERT_EQ(s.TrySubmit(
                [&](absl::Duration) {
                  started.Notify();
                  release.WaitForNotification();
                },
                600),
            Admission::kAdmitted);
  started.WaitForNotification();
  EXPECT_EQ(s.bytes_in_flight(), 600);
  EXPECT_EQ(s.TrySubmit([](absl::Duration) {}, 2000), Admission::kTooLarge);
  EXPECT_EQ(s.TrySubmit([](absl::Duration) {}, 500), Admission::kNoMemory);
  EXPECT_EQ(s.TrySubmit([](absl::Duration) {}, 400), Admission::kAdmitted);
  release.Notify();
  EXPECT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(s.bytes_in_flight(), 0);
  EXPECT_EQ(s.TrySubmit([](absl::Duration) {}, 1000), Admission::kAdmitted);
  EXPECT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  s.StopAdmitting();
  EXPECT_EQ(s.TrySubmit([](absl::Duration) {}, 1), Admission::kDraining);
}

// With one worker the recorded order is the start order, which must be FIFO.
// (Eigen's pool alone is FIFO only for one worker; the scheduler's own queue
// makes starts FIFO for any number.)
TEST(SchedulerTest, JobsStartInTheOrderTheyWereAdmitted) {
  Scheduler s(/*threads=*/1, /*max_queue=*/64);
  absl::Notification release;
  absl::Mutex mu;
  std::vector<int> order;
  // Both workers wait, so every later job queues.
  for (int w = 0; w < 2; ++w) {
    ASSERT_EQ(
        s.TrySubmit([&](absl::Duration) { release.WaitForNotification(); }),
        Admission::kAdmitted);
  }
  for (int k = 0; k < 40; ++k) {
    ASSERT_EQ(s.TrySubmit([&, k](absl::Duration) {
      absl::MutexLock lock(&mu);
      order.push_back(k);
    }),
              Admission::kAdmitted);
  }
  release.Notify();
  ASSERT_TRUE(s.WaitIdle(absl::Now() + absl::Seconds(10)));
  ASSERT_EQ(order.size(), 40u);
  for (int k = 0; k < 40; ++k) EXPECT_EQ(order[k], k);
}

}  // namespace
}  // namespace otserve
