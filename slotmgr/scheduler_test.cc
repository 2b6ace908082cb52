#include "slotmgr/scheduler.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper {
namespace slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// A task from "SRC" to "DST" (host names; slot s01 on both).
TaskRecord Task(const std::string& id, const std::string& src, const std::string& dst,
                int usable_copies = 2, int64_t created_ms = 0) {
  TaskRecord t;
  t.id = id;
  t.store = "store-" + id;
  t.source = SlotId{src, "s01"};
  t.target = SlotId{dst, "s01"};
  t.usable_copies = usable_copies;
  t.required_copies = 3;
  t.created_ms = created_ms;
  return t;
}

std::vector<std::string> Ids(const std::vector<TaskRecord>& tasks) {
  std::vector<std::string> ids;
  for (const TaskRecord& t : tasks) ids.push_back(t.id);
  return ids;
}

class SchedulerTest : public ::testing::Test {
 protected:
  ReplicationScheduler Make(const SchedulerOptions& options) {
    auto s = ReplicationScheduler::Create(options, &clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  int64_t Now() const { return clock_.NowMs(); }

  FakeClock clock_;
};

TEST(TaskPriorityTest, FewerUsableCopiesRunFirst) {
  EXPECT_GT(TaskPriority(v1::TASK_RE_REPLICATE, 1, 3), TaskPriority(v1::TASK_RE_REPLICATE, 2, 3));
  EXPECT_GT(TaskPriority(v1::TASK_RE_REPLICATE, 2, 3), TaskPriority(v1::TASK_RE_REPLICATE, 3, 3));
  EXPECT_EQ(TaskPriority(v1::TASK_RE_REPLICATE, 1, 3), 920);
  EXPECT_EQ(TaskPriority(v1::TASK_RE_REPLICATE, 2, 3), 810);
  // More missing copies at the same usable count ranks higher.
  EXPECT_GT(TaskPriority(v1::TASK_RE_REPLICATE, 2, 4), TaskPriority(v1::TASK_RE_REPLICATE, 2, 3));
  EXPECT_LT(TaskPriority(v1::TASK_VERIFY, 1, 3), TaskPriority(v1::TASK_CATCH_UP, 3, 3));
  EXPECT_EQ(TaskPriority(v1::TASK_RE_REPLICATE, 0, 9), 1000);  // clamped
}

TEST_F(SchedulerTest, PriorityThenOldestFirst) {
  SchedulerOptions options;
  options.max_running = 1;
  ReplicationScheduler s = Make(options);
  ASSERT_TRUE(s.Enqueue(Task("old2", "a", "b", 2, 1000)).ok());
  ASSERT_TRUE(s.Enqueue(Task("new2", "c", "d", 2, 2000)).ok());
  ASSERT_TRUE(s.Enqueue(Task("new1", "e", "f", 1, 3000)).ok());
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("new1"));  // one copy left: most at risk
  ASSERT_TRUE(s.MarkDone("new1").ok());
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("old2"));  // then the oldest
  ASSERT_TRUE(s.MarkDone("old2").ok());
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("new2"));
  EXPECT_EQ(s.Find("new2")->priority, 810);
}

TEST_F(SchedulerTest, IncomingLimitPerTargetHost) {
  ReplicationScheduler s = Make(SchedulerOptions());  // 2 in, 2 out
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        s.Enqueue(Task(absl::StrCat("t", i), absl::StrCat("src", i), "dst", 2, i + 1)).ok());
  }
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("t0", "t1"));
  EXPECT_THAT(s.StartReady(), IsEmpty());  // dst is full
  ASSERT_TRUE(s.MarkDone("t0").ok());
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("t2"));
  EXPECT_EQ(s.RunningCount(), 2);
  EXPECT_EQ(s.WaitingCount(), 1);
}

