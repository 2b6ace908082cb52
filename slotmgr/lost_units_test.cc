// Declaring units lost after a second opinion, through the coordinator.
#include "slotmgr/lost_units.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using testing::FsCondition;
using ::testing::HasSubstr;
using testing::MakeInventory;
using ::testing::Pair;

class LostUnitsTest : public testing::CoordinatorFixture {
 protected:
  void SetUp() override {
    testing::CoordinatorFixture::SetUp();
    config_.replace_after_ms = 60'000;
    config_.final_pull_deadline_ms = 0;
    Restart();
    RegisterThree();
    RegisterHost(MakeInventory("imap4"));
    CreateHealthyStore();
  }

  // imap1 (the master's host) reports `conditions` for `seconds`, the
  // others nothing, with a tick each second.
  void Run(int seconds, const std::vector<v1::Condition>& conditions) {
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(absl::Seconds(1));
      ASSERT_TRUE(Report("imap1", conditions).ok());
      Heartbeat({"imap2", "imap3", "imap4"});
    }
  }

  v1::UnitInfo Unit() { return coord_->queries().GetHost("imap1")->units(0); }
};

TEST_F(LostUnitsTest, AReadableUnitIsHeldNotLostUntilItCannotBeRead) {
  const std::vector<v1::Condition> ro = {FsCondition(v1::READ_ONLY, "/srv/du1")};
  Run(62, ro);
  EXPECT_NE(MasterOf("st1"), "imap1/s01") << "its master failed over";
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
  EXPECT_GT(Unit().second_opinion_since_ms(), 0);
  // Read-only but readable: not lost, held.
  ASSERT_TRUE(ApplyOpinion("imap1", "du1", /*readable=*/true));
  EXPECT_EQ(Unit().state(), v1::UNIT_FAILED);
  EXPECT_THAT(Unit().held_reason(), HasSubstr("could still be read"));
  ASSERT_EQ(EventsOfKind("unit.held").size(), 1u);
  EXPECT_THAT(EventsOfKind("unit.held")[0].text(), HasSubstr("slotctl unit reinstate imap1/du1"));
  EXPECT_TRUE(EventsOfKind("unit.lost").empty());
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_TRUE(coord_->queries().ListTasks({}).tasks().empty()) << "its copies are not replaced";
  EXPECT_FALSE(ApplyOpinion("imap1", "du1", true)) << "an opinion nobody waits for is ignored";
  // While the evidence lasts it is read again every replace_after; once it
  // cannot be read it is lost.
  Run(62, ro);
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 2u);
  ASSERT_TRUE(ApplyOpinion("imap1", "du1", false));
  ASSERT_EQ(EventsOfKind("unit.lost").size(), 1u);
  EXPECT_THAT(EventsOfKind("unit.lost")[0].text(), HasSubstr("could not read it"));
  EXPECT_EQ(Unit().state(), v1::UNIT_LOST);
  EXPECT_TRUE(Unit().held_reason().empty());
}

TEST_F(LostUnitsTest, AHeldUnitStaysOutOfServiceWhenItsEvidenceClears) {
  Run(62, {FsCondition(v1::READ_ONLY, "/srv/du1")});
  ASSERT_TRUE(ApplyOpinion("imap1", "du1", true));
  Run(120, {});
  EXPECT_EQ(Unit().state(), v1::UNIT_FAILED) << "only a reinstatement returns it";
  EXPECT_EQ(Unit().replace_at_ms(), 0) << "not due while it reports healthy";
  EXPECT_FALSE(coord_->queries().GetHost("imap1")->slots(0).usable());
  EXPECT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
}

TEST_F(LostUnitsTest, AUnitThatRecoversBeforeItsOpinionIsNotTouched) {
  Run(62, {FsCondition(v1::IO_ERROR, "/srv/du1")});
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
  Run(1, {});
  EXPECT_EQ(Unit().state(), v1::UNIT_ONLINE);
  EXPECT_FALSE(ApplyOpinion("imap1", "du1", false));
  EXPECT_TRUE(EventsOfKind("unit.lost").empty());
}

TEST_F(LostUnitsTest, OpinionsWantedListTheCopiesOnTheUnit) {
  Run(62, {FsCondition(v1::IO_ERROR, "/srv/du1")});
  const v1::HostInfo host = *coord_->queries().GetHost("imap1");
  std::vector<OpinionRequest> wanted = OpinionsWanted(host);
  ASSERT_EQ(wanted.size(), 1u);
  EXPECT_EQ(wanted[0].unit, "du1");
  EXPECT_EQ(wanted[0].peer_address, "imap1:7400");
  EXPECT_THAT(wanted[0].slots, ElementsAre(Pair("s01", "st1"))) << "s02 is a spare";
  EXPECT_TRUE(OpinionsWanted(*coord_->queries().GetHost("imap2")).empty());
}

TEST_F(LostUnitsTest, ADownHostThatCanStillBeReadIsHeld) {
  config_.suspect_after_ms = 5000;
  config_.down_after_ms = 10000;
  config_.failover_grace_silent_ms = 20000;
  Restart();
  for (int i = 0; i < 75; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 2u);
  // The coordinator cannot hear imap3's agent, but its peer port answers.
  EXPECT_TRUE(ApplyOpinion("imap3", "du1", true));
  EXPECT_TRUE(ApplyOpinion("imap3", "du2", false));
  const v1::HostInfo h = *coord_->queries().GetHost("imap3");
  EXPECT_EQ(h.units(0).state(), v1::UNIT_FAILED);
  EXPECT_FALSE(h.units(0).held_reason().empty());
  EXPECT_EQ(h.units(1).state(), v1::UNIT_LOST);
}

