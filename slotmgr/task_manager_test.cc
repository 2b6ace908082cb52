#include "slotmgr/task_manager.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/slot_ref.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using testing::Ref;

std::vector<std::string> Kinds(const Txn& txn) {
  std::vector<std::string> kinds;
  for (const v1::Event& e : txn.events) kinds.push_back(e.kind());
  return kinds;
}

// imap1..imap4 with one unit, one filesystem and slots s01, s02 each. Store
// st1: master imap1/s01, replica imap2/s01, and imap3/s01 declared lost.
class TaskManagerTest : public ::testing::Test {
 protected:
  TaskManagerTest() {
    for (int i = 1; i <= 4; ++i) {
      const std::string name = absl::StrCat("imap", i);
      v1::HostInfo* h = model_.hosts[name].mutable_info();
      h->set_name(name);
      h->set_state(v1::HOST_UP);
      h->set_peer_address(name + ":7400");
      v1::UnitInfo* unit = h->add_units();
      unit->set_name("du1");
      unit->set_state(v1::UNIT_ONLINE);
      v1::FilesystemInfo* fs = h->add_filesystems();
      fs->set_mount_point("/srv/du1");
      fs->set_unit("du1");
      fs->set_state(v1::FS_OK);
      for (const char* slot : {"s01", "s02"}) {
        v1::SlotInfo* s = h->add_slots();
        *s->mutable_ref() = Ref(name, slot);
        s->set_filesystem("/srv/du1");
        s->set_capacity_bytes(100ull << 30);
        s->set_role(v1::SLOT_SPARE);
        s->set_usable(true);
      }
    }
    v1::StoreInfo* st = model_.stores["st1"].mutable_info();
    st->set_name("st1");
    st->set_required_copies(3);
    st->set_master_epoch(3);
    AddCopy("imap1", v1::SLOT_MASTER, true);
    AddCopy("imap2", v1::SLOT_REPLICA, true);
    AddCopy("imap3", v1::SLOT_LOST, false);
  }

  void AddCopy(const std::string& host, v1::SlotRole role, bool usable) {
    v1::Copy* c = model_.stores["st1"].mutable_info()->add_copies();
    *c->mutable_slot() = Ref(host, "s01");
    c->set_role(role);
    c->set_usable(usable);
    c->set_in_sync(usable);
    v1::SlotInfo* s = FindSlot(&model_, Ref(host, "s01"));
    s->set_role(role);
    s->set_store("st1");
    s->set_usable(usable);
  }

  StoredTask& Task(const std::string& id) { return model_.tasks.at(id); }

  // Plans the replacement of the lost copy and starts its task.
  std::string PlanAndStart() {
    Txn txn;
    std::vector<std::string> ids = tasks_.PlanReplacements(txn).tasks;
    EXPECT_EQ(ids.size(), 1u);
    tasks_.Schedule(txn);
    outbox_.TakeToSend("imap4");
    return ids.empty() ? "" : ids[0];
  }

  CoordinatorConfig config_;
  FakeClock clock_;
  ClusterModel model_;
  Journal journal_{&clock_};
  CommandOutbox outbox_{&clock_, &journal_};
  TaskManager tasks_{
      &model_, &journal_, &outbox_, &clock_, &config_, [this]() -> std::optional<ClusterView> {
        absl::StatusOr<ClusterView> v = BuildView(model_, {});
        EXPECT_TRUE(v.ok()) << v.status();
        if (!v.ok()) return std::nullopt;
        return *std::move(v);
      }};
};

TEST_F(TaskManagerTest, PlansAReplacementOnTheOnlyHostWithoutACopy) {
  Txn txn;
  TaskManager::Replanned planned = tasks_.PlanReplacements(txn);
  ASSERT_THAT(planned.tasks, ElementsAre("t1"));
  EXPECT_THAT(planned.stores, ElementsAre("st1"));
  EXPECT_EQ(planned.waiting, 0);
  const v1::TaskInfo& t = Task("t1").info();
  EXPECT_EQ(t.state(), v1::TASK_QUEUED);
  EXPECT_EQ(model::SlotName(t.target()), "imap4/s01");
  EXPECT_EQ(model::SlotName(Task("t1").replaces()), "imap3/s01");
  EXPECT_EQ(FindSlot(model_, t.target())->role(), v1::SLOT_SEEDING);
  EXPECT_EQ(model_.stores["st1"].info().copies(3).role(), v1::SLOT_SEEDING);
  EXPECT_THAT(Kinds(txn), ElementsAre("task.created"));
  EXPECT_TRUE(txn.tasks.count("t1"));
  EXPECT_EQ(tasks_.last_seq(), 1u);
  // The seeding copy counts: nothing more to plan.
  Txn again;
  EXPECT_THAT(tasks_.PlanReplacements(again).tasks, IsEmpty());
}

