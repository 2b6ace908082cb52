#include "slotmgr/failure_detector.h"

#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

v1::Condition Cond(v1::ConditionType t, v1::SubjectKind k, const std::string& subject) {
  v1::Condition c;
  c.set_type(t);
  c.set_subject_kind(k);
  c.set_subject(subject);
  return c;
}

TEST(FailureDetectorTest, HardBitFollowsTheOneRuleNotTheAgent) {
  Conditions c;
  *c.Add() = Cond(v1::KERNEL_ERROR, v1::SUBJECT_UNIT, "du1");
  c.Mutable(0)->set_hard(true);  // the agent's opinion
  *c.Add() = Cond(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, "/srv/a");
  ApplyHardRule(&c);
  EXPECT_FALSE(c.Get(0).hard()) << "a kernel log line is evidence, not a verdict";
  EXPECT_TRUE(c.Get(1).hard());
}

TEST(FailureDetectorTest, FilesystemFollowsConditionsMostSevereWins) {
  Conditions c;
  EXPECT_EQ(FilesystemStateFor("/srv/a", c), v1::FS_OK);
  *c.Add() = Cond(v1::HUNG_IO, v1::SUBJECT_FILESYSTEM, "/srv/a");
  EXPECT_EQ(FilesystemStateFor("/srv/a", c), v1::FS_HUNG);
  *c.Add() = Cond(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, "/srv/a");
  EXPECT_EQ(FilesystemStateFor("/srv/a", c), v1::FS_READ_ONLY);
  *c.Add() = Cond(v1::IO_ERROR, v1::SUBJECT_FILESYSTEM, "/srv/a");
  EXPECT_EQ(FilesystemStateFor("/srv/a", c), v1::FS_IO_ERROR);
  EXPECT_EQ(FilesystemStateFor("/srv/b", c), v1::FS_OK);
  Conditions soft;
  *soft.Add() = Cond(v1::LOW_SPACE, v1::SUBJECT_FILESYSTEM, "/srv/a");
  EXPECT_EQ(FilesystemStateFor("/srv/a", soft), v1::FS_OK)
      << "soft findings do not fail a filesystem";
}

TEST(FailureDetectorTest, UnitAndSlotEvidence) {
  Conditions c;
  *c.Add() = Cond(v1::UNIT_OFFLINE, v1::SUBJECT_UNIT, "du2");
  *c.Add() = Cond(v1::IO_ERROR, v1::SUBJECT_SLOT, "s03");
  EXPECT_TRUE(UnitHasHardEvidence("du2", c));
  EXPECT_FALSE(UnitHasHardEvidence("du1", c));
  EXPECT_FALSE(SlotHardReason("s03", c).empty());
  EXPECT_TRUE(SlotHardReason("s01", c).empty());
}

TEST(FailureDetectorTest, SlotHealth) {
  EXPECT_TRUE(SlotHealthFor(v1::HOST_UP, v1::UNIT_ONLINE, v1::FS_OK, "").usable);
  EXPECT_TRUE(SlotHealthFor(v1::HOST_SUSPECT, v1::UNIT_ONLINE, v1::FS_OK, "").usable)
      << "suspect is not yet down";
  SlotHealth h = SlotHealthFor(v1::HOST_UP, v1::UNIT_ONLINE, v1::FS_READ_ONLY, "");
  EXPECT_FALSE(h.usable);
  EXPECT_TRUE(h.hard);
  h = SlotHealthFor(v1::HOST_DOWN, v1::UNIT_ONLINE, v1::FS_OK, "");
  EXPECT_FALSE(h.usable);
  EXPECT_FALSE(h.hard) << "silence is not hard evidence";
  h = SlotHealthFor(v1::HOST_DOWN, v1::UNIT_FAILED, v1::FS_OK, "");
  EXPECT_FALSE(h.hard) << "old evidence from an agent now silent counts as silence";
  EXPECT_FALSE(SlotHealthFor(v1::HOST_UP, v1::UNIT_LOST, v1::FS_OK, "").usable);
  EXPECT_FALSE(SlotHealthFor(v1::HOST_UP, v1::UNIT_ONLINE, v1::FS_OK, "EIO").usable);
}

TEST(FailureDetectorTest, ClockOffsetAccountsForRoundTrip) {
  v1::HealthReport r;
  // Ping sent at 1000 (coordinator); agent held it 100 ms; report received at
  // 1300: rtt = 200, so the report left at 1200 coordinator time.
  r.set_echo_coordinator_time_ms(1000);
  r.set_echo_held_ms(100);
  r.set_agent_time_ms(1200 + 7000);
  EXPECT_EQ(EstimateClockOffsetMs(r, 1300), 7000);
  v1::HealthReport first;
  first.set_agent_time_ms(500);
  EXPECT_EQ(EstimateClockOffsetMs(first, 1500), -1000);
  EXPECT_TRUE(IsClockSkewed(7000, 5000));
  EXPECT_TRUE(IsClockSkewed(-6 * 3600 * 1000, 5000));
  EXPECT_FALSE(IsClockSkewed(-4999, 5000));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
