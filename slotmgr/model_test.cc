#include "slotmgr/model.h"

#include "gtest/gtest.h"
#include "proto/model_util.h"

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
  for (auto r : {v1::SLOT_SPARE, v1::SLOT_MASTER, v1::SLOT_REPLICA, v1::SLOT_SEEDING}) {
    EXPECT_TRUE(CheckSlotRoleTransition(r, v1::SLOT_LOST).ok());
  }
}

TEST(SlotRoleTest, ForbiddenTransitions) {
  EXPECT_EQ(CheckSlotRoleTransition(v1::SLOT_SEEDING, v1::SLOT_MASTER).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_MASTER).ok());
  EXPECT_FALSE(CheckSlotRoleTransition(v1::SLOT_LOST, v1::SLOT_SPARE).ok());
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