TEST_F(TaskManagerTest, AStoreOnlyRecognisedOnDiskWaitsForAnOperator) {
  model_.stores["st1"].mutable_info()->set_master_epoch(0);
  Txn txn;
  EXPECT_THAT(tasks_.PlanReplacements(txn).tasks, IsEmpty());
  EXPECT_TRUE(txn.events.empty());
}

TEST_F(TaskManagerTest, AStoreThatCannotBePlacedIsJournaledOncePerReason) {
  model_.hosts["imap4"].mutable_info()->set_draining(true);
  Txn txn;
  EXPECT_THAT(tasks_.PlanReplacements(txn).tasks, IsEmpty());
  EXPECT_THAT(Kinds(txn), ElementsAre("placement.refused"));
  Txn again;
  tasks_.PlanReplacements(again);
  EXPECT_TRUE(again.events.empty());
}

TEST_F(TaskManagerTest, ScheduleStartsWithACommandToTheTarget) {
  Txn txn;
  tasks_.PlanReplacements(txn);
  Txn start;
  tasks_.Schedule(start);
  const v1::TaskInfo& t = Task("t1").info();
  EXPECT_EQ(t.state(), v1::TASK_RUNNING);
  EXPECT_EQ(t.attempts(), 1u);
  EXPECT_EQ(t.started_ms(), clock_.NowMs());
  EXPECT_THAT(Kinds(start), ElementsAre("command.queued", "task.started"));
  std::vector<v1::Command> sent = outbox_.TakeToSend("imap4");
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_start_task());
  EXPECT_EQ(sent[0].start_task().task_id(), "t1");
  EXPECT_EQ(sent[0].start_task().target_slot(), "s01");
  EXPECT_EQ(sent[0].start_task().source_peer_address(), t.source().host() + ":7400");
}

TEST_F(TaskManagerTest, AVerifiedCopyBecomesAReplicaAndTheLostCopyIsDropped) {
  const std::string id = PlanAndStart();
  Txn txn;
  EXPECT_TRUE(tasks_.FinishTask(txn, Task(id), true, ""));
  EXPECT_EQ(Task(id).info().state(), v1::TASK_DONE);
  EXPECT_EQ(FindSlot(model_, Ref("imap4", "s01"))->role(), v1::SLOT_REPLICA);
  EXPECT_EQ(FindSlot(model_, Ref("imap3", "s01"))->store(), "") << "replaced, then evicted";
  const v1::StoreInfo& st = model_.stores["st1"].info();
  ASSERT_EQ(st.copies_size(), 3);
  for (const auto& c : st.copies()) EXPECT_NE(c.slot().host(), "imap3");
  EXPECT_TRUE(FindCopy(model_.stores["st1"], Ref("imap4", "s01"))->in_sync());
  EXPECT_THAT(Kinds(txn), ElementsAre("task.done", "command.queued", "copy.dropped"));
  std::vector<v1::Command> sent = outbox_.TakeToSend("imap4");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].assign_replica().master_slot(), "s01");
  EXPECT_EQ(sent[0].assign_replica().epoch(), 3u);
}