TEST_F(SchedulerTest, OutgoingLimitPerSourceHostDoesNotBlockOthers) {
  SchedulerOptions options;
  options.max_outgoing_per_host = 1;
  ReplicationScheduler s = Make(options);
  // Highest priority first: two from "hot", then one from "cold".
  ASSERT_TRUE(s.Enqueue(Task("hot1", "hot", "d1", 1, 1)).ok());
  ASSERT_TRUE(s.Enqueue(Task("hot2", "hot", "d2", 1, 2)).ok());
  ASSERT_TRUE(s.Enqueue(Task("cold", "cold", "d3", 2, 3)).ok());
  // hot2 waits for hot's only outgoing slot; cold runs past it.
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("hot1", "cold"));
  ASSERT_TRUE(s.MarkDone("hot1").ok());
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("hot2"));
}

TEST_F(SchedulerTest, GlobalLimit) {
  SchedulerOptions options;
  options.max_running = 3;
  ReplicationScheduler s = Make(options);
  for (int i = 0; i < 6; ++i) {
    std::string n = absl::StrCat(i);
    ASSERT_TRUE(s.Enqueue(Task("t" + n, "src" + n, "dst" + n, 2, i)).ok());
  }
  EXPECT_EQ(s.StartReady().size(), 3u);
  EXPECT_THAT(s.StartReady(), IsEmpty());
}

TEST_F(SchedulerTest, SelectionIsPureOverRecords) {
  // The same rule, as the pure function coord-core may call on its records.
  TaskRecord running = Task("r", "a", "b");
  running.state = v1::TASK_RUNNING;
  TaskRecord queued_same_target = Task("q1", "c", "b", 1);
  queued_same_target.priority = 920;
  TaskRecord queued_other = Task("q2", "a", "e", 2);
  queued_other.priority = 810;
  SchedulerOptions options;
  options.max_incoming_per_host = 1;
  options.max_outgoing_per_host = 1;
  EXPECT_THAT(SelectTasksToStart({&running, &queued_same_target, &queued_other}, options, 0),
              IsEmpty());  // b has no incoming room, a no outgoing room
  options.max_outgoing_per_host = 2;
  EXPECT_THAT(SelectTasksToStart({&running, &queued_same_target, &queued_other}, options, 0),
              ElementsAre("q2"));
}

