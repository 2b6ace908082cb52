// TaskRunner with plain work functions: ids taken while a task runs,
// cancellation by id and by slot, waiting for a slot to be quiet, shutdown,
// and work on the caller's thread.
#include "replicator/sync/task_runner.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

// Work that waits for `release`, its cancellation flag ignored.
TaskRunner::Work Blocking(absl::Notification* started, absl::Notification* release) {
  return [started, release](std::atomic<bool>*) {
    started->Notify();
    release->WaitForNotification();
  };
}

// Work that runs until it is cancelled.
TaskRunner::Work UntilCancelled(absl::Notification* started) {
  return [started](std::atomic<bool>* cancelled) {
    started->Notify();
    while (!cancelled->load()) absl::SleepFor(absl::Milliseconds(1));
  };
}

TEST(TaskRunnerTest, AnIdIsTakenWhileItsTaskRunsAndFreeOnceItEnded) {
  TaskRunner runner;
  absl::Notification started, release;
  ASSERT_TRUE(runner.Start("t1", "slot1", Blocking(&started, &release)).ok());
  started.WaitForNotification();
  EXPECT_TRUE(absl::IsAlreadyExists(runner.Start("t1", "slot1", [](std::atomic<bool>*) {})));
  EXPECT_TRUE(
      absl::IsAlreadyExists(runner.RunHere("t1", "slot1", [](std::atomic<bool>*) { FAIL(); })));
  release.Notify();
  ASSERT_TRUE(runner.AwaitAllEnded(absl::InfiniteFuture()));
  bool ran = false;
  ASSERT_TRUE(runner.Start("t1", "slot1", [&ran](std::atomic<bool>*) { ran = true; }).ok());
  ASSERT_TRUE(runner.AwaitAllEnded(absl::InfiniteFuture()));
  runner.Reap();
  EXPECT_TRUE(ran);
}

TEST(TaskRunnerTest, CancelSetsTheFlagOfARunningTaskOnly) {
  TaskRunner runner;
  EXPECT_TRUE(absl::IsNotFound(runner.Cancel("nope")));
  absl::Notification started;
  ASSERT_TRUE(runner.Start("t1", "slot1", UntilCancelled(&started)).ok());
  started.WaitForNotification();
  ASSERT_TRUE(runner.Cancel("t1").ok());
  ASSERT_TRUE(runner.AwaitAllEnded(absl::InfiniteFuture()));
  EXPECT_TRUE(absl::IsNotFound(runner.Cancel("t1")));  // finished
}

TEST(TaskRunnerTest, CancelIntoStopsTheTasksOfThatSlotAndWaitingSeesOnlyThem) {
  TaskRunner runner;
  absl::Notification a_started, b_started, b_release;
  ASSERT_TRUE(runner.Start("a", "slot1", UntilCancelled(&a_started)).ok());
  ASSERT_TRUE(runner.Start("b", "slot2", Blocking(&b_started, &b_release)).ok());
  a_started.WaitForNotification();
  b_started.WaitForNotification();
  EXPECT_TRUE(runner.AwaitQuietInto("slot3", absl::Now()));  // nothing writes there
  runner.CancelInto("slot1");
  EXPECT_TRUE(runner.AwaitQuietInto("slot1", absl::InfiniteFuture()));
  // b ignores the flag and is not released: the wait ends at its deadline.
  EXPECT_FALSE(runner.AwaitQuietInto("slot2", absl::Now() + absl::Milliseconds(20)));
  b_release.Notify();
  EXPECT_TRUE(runner.AwaitQuietInto("slot2", absl::InfiniteFuture()));
}

TEST(TaskRunnerTest, ShutdownCancelsEveryTaskAndRefusesNewOnes) {
  TaskRunner runner;
  absl::Notification started;
  ASSERT_TRUE(runner.Start("t1", "slot1", UntilCancelled(&started)).ok());
  started.WaitForNotification();
  runner.Shutdown();
  EXPECT_TRUE(runner.AwaitAllEnded(absl::InfiniteFuture()));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(runner.Start("t2", "slot1", [](std::atomic<bool>*) { FAIL(); })));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      runner.RunHere("t3", "slot1", [](std::atomic<bool>*) { FAIL(); })));
}

TEST(TaskRunnerTest, WorkOnTheCallersThreadCountsAsATaskIntoItsSlot) {
  TaskRunner runner;
  const std::thread::id caller = std::this_thread::get_id();
  bool ran = false;
  absl::Status run = runner.RunHere("pull", "slot1", [&](std::atomic<bool>* cancelled) {
    ran = true;
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_TRUE(absl::IsAlreadyExists(runner.Start("pull", "slot1", [](std::atomic<bool>*) {})));
    EXPECT_FALSE(runner.AwaitQuietInto("slot1", absl::Now()));
    runner.CancelInto("slot1");
    EXPECT_TRUE(cancelled->load());
  });
  ASSERT_TRUE(run.ok()) << run;
  EXPECT_TRUE(ran);
  EXPECT_TRUE(runner.AwaitQuietInto("slot1", absl::Now()));
  // The id is free again once the work returned.
  EXPECT_TRUE(runner.RunHere("pull", "slot1", [](std::atomic<bool>*) {}).ok());
}

}  // namespace
}  // namespace slotkeeper::sync