TEST_F(TaskManagerTest, FailedAttemptsBackOffThenTheTargetIsReleased) {
  config_.max_task_attempts = 2;
  config_.task_retry_backoff_ms = 10'000;
  const std::string id = PlanAndStart();
  Txn first;
  EXPECT_FALSE(tasks_.FinishTask(first, Task(id), false, "disk full"));
  EXPECT_EQ(Task(id).info().state(), v1::TASK_BACKOFF);
  EXPECT_EQ(Task(id).info().next_attempt_ms(), clock_.NowMs() + 10'000);
  EXPECT_EQ(Task(id).info().last_error(), "disk full");
  EXPECT_EQ(Task(id).info().note(), "attempt 1 failed: disk full");
  EXPECT_THAT(Kinds(first), ElementsAre("task.retry"));

  Txn early;
  clock_.Advance(absl::Milliseconds(9'999));
  tasks_.Schedule(early);
  EXPECT_EQ(Task(id).info().state(), v1::TASK_BACKOFF);
  clock_.Advance(absl::Milliseconds(1));
  Txn due;
  tasks_.Schedule(due);
  EXPECT_EQ(Task(id).info().state(), v1::TASK_RUNNING);
  EXPECT_EQ(Task(id).info().attempts(), 2u);
  // The running attempt's note is its own; the first attempt's error is
  // kept apart, as the previous attempt's.
  EXPECT_EQ(Task(id).info().note(), "");
  EXPECT_EQ(Task(id).info().last_error(), "disk full");

  Txn last;
  EXPECT_TRUE(tasks_.FinishTask(last, Task(id), false, "disk full again"));
  EXPECT_EQ(Task(id).info().state(), v1::TASK_FAILED);
  EXPECT_EQ(Task(id).info().note(), "gave up after 2 attempts: disk full again");
  EXPECT_THAT(Kinds(last), ElementsAre("task.failed", "command.queued"));
  EXPECT_EQ(FindSlot(model_, Ref("imap4", "s01"))->role(), v1::SLOT_SPARE);
  EXPECT_EQ(FindCopy(model_.stores["st1"], Ref("imap4", "s01")), nullptr);
  outbox_.TakeToSend("imap4");  // the earlier start
  EXPECT_TRUE(outbox_.TakeToSend("imap4").empty());
  outbox_.ResendAll("imap4");
  bool release = false;
  for (const auto& c : outbox_.TakeToSend("imap4")) release |= c.has_release_slot();
  EXPECT_TRUE(release);
}

TEST_F(TaskManagerTest, ATargetThatRegistersAgainGetsItsRunningTaskAgain) {
  const std::string id = PlanAndStart();
  Txn unacked;
  tasks_.RestartTasksOf(unacked, "imap4");
  EXPECT_TRUE(unacked.events.empty()) << "the start is still in the outbox";
  Txn ack;
  ASSERT_TRUE(outbox_.Acknowledge(ack, "imap4", "c000000000001").ok());
  Txn again;
  tasks_.RestartTasksOf(again, "imap4");
  EXPECT_THAT(Kinds(again), ElementsAre("command.queued", "task.resent"));
  Txn other;
  tasks_.RestartTasksOf(other, "imap2");
  EXPECT_TRUE(other.events.empty());
}

TEST_F(TaskManagerTest, ALimitOnStoresLeavesTheRestWaiting) {
  Txn txn;
  TaskManager::Replanned planned = tasks_.PlanReplacements(txn, 0);
  EXPECT_THAT(planned.tasks, IsEmpty());
  EXPECT_EQ(planned.waiting, 1);
  EXPECT_TRUE(txn.events.empty());
  EXPECT_EQ(FindSlot(model_, Ref("imap4", "s01"))->role(), v1::SLOT_SPARE) << "nothing placed";
  EXPECT_THAT(tasks_.PlanReplacements(txn, 1).tasks, ElementsAre("t1"));
}

TEST_F(TaskManagerTest, ACancelledTaskReleasesItsTarget) {
  const std::string id = PlanAndStart();
  Txn txn;
  EXPECT_TRUE(tasks_.CancelTask(txn, Task(id), "the lost copy was reinstated"));
  EXPECT_EQ(Task(id).info().state(), v1::TASK_CANCELLED);
  EXPECT_EQ(Task(id).info().note(), "cancelled: the lost copy was reinstated");
  EXPECT_EQ(FindSlot(model_, Ref("imap4", "s01"))->role(), v1::SLOT_SPARE);
  EXPECT_EQ(FindCopy(model_.stores["st1"], Ref("imap4", "s01")), nullptr);
  EXPECT_THAT(Kinds(txn), ElementsAre("command.queued", "task.cancelled", "command.queued"));
  std::vector<v1::Command> sent = outbox_.TakeToSend("imap4");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].cancel_task().task_id(), id);
  EXPECT_EQ(sent[1].release_slot().slot(), "s01");
  // A finished task is not cancelled again.
  Txn again;
  EXPECT_FALSE(tasks_.CancelTask(again, Task(id), "twice"));
}

TEST_F(TaskManagerTest, ACatchUpThatFailsForGoodLeavesItsCopyLost) {
  config_.max_task_attempts = 1;
  // imap3/s01 (lost) is reinstated: seeding, caught up from the master.
  Txn txn;
  ASSERT_TRUE(SetSlotRole(model_, txn, Ref("imap3", "s01"), v1::SLOT_SEEDING, "st1").ok());
  const std::string id = tasks_.CreateTask(txn, "st1", Ref("imap1", "s01"), Ref("imap3", "s01"),
                                           v1::SlotRef(), v1::TASK_CATCH_UP);
  EXPECT_EQ(Task(id).info().kind(), v1::TASK_CATCH_UP);
  tasks_.Schedule(txn);
  ASSERT_EQ(Task(id).info().state(), v1::TASK_RUNNING);
  Txn fail;
  EXPECT_TRUE(tasks_.FinishTask(fail, Task(id), false, "source unreachable"));
  EXPECT_EQ(FindSlot(model_, Ref("imap3", "s01"))->role(), v1::SLOT_LOST);
  EXPECT_EQ(FindSlot(model_, Ref("imap3", "s01"))->store(), "st1") << "kept, not released";
}

}  // namespace
}  // namespace slotkeeper::slotmgr