TEST_F(SchedulerTest, RetryWithExponentialBackoffThenFail) {
  SchedulerOptions options;
  options.max_attempts = 3;
  options.initial_backoff_ms = 10'000;
  options.max_backoff_ms = 15'000;
  ReplicationScheduler s = Make(options);
  ASSERT_TRUE(s.Enqueue(Task("t", "a", "b")).ok());

  ASSERT_THAT(Ids(s.StartReady()), ElementsAre("t"));
  auto r = s.MarkFailed("t", "peer refused");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, v1::TASK_BACKOFF);
  EXPECT_EQ(r->next_attempt_ms, Now() + 10'000);
  EXPECT_EQ(r->last_error, "peer refused");

  clock_.Advance(absl::Milliseconds(9'999));
  EXPECT_THAT(s.StartReady(), IsEmpty());
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_THAT(Ids(s.StartReady()), ElementsAre("t"));
  EXPECT_EQ(s.Find("t")->attempts, 2u);
  r = s.MarkFailed("t", "again");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->next_attempt_ms, Now() + 15'000);  // 20 s, capped at 15 s

  clock_.Advance(absl::Seconds(15));
  ASSERT_THAT(Ids(s.StartReady()), ElementsAre("t"));
  r = s.MarkFailed("t", "third time");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, v1::TASK_FAILED);  // max_attempts used
  EXPECT_EQ(r->finished_ms, Now());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(s.StartReady(), IsEmpty());
}

TEST_F(SchedulerTest, BackoffDoubles) {
  SchedulerOptions options;
  options.initial_backoff_ms = 1000;
  options.max_backoff_ms = 60'000;
  ReplicationScheduler s = Make(options);
  EXPECT_EQ(s.BackoffMs(1), 1000);
  EXPECT_EQ(s.BackoffMs(2), 2000);
  EXPECT_EQ(s.BackoffMs(4), 8000);
  EXPECT_EQ(s.BackoffMs(30), 60'000);
}

TEST_F(SchedulerTest, RestoreRebuildsQueueAndLimitsFromRecords) {
  ReplicationScheduler s = Make(SchedulerOptions());
  ASSERT_TRUE(s.Enqueue(Task("a", "h1", "h2", 2, 1)).ok());
  ASSERT_TRUE(s.Enqueue(Task("b", "h3", "h2", 2, 2)).ok());
  ASSERT_TRUE(s.Enqueue(Task("c", "h4", "h2", 1, 3)).ok());
  ASSERT_THAT(Ids(s.StartReady()), ElementsAre("c", "a"));
  ASSERT_TRUE(s.MarkFailed("a", "io").ok());
  std::vector<TaskRecord> persisted = s.Tasks();

  // A new coordinator process reads the same records back.
  ReplicationScheduler again = Make(SchedulerOptions());
  ASSERT_TRUE(again.Restore(persisted).ok());
  EXPECT_EQ(again.RunningCount(), 1);  // c still runs: h2 has one incoming left
  EXPECT_EQ(again.Find("a")->state, v1::TASK_BACKOFF);
  EXPECT_THAT(Ids(again.StartReady()), ElementsAre("b"));  // a waits for its backoff
  EXPECT_THAT(again.StartReady(), IsEmpty());

  persisted.push_back(persisted[0]);
  EXPECT_EQ(again.Restore(persisted).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, RejectsBadTasksAndBadTransitions) {
  ReplicationScheduler s = Make(SchedulerOptions());
  EXPECT_EQ(s.Enqueue(Task("", "a", "b")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Enqueue(Task("x", "a", "a")).status().code(), absl::StatusCode::kInvalidArgument);
  TaskRecord no_store = Task("y", "a", "b");
  no_store.store.clear();
  EXPECT_EQ(s.Enqueue(no_store).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(s.Enqueue(Task("t", "a", "b")).ok());
  EXPECT_EQ(s.Enqueue(Task("t", "a", "b")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.MarkDone("t").status().code(), absl::StatusCode::kFailedPrecondition);  // queued
  EXPECT_EQ(s.MarkDone("zz").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(s.Cancel("t", "operator").ok());
  EXPECT_EQ(s.Cancel("t", "again").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.StartReady(), IsEmpty());

  SchedulerOptions bad;
  bad.max_incoming_per_host = 0;
  EXPECT_EQ(ReplicationScheduler::Create(bad, &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, UpdateRiskReordersWaitingTasks) {
  SchedulerOptions options;
  options.max_running = 1;
  ReplicationScheduler s = Make(options);
  ASSERT_TRUE(s.Enqueue(Task("x", "a", "b", 2, 1)).ok());
  ASSERT_TRUE(s.Enqueue(Task("y", "c", "d", 2, 2)).ok());
  // y's store lost another copy.
  EXPECT_THAT(Ids(s.UpdateRisk("store-y", 1, 3)), ElementsAre("y"));
  EXPECT_THAT(Ids(s.StartReady()), ElementsAre("y"));
}

TEST_F(SchedulerTest, ForgetDropsOldFinishedTasks) {
  ReplicationScheduler s = Make(SchedulerOptions());
  ASSERT_TRUE(s.Enqueue(Task("done", "a", "b")).ok());
  ASSERT_TRUE(s.Enqueue(Task("waiting", "c", "d")).ok());
  ASSERT_TRUE(s.Cancel("waiting", "x").ok());
  ASSERT_TRUE(s.Enqueue(Task("queued", "e", "f")).ok());
  s.StartReady();
  ASSERT_TRUE(s.MarkDone("done").ok());
  clock_.Advance(absl::Seconds(1));
  s.Forget(Now());
  EXPECT_THAT(Ids(s.Tasks()), UnorderedElementsAre("queued"));
}

}  // namespace
}  // namespace slotmgr
}  // namespace slotkeeper
