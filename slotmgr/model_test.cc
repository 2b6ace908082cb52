#include "slotmgr/model.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/slot_ref.h"

namespace slotkeeper::slotmgr {
namespace {

TEST(UnitStateTest, Transitions) {
  EXPECT_EQ(NextUnitState(v1::UNIT_ONLINE, false, false), v1::UNIT_ONLINE);
  EXPECT_EQ(NextUnitState(v1::UNIT_ONLINE, true, false), v1::UNIT_FAILED);
  EXPECT_EQ(NextUnitState(v1::UNIT_FAILED, false, false), v1::UNIT_ONLINE);
  EXPECT_EQ(NextUnitState(v1::UNIT_FAILED, true, true), v1::UNIT_LOST);
  EXPECT_EQ(NextUnitState(v1::UNIT_ONLINE, false, true), v1::UNIT_LOST);
  EXPECT_EQ(NextUnitState(v1::UNIT_LOST, false, false), v1::UNIT_LOST) << "lost is final";
}

TEST(SlotRoleTest, AllowedTransitions) {
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_SPARE, v1::SLOT_SEEDING).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_SPARE, v1::SLOT_MASTER).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_SEEDING, v1::SLOT_REPLICA).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_REPLICA, v1::SLOT_MASTER).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_MASTER, v1::SLOT_REPLICA).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_REPLICA, v1::SLOT_SPARE).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_SEEDING, v1::SLOT_SPARE).ok());
  // Reinstated copies catch up as seeding ones; a dropped one's slot is spare.
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_SEEDING).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_REPLICA, v1::SLOT_SEEDING).ok());
  EXPECT_TRUE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_SPARE).ok());
  for (auto r : {v1::SLOT_SPARE, v1::SLOT_MASTER, v1::SLOT_REPLICA, v1::SLOT_SEEDING}) {
    EXPECT_TRUE(CheckSlotRoleTransition(r, v1::SLOT_LOST).ok());
  }
}

TEST(SlotRoleTest, ForbiddenTransitions) {
  EXPECT_EQ(CheckSlotRoleTransition(v1::SLOT_SEEDING, v1::SLOT_MASTER).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_MASTER).ok());
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_REPLICA).ok())
      << "a reinstated copy catches up first";
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_MASTER, v1::SLOT_SEEDING).ok());
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_MASTER, v1::SLOT_SPARE).ok())
      << "a master is demoted before it is released";
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_SPARE, v1::SLOT_REPLICA).ok())
      << "a replica is seeded first";
}

TEST(TaskStateTest, Transitions) {
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_QUEUED, v1::TASK_RUNNING).ok());
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_RUNNING, v1::TASK_DONE).ok());
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_RUNNING, v1::TASK_BACKOFF).ok());
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_BACKOFF, v1::TASK_QUEUED).ok());
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_RUNNING, v1::TASK_FAILED).ok());
  EXPECT_TRUE(CheckTaskTransition(v1::TASK_QUEUED, v1::TASK_CANCELLED).ok());
  EXPECT_FALSE(CheckTaskTransition(v1::TASK_DONE, v1::TASK_RUNNING).ok());
  EXPECT_FALSE(CheckTaskTransition(v1::TASK_QUEUED, v1::TASK_DONE).ok());
  EXPECT_FALSE(CheckTaskTransition(v1::TASK_CANCELLED, v1::TASK_QUEUED).ok());
  EXPECT_TRUE(model::IsTaskFinished(v1::TASK_FAILED));
  EXPECT_FALSE(model::IsTaskFinished(v1::TASK_BACKOFF));
}

TEST(StoreStateTest, Derivation) {
  EXPECT_EQ(DeriveStoreState(true, 3, 3, false), v1::STORE_HEALTHY);
  EXPECT_EQ(DeriveStoreState(true, 2, 3, false), v1::STORE_DEGRADED);
  EXPECT_EQ(DeriveStoreState(false, 2, 3, true), v1::STORE_NO_MASTER);
  EXPECT_EQ(DeriveStoreState(false, 2, 3, false), v1::STORE_UNAVAILABLE);
}