// replace_after through the coordinator's tick, from a fresh cluster.
class ReplaceAfterTest : public testing::CoordinatorFixture {};

TEST_F(ReplaceAfterTest, ReplaceAfterDeclaresFailedUnitLost) {
  config_.replace_after_ms = 60000;
  Restart();
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  for (int i = 0; i < 62; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap3", {FsCondition(v1::IO_ERROR, "/srv/du1")}).ok());
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  // Due: its slots are read first (a second opinion).
  EXPECT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
  EXPECT_TRUE(EventsOfKind("unit.lost").empty());
  EXPECT_TRUE(coord_->queries().ListTasks({}).tasks().empty());
  ASSERT_TRUE(ApplyOpinion("imap3", "du1", /*readable=*/false));
  EXPECT_EQ(EventsOfKind("unit.lost").size(), 1u);
  Heartbeat({"imap1", "imap2", "imap4"});
  auto tasks = coord_->queries().ListTasks({}).tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].target().host(), "imap4");
}

TEST_F(ReplaceAfterTest, ReplaceAfterDeclaresUnitsOfADownHostLost) {
  config_.suspect_after_ms = 5000;
  config_.down_after_ms = 10000;
  config_.failover_grace_silent_ms = 20000;
  config_.replace_after_ms = 60000;
  Restart();
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  // imap3 (a replica) falls silent: DOWN after 10 s, lost 60 s later.
  for (int i = 0; i < 65; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  EXPECT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_DOWN);
  EXPECT_TRUE(EventsOfKind("unit.lost").empty()) << "not before replace_after from DOWN";
  EXPECT_TRUE(coord_->queries().ListTasks({}).tasks().empty());
  for (int i = 0; i < 6; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  EXPECT_EQ(EventsOfKind("unit.second_opinion").size(), 2u) << "every unit of the host";
  // Its agent is gone: nothing can be read.
  ASSERT_TRUE(ApplyOpinion("imap3", "du1", false));
  ASSERT_TRUE(ApplyOpinion("imap3", "du2", false));
  EXPECT_EQ(EventsOfKind("unit.lost").size(), 2u) << "every unit of the host";
  Heartbeat({"imap1", "imap2", "imap4"});
  auto tasks = coord_->queries().ListTasks({}).tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].target().host(), "imap4");
  ASSERT_TRUE(FinishTask("imap4", tasks[0].id()).ok());
  auto st = coord_->queries().GetStore("st1");
  ASSERT_EQ(st->copies_size(), 3);
  for (const auto& c : st->copies()) EXPECT_NE(c.slot().host(), "imap3");
  EXPECT_EQ(st->state(), v1::STORE_HEALTHY);
  // Declared once: later ticks add nothing.
  Heartbeat({"imap1", "imap2", "imap4"});
  EXPECT_EQ(EventsOfKind("unit.lost").size(), 2u);
}

// A copy being seeded onto a unit that is then declared lost is no copy:
// its task is cancelled, and an agent reporting it done afterwards changes
// nothing (the lost copy it was to replace stays until a real replacement).
TEST_F(LostUnitsTest, ASeedingCopyOnAUnitDeclaredLostNeverCounts) {
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());
  v1::TaskInfo task;
  {
    const v1::ListTasksResponse tasks = coord_->queries().ListTasks({});
    for (const v1::TaskInfo& t : tasks.tasks()) {
      if (t.state() == v1::TASK_RUNNING) task = t;
    }
  }
  ASSERT_FALSE(task.id().empty()) << "no replacement running";
  ASSERT_EQ(task.target().host(), "imap4");
  // The target's unit: slots s01 and s02 are on du1, s03 and s04 on du2.
  const std::string unit =
      task.target().slot() == "s01" || task.target().slot() == "s02" ? "du1" : "du2";
  ASSERT_TRUE(MarkLost("imap4", unit).ok());
  const v1::ListTasksResponse after = coord_->queries().ListTasks({});
  for (const v1::TaskInfo& t : after.tasks()) {
    if (t.id() == task.id()) EXPECT_EQ(t.state(), v1::TASK_CANCELLED) << t.DebugString();
  }
  EXPECT_THAT(EventsOfKind(event_kind::kTaskCancelled), ::testing::SizeIs(1));
  const std::string before = Serialized();
  EXPECT_TRUE(FinishTask("imap4", task.id()).ok());
  EXPECT_EQ(Serialized(), before) << "a cancelled copy reported done changed the model";
  auto store = coord_->queries().GetStore("st1");
  ASSERT_TRUE(store.ok());
  bool lost_copy_kept = false;
  for (const v1::Copy& c : store->copies()) {
    EXPECT_FALSE(model::SameSlot(c.slot(), task.target())) << store->DebugString();
    lost_copy_kept |= c.slot().host() == "imap3" && c.role() == v1::SLOT_LOST;
  }
  EXPECT_TRUE(lost_copy_kept) << store->DebugString();
}

}  // namespace
}  // namespace slotkeeper::slotmgr
