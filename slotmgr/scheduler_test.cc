#include "slotmgr/scheduler.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A queued task from "SRC" to "DST" (host names; slot s01 on both) of a
// store with `usable_copies` of 3 copies usable.
TaskRecord Task(const std::string& id, const std::string& src, const std::string& dst,
                int usable_copies = 2, int64_t created_ms = 0) {
  TaskRecord t;
  t.id = id;
  t.source = SlotId{src, "s01"};
  t.target = SlotId{dst, "s01"};
  t.priority = TaskPriority(v1::TASK_RE_REPLICATE, usable_copies, 3);
  t.created_ms = created_ms;
  return t;
}

std::vector<const TaskRecord*> Ptrs(const std::vector<TaskRecord>& tasks) {
  std::vector<const TaskRecord*> out;
  for (const TaskRecord& t : tasks) out.push_back(&t);
  return out;
}

// Starts what the selection picks (as the coordinator does) and returns it.
std::vector<std::string> StartReady(std::vector<TaskRecord>* tasks, const SchedulerOptions& options,
                                    int64_t now_ms = 0) {
  std::vector<std::string> ids = SelectTasksToStart(Ptrs(*tasks), options, now_ms);
  for (TaskRecord& t : *tasks) {
    for (const std::string& id : ids) {
      if (t.id == id) t.state = v1::TASK_RUNNING;
    }
  }
  return ids;
}

void Finish(std::vector<TaskRecord>* tasks, const std::string& id) {
  for (TaskRecord& t : *tasks) {
    if (t.id == id) t.state = v1::TASK_DONE;
  }
}

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

TEST(SelectTasksToStartTest, PriorityThenOldestFirst) {
  SchedulerOptions options;
  options.max_running = 1;
  std::vector<TaskRecord> tasks = {Task("old2", "a", "b", 2, 1000), Task("new2", "c", "d", 2, 2000),
                                   Task("new1", "e", "f", 1, 3000)};
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("new1"));  // one copy left: most at risk
  Finish(&tasks, "new1");
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("old2"));  // then the oldest
  Finish(&tasks, "old2");
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("new2"));
}

TEST(SelectTasksToStartTest, IncomingLimitPerTargetHost) {
  SchedulerOptions options;  // 2 in, 2 out
  std::vector<TaskRecord> tasks;
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(Task(absl::StrCat("t", i), absl::StrCat("src", i), "dst", 2, i + 1));
  }
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("t0", "t1"));
  EXPECT_THAT(StartReady(&tasks, options), IsEmpty());  // dst is full
  Finish(&tasks, "t0");
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("t2"));
}

TEST(SelectTasksToStartTest, OutgoingLimitPerSourceHostDoesNotBlockOthers) {
  SchedulerOptions options;
  options.max_outgoing_per_host = 1;
  // Highest priority first: two from "hot", then one from "cold".
  std::vector<TaskRecord> tasks = {Task("hot1", "hot", "d1", 1, 1), Task("hot2", "hot", "d2", 1, 2),
                                   Task("cold", "cold", "d3", 2, 3)};
  // hot2 waits for hot's only outgoing slot; cold runs past it.
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("hot1", "cold"));
  Finish(&tasks, "hot1");
  EXPECT_THAT(StartReady(&tasks, options), ElementsAre("hot2"));
}

TEST(SelectTasksToStartTest, GlobalLimit) {
  SchedulerOptions options;
  options.max_running = 3;
  std::vector<TaskRecord> tasks;
  for (int i = 0; i < 6; ++i) {
    std::string n = absl::StrCat(i);
    tasks.push_back(Task("t" + n, "src" + n, "dst" + n, 2, i));
  }
  EXPECT_EQ(StartReady(&tasks, options).size(), 3u);
  EXPECT_THAT(StartReady(&tasks, options), IsEmpty());
}

TEST(SelectTasksToStartTest, RunningTasksCountAgainstTheLimits) {
  TaskRecord running = Task("r", "a", "b");
  running.state = v1::TASK_RUNNING;
  TaskRecord queued_same_target = Task("q1", "c", "b", 1);
  TaskRecord queued_other = Task("q2", "a", "e", 2);
  SchedulerOptions options;
  options.max_incoming_per_host = 1;
  options.max_outgoing_per_host = 1;
  EXPECT_THAT(SelectTasksToStart({&running, &queued_same_target, &queued_other}, options, 0),
              IsEmpty());  // b has no incoming room, a no outgoing room
  options.max_outgoing_per_host = 2;
  EXPECT_THAT(SelectTasksToStart({&running, &queued_same_target, &queued_other}, options, 0),
              ElementsAre("q2"));
}

TEST(SelectTasksToStartTest, BackoffWaitsForItsTime) {
  TaskRecord t = Task("t", "a", "b");
  t.state = v1::TASK_BACKOFF;
  t.next_attempt_ms = 10'000;
  EXPECT_THAT(SelectTasksToStart({&t}, SchedulerOptions(), 9'999), IsEmpty());
  EXPECT_THAT(SelectTasksToStart({&t}, SchedulerOptions(), 10'000), ElementsAre("t"));
  t.state = v1::TASK_FAILED;
  EXPECT_THAT(SelectTasksToStart({&t}, SchedulerOptions(), 20'000), IsEmpty());
}

TEST(BackoffTest, DoublesUpToTheCap) {
  SchedulerOptions options;
  options.initial_backoff_ms = 1000;
  options.max_backoff_ms = 60'000;
  EXPECT_EQ(BackoffMs(options, 1), 1000);
  EXPECT_EQ(BackoffMs(options, 2), 2000);
  EXPECT_EQ(BackoffMs(options, 4), 8000);
  EXPECT_EQ(BackoffMs(options, 30), 60'000);
  options.initial_backoff_ms = 10'000;
  options.max_backoff_ms = 15'000;
  EXPECT_EQ(BackoffMs(options, 2), 15'000);  // 20 s, capped at 15 s
}

}  // namespace
}  // namespace slotkeeper::slotmgr