TEST(HostStateTest, SilenceThresholds) {
  EXPECT_EQ(HostStateAfterSilence(0, 5000, 5000, 30000), v1::HOST_UP);
  EXPECT_EQ(HostStateAfterSilence(0, 5001, 5000, 30000), v1::HOST_SUSPECT);
  EXPECT_EQ(HostStateAfterSilence(0, 30000, 5000, 30000), v1::HOST_SUSPECT);
  EXPECT_EQ(HostStateAfterSilence(0, 30001, 5000, 30000), v1::HOST_DOWN);
  EXPECT_EQ(HostStateAfterSilence(40000, 40001, 5000, 30000), v1::HOST_UP);
}

}  // namespace
}  // namespace slotkeeper::slotmgr

namespace slotkeeper::slotmgr {
namespace {

using testing::Ref;

// imap1 with a spare slot s01, and store st1 with a copy there.
ClusterModel OneSlot(v1::SlotRole role) {
  ClusterModel m;
  v1::SlotInfo* s = m.hosts["imap1"].mutable_info()->add_slots();
  *s->mutable_ref() = Ref("imap1", "s01");
  s->set_role(role);
  s->set_lease_valid_until_ms(99);
  v1::Copy* c = m.stores["st1"].mutable_info()->add_copies();
  *c->mutable_slot() = Ref("imap1", "s01");
  c->set_role(role);
  return m;
}

TEST(SetSlotRoleTest, ChangesSlotAndCopyAndNotesBoth) {
  ClusterModel m = OneSlot(v1::SLOT_REPLICA);
  Txn txn;
  ASSERT_TRUE(SetSlotRole(m, txn, Ref("imap1", "s01"), v1::SLOT_MASTER, "st1").ok());
  EXPECT_EQ(FindSlot(m, Ref("imap1", "s01"))->role(), v1::SLOT_MASTER);
  EXPECT_EQ(FindSlot(m, Ref("imap1", "s01"))->lease_valid_until_ms(), 99);
  EXPECT_EQ(m.stores["st1"].info().copies(0).role(), v1::SLOT_MASTER);
  EXPECT_TRUE(txn.hosts.count("imap1"));
  EXPECT_TRUE(txn.stores.count("st1"));
  ASSERT_TRUE(SetSlotRole(m, txn, Ref("imap1", "s01"), v1::SLOT_REPLICA, "st1").ok());
  EXPECT_EQ(FindSlot(m, Ref("imap1", "s01"))->lease_valid_until_ms(), 0) << "only a master";
}

TEST(SetSlotRoleTest, ARefusedTransitionChangesNothingAndStopsDebugBuilds) {
  ClusterModel m = OneSlot(v1::SLOT_LOST);
  Txn txn;
#ifdef NDEBUG
  absl::Status st = SetSlotRole(m, txn, Ref("imap1", "s01"), v1::SLOT_MASTER, "st1");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FindSlot(m, Ref("imap1", "s01"))->role(), v1::SLOT_LOST);
  EXPECT_EQ(m.stores["st1"].info().copies(0).role(), v1::SLOT_LOST);
  EXPECT_TRUE(txn.hosts.empty());
#else
  EXPECT_DEATH(SetSlotRole(m, txn, Ref("imap1", "s01"), v1::SLOT_MASTER, "st1").IgnoreError(),
               "refused state change: imap1/s01: slot role cannot change from lost to master");
#endif
}

TEST(SetTaskStateTest, AllowedTransitionsAreNotedRefusedOnesStopDebugBuilds) {
  StoredTask t;
  t.mutable_info()->set_id("t1");
  t.mutable_info()->set_state(v1::TASK_QUEUED);
  Txn txn;
  ASSERT_TRUE(SetTaskState(txn, t, v1::TASK_RUNNING).ok());
  EXPECT_EQ(t.info().state(), v1::TASK_RUNNING);
  EXPECT_TRUE(txn.tasks.count("t1"));
  ASSERT_TRUE(SetTaskState(txn, t, v1::TASK_DONE).ok());
#ifdef NDEBUG
  EXPECT_EQ(SetTaskState(txn, t, v1::TASK_RUNNING).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.info().state(), v1::TASK_DONE);
#else
  EXPECT_DEATH(SetTaskState(txn, t, v1::TASK_RUNNING).IgnoreError(),
               "refused state change: task t1: task cannot change from done to running");
#endif
}

}  // namespace
}  // namespace slotkeeper::slotmgr
