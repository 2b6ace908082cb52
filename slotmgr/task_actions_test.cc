// An operator's cancel and retry of a task, on a real coordinator.
#include "slotmgr/task_actions.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using testing::MakeInventory;

class TaskActionsTest : public CoordinatorFixture {
 protected:
  // st1 healthy on imap1..3, imap4 spare; imap3's units declared lost: one
  // task copies st1 into imap4 and is running. Returns its id.
  std::string ReplacementRunning() {
    RegisterThree();
    CreateHealthyStore();
    RegisterHost(MakeInventory("imap4"));
    absl::StatusOr<v1::MarkLostResponse> lost = MarkLost("imap3");
    EXPECT_TRUE(lost.ok()) << lost.status();
    if (!lost.ok() || lost->tasks_created_size() != 1) return "";
    const std::string id = lost->tasks_created(0);
    EXPECT_EQ(TaskOf(id).state(), v1::TASK_RUNNING);
    return id;
  }

  v1::TaskInfo TaskOf(const std::string& id) {
    v1::ListTasksRequest req;
    req.set_include_finished(true);
    const v1::ListTasksResponse all = coord_->queries().ListTasks(req);
    for (const v1::TaskInfo& t : all.tasks()) {
      if (t.id() == id) return t;
    }
    ADD_FAILURE() << "no task " << id;
    return v1::TaskInfo();
  }

  absl::Status FailAttempt(const v1::TaskInfo& t, const std::string& error) {
    v1::TaskUpdate u;
    u.set_task_id(t.id());
    u.set_state(v1::TASK_FAILED);
    u.set_error(error);
    return coord_->ApplyTaskUpdate(t.target().host(), u);
  }

  absl::StatusOr<v1::TaskInfo> Cancel(const std::string& id) {
    v1::CancelTaskRequest req;
    req.set_task(id);
    req.set_reason("wrong target");
    return coord_->Mutate<v1::TaskInfo>(
        [&](Mutation& m) { return CancelTaskAction(m, req, "alice"); });
  }

  absl::StatusOr<v1::TaskInfo> Retry(const std::string& id) {
    v1::RetryTaskRequest req;
    req.set_task(id);
    return coord_->Mutate<v1::TaskInfo>(
        [&](Mutation& m) { return RetryTaskAction(m, req, "bob"); });
  }
};

TEST_F(TaskActionsTest, CancelStopsARunningTaskAndSaysWhoCancelledIt) {
  const std::string id = ReplacementRunning();
  ASSERT_FALSE(id.empty());
  coord_->TakeCommandsToSend("imap4");  // the start
  absl::StatusOr<v1::TaskInfo> t = Cancel(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state(), v1::TASK_CANCELLED);
  EXPECT_EQ(t->note(), "cancelled: by alice: wrong target");
  bool told = false;
  for (const v1::Command& c : coord_->TakeCommandsToSend("imap4")) {
    told |= c.has_cancel_task() && c.cancel_task().task_id() == id;
  }
  EXPECT_TRUE(told) << "the agent is told to stop";
  ASSERT_EQ(EventsOfKind("task.cancelled").size(), 1u);
  // Finished: a second cancel and a retry are refused, and say why.
  EXPECT_EQ(Cancel(id).status().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status retry = Retry(id).status();
  EXPECT_EQ(retry.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(retry.message().find("cancelled"), std::string::npos) << retry;
  EXPECT_EQ(Cancel("t999").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TaskActionsTest, RetryOfATaskInBackoffStartsItNow) {
  const std::string id = ReplacementRunning();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Retry(id).status().code(), absl::StatusCode::kFailedPrecondition) << "running";
  ASSERT_TRUE(FailAttempt(TaskOf(id), "disk full").ok());
  ASSERT_EQ(TaskOf(id).state(), v1::TASK_BACKOFF);
  EXPECT_EQ(TaskOf(id).note(), "attempt 1 failed: disk full");
  absl::StatusOr<v1::TaskInfo> t = Retry(id);
  ASSERT_TRUE(t.ok()) << t.status();
  // Started at once, long before its backoff would have ended.
  EXPECT_EQ(t->state(), v1::TASK_RUNNING);
  EXPECT_EQ(t->attempts(), 2u);
  EXPECT_EQ(t->note(), "") << "a new attempt starts clean";
  EXPECT_EQ(t->last_error(), "disk full") << "kept apart, as the previous attempt's";
  ASSERT_EQ(EventsOfKind("task.retried").size(), 1u);
  EXPECT_EQ(EventsOfKind("task.retried")[0].actor(), "bob");
}

TEST_F(TaskActionsTest, RetryOfAFailedTaskIsANewTaskIntoTheSameTarget) {
  config_.max_task_attempts = 1;
  Restart();
  const std::string id = ReplacementRunning();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(FailAttempt(TaskOf(id), "source unreachable").ok());
  ASSERT_EQ(TaskOf(id).state(), v1::TASK_FAILED);
  absl::StatusOr<v1::TaskInfo> t = Retry(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_NE(t->id(), id);
  EXPECT_EQ(t->state(), v1::TASK_RUNNING);
  EXPECT_EQ(model::SlotName(t->target()), model::SlotName(TaskOf(id).target()));
  EXPECT_EQ(TaskOf(id).state(), v1::TASK_FAILED) << "the failed task stays as it ended";
  EXPECT_NE(TaskOf(id).note().find("retried as " + t->id()), std::string::npos);
  // The store is no longer short once the new task seeds: a second retry of
  // the failed task is refused.
  absl::Status again = Retry(id).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("copies already"), std::string::npos) << again;
}

}  // namespace
}  // namespace slotkeeper::slotmgr
