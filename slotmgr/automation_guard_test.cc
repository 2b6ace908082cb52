// The guards on automation, through the coordinator: the evidence brake,
// the hourly limits, pauses of one host, flap damping. Times are the fake
// clock's; nothing here waits.
#include "slotmgr/automation_guard.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FsCondition;
using ::testing::HasSubstr;
using testing::MakeInventory;
using testing::Ref;

v1::Condition UnitOffline(const std::string& unit) {
  v1::Condition c;
  c.set_type(v1::UNIT_OFFLINE);
  c.set_subject_kind(v1::SUBJECT_UNIT);
  c.set_subject(unit);
  c.set_reason("test: probe says offline");
  return c;
}

const std::vector<std::string> kFour = {"imap1", "imap2", "imap3", "imap4"};

class AutomationGuardTest : public testing::CoordinatorFixture {
 protected:
  void SetUpFour() {
    Restart();
    RegisterThree();
    RegisterHost(MakeInventory("imap4"));
    CreateHealthyStore();
  }

  // Each host reports its conditions (none when not listed), then a tick.
  void Round(const std::map<std::string, std::vector<v1::Condition>>& conditions,
             const std::vector<std::string>& hosts = kFour) {
    for (const std::string& h : hosts) {
      auto it = conditions.find(h);
      ASSERT_TRUE(
          Report(h, it != conditions.end() ? it->second : std::vector<v1::Condition>{}).ok());
    }
    ASSERT_TRUE(coord_->Tick().ok());
  }

  absl::StatusOr<v1::AutomationState> Ack(const std::string& reason) {
    v1::AckAutomationRequest req;
    req.set_reason(reason);
    req.set_set_by("alice");
    return coord_->Mutate<v1::AutomationState>(
        [&](Mutation& m) { return AcknowledgeBrake(m, req, "test"); });
  }

  absl::StatusOr<v1::AutomationState> Pause(const std::string& host, bool paused,
                                            const std::string& reason = "disk swap") {
    v1::SetAutomationRequest req;
    req.set_host(host);
    req.set_paused(paused);
    req.set_reason(reason);
    req.set_set_by("bob");
    return coord_->Mutate<v1::AutomationState>(
        [&](Mutation& m) { return SetHostPause(m, req, "test"); });
  }
};

TEST_F(AutomationGuardTest, EveryUnitFailingAtOnceEngagesTheBrakeUntilAcknowledged) {
  config_.replace_after_ms = 60'000;
  SetUpFour();
  const std::vector<v1::Condition> all = {UnitOffline("du1"), UnitOffline("du2")};
  // A bad agent release: every host reports every unit offline.
  ASSERT_TRUE(Report("imap1", all).ok());
  EXPECT_FALSE(coord_->queries().GetAutomation().brake_engaged()) << "one host is not a burst";
  ASSERT_TRUE(Report("imap2", all).ok());
  v1::AutomationState a = coord_->queries().GetAutomation();
  ASSERT_TRUE(a.brake_engaged());
  EXPECT_THAT(a.brake_reason(), HasSubstr("2 of 4 hosts"));
  EXPECT_EQ(a.mode(), v1::AUTOMATION_RUNNING) << "independent of the mode";
  std::map<std::string, std::vector<v1::Condition>> bad;
  for (const auto& h : kFour) bad[h] = all;
  Round(bad);
  ASSERT_EQ(EventsOfKind("automation.brake").size(), 1u);
  EXPECT_THAT(EventsOfKind("automation.brake")[0].text(), HasSubstr("agent versions"));
  // No replica can take over: the master keeps its lease and serves.
  EXPECT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_UNAVAILABLE);
  auto renewal = Report("imap1", all);
  ASSERT_TRUE(renewal.ok());
  ASSERT_TRUE(renewal->has_value()) << "the brake keeps the only master serving";
  EXPECT_EQ((*renewal)->leases(0).store(), "st1");
  // Its agent restarts (the bad release rolled out): the master is promoted
  // again at its epoch, and serves.
  DropLeases("imap1");
  clock_.Advance(absl::Seconds(1));
  Round(bad);
  clock_.Advance(absl::Seconds(1));
  Round(bad);
  bool repromoted = false;
  for (const v1::Command& cmd : AckAll("imap1")) {
    repromoted |= cmd.has_promote() && cmd.promote().epoch() == 1;
  }
  EXPECT_TRUE(repromoted) << "a kept master is promoted again after its agent restarted";
  Round(bad);
  EXPECT_TRUE(coord_->queries().GetStore("st1")->copies(0).serving());
  // Far past replace_after: nothing is declared lost, asked or placed.
  for (int i = 0; i < 90; ++i) {
    clock_.Advance(absl::Seconds(1));
    Round(bad);
  }
  EXPECT_TRUE(EventsOfKind("unit.second_opinion").empty());
  EXPECT_TRUE(EventsOfKind("unit.lost").empty());
  EXPECT_TRUE(EventsOfKind("store.failover").empty());
  EXPECT_TRUE(coord_->queries().ListTasks({}).tasks().empty());
  EXPECT_FALSE(EventsOfKind("automation.held_back").empty());
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  // The release is fixed: everything returns, the brake stays until acknowledged.
  Round({});
  EXPECT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_HEALTHY);
  EXPECT_TRUE(coord_->queries().GetAutomation().brake_engaged());
  EXPECT_EQ(EventsOfKind("automation.brake").size(), 1u) << "one critical event";
  EXPECT_EQ(Ack("").status().code(), absl::StatusCode::kInvalidArgument);
  auto acked = Ack("bad agent release rolled back");
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_FALSE(acked->brake_engaged());
  ASSERT_EQ(EventsOfKind("automation.brake_acknowledged").size(), 1u);
  EXPECT_THAT(EventsOfKind("automation.brake_acknowledged")[0].text(),
              HasSubstr("alice (test): bad agent release rolled back"));
  EXPECT_EQ(Ack("again").status().code(), absl::StatusCode::kFailedPrecondition);
  clock_.Advance(absl::Seconds(1));
  Round({});
  EXPECT_TRUE(EventsOfKind("unit.lost").empty());
}

TEST_F(AutomationGuardTest, UnderTheBrakeAStoreWithAGoodReplicaStillFailsOver) {
  config_.final_pull_deadline_ms = 0;
  SetUpFour();
  // imap1 (the master's host) and imap4 (no copy): a burst of two hosts.
  std::map<std::string, std::vector<v1::Condition>> bad = {
      {"imap1", {FsCondition(v1::IO_ERROR, "/srv/du1")}},
      {"imap4", {FsCondition(v1::IO_ERROR, "/srv/du1")}}};
  Round(bad);
  ASSERT_TRUE(coord_->queries().GetAutomation().brake_engaged());
  auto renewal = Report("imap1", bad["imap1"]);
  ASSERT_TRUE(renewal.ok());
  EXPECT_FALSE(renewal->has_value()) << "a replica can take over: the master is fenced";
  for (int i = 0; i < 32; ++i) {
    clock_.Advance(absl::Seconds(1));
    Round(bad);
  }
  const std::string m = MasterOf("st1");
  EXPECT_TRUE(m == "imap2/s01" || m == "imap3/s01") << m;
  EXPECT_EQ(EventsOfKind("store.failover").size(), 1u);
}

TEST_F(AutomationGuardTest, OneHostFailingIsNotABurst) {
  SetUpFour();
  Round(
      {{"imap3", {FsCondition(v1::IO_ERROR, "/srv/du1"), FsCondition(v1::IO_ERROR, "/srv/du2")}}});
  EXPECT_FALSE(coord_->queries().GetAutomation().brake_engaged());
  EXPECT_TRUE(EventsOfKind("automation.brake").empty());
}

TEST_F(AutomationGuardTest, HourlyLimitsStopAutomationAndOperatorsExceedThemWithForce) {
  config_.replace_after_ms = 60'000;
  config_.max_units_lost_per_hour = 1;
  config_.max_rereplications_per_hour = 0;
  SetUpFour();
  const std::vector<v1::Condition> dead = {FsCondition(v1::IO_ERROR, "/srv/du1"),
                                           FsCondition(v1::IO_ERROR, "/srv/du2")};
  for (int i = 0; i < 62; ++i) {
    clock_.Advance(absl::Seconds(1));
    Round({{"imap3", dead}});
  }
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 2u);
  EXPECT_TRUE(ApplyOpinion("imap3", "du1", false));
  EXPECT_FALSE(ApplyOpinion("imap3", "du2", false)) << "the second unit is past the limit";
  EXPECT_EQ(EventsOfKind("unit.lost").size(), 1u);
  bool said = false;
  for (const v1::Event& e : EventsOfKind("automation.held_back")) {
    said |= e.text().find("1 drive units declared lost within the last hour (limit 1") !=
            std::string::npos;
  }
  EXPECT_TRUE(said) << "the limit says so";
  // Re-replication limit 0: the store short of a copy waits, and says so.
  Round({{"imap3", dead}});
  EXPECT_TRUE(coord_->queries().ListTasks({}).tasks().empty());
  bool waits = false;
  for (const v1::Event& e : EventsOfKind("automation.held_back")) {
    waits |= e.text().find("1 store(s) short of copies wait") != std::string::npos;
  }
  EXPECT_TRUE(waits);
  v1::AutomationState a = coord_->queries().GetAutomation();
  EXPECT_EQ(a.units_lost_last_hour(), 1u);
  EXPECT_EQ(a.units_lost_limit(), 1u);
  EXPECT_THAT(a.held_back(), HasSubstr("wait for re-replication"));
  // An operator past the limit needs --force; without it nothing changes.
  const std::string before = Serialized();
  auto refused = MarkLost("imap3", "du2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--force"));
  EXPECT_EQ(Serialized(), before);
  v1::MarkLostRequest force;
  force.set_host("imap3");
  force.set_unit("du2");
  force.set_force(true);
  auto forced = slotmgr::MarkLost(*coord_, force);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->tasks_created_size(), 1) << "an operator's replacements are not limited";
  EXPECT_EQ(coord_->queries().GetAutomation().units_lost_last_hour(), 2u);
  // An hour later the limits allow again.
  clock_.Advance(absl::Minutes(61));
  EXPECT_EQ(coord_->queries().GetAutomation().units_lost_last_hour(), 0u);
}

TEST_F(AutomationGuardTest, APausedHostGetsNoAutomaticAction) {
  config_.replace_after_ms = 60'000;
  config_.final_pull_deadline_ms = 0;
  SetUpFour();
  EXPECT_EQ(Pause("nohost", true).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Pause("bad/name", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pause("imap1", true, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pause("imap1", false).status().code(), absl::StatusCode::kFailedPrecondition);
  auto paused = Pause("imap1", true);
  ASSERT_TRUE(paused.ok()) << paused.status();
  ASSERT_EQ(paused->paused_hosts_size(), 1);
  EXPECT_EQ(paused->paused_hosts(0).host(), "imap1");
  EXPECT_EQ(paused->paused_hosts(0).pause().reason(), "disk swap");
  EXPECT_EQ(EventsOfKind("automation.host_paused").size(), 1u);
  // The master's unit dies: no failover, and past replace_after no loss.
  for (int i = 0; i < 65; ++i) {
    clock_.Advance(absl::Seconds(1));
    Round({{"imap1", {FsCondition(v1::IO_ERROR, "/srv/du1")}}});
  }
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  EXPECT_TRUE(EventsOfKind("store.failover").empty());
  EXPECT_TRUE(EventsOfKind("unit.second_opinion").empty());
  EXPECT_GE(EventsOfKind("automation.held_back").size(), 2u) << "failover and loss, once each";
  ASSERT_TRUE(Pause("imap1", false).ok());
  EXPECT_EQ(EventsOfKind("automation.host_resumed").size(), 1u);
  clock_.Advance(absl::Seconds(1));
  Round({{"imap1", {FsCondition(v1::IO_ERROR, "/srv/du1")}}});
  EXPECT_NE(MasterOf("st1"), "imap1/s01") << "resumed: the failover goes ahead";
  EXPECT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
}

TEST_F(AutomationGuardTest, AFlappingUnitIsHeldOutOfPlacementAndLostOnlyWhileItFlaps) {
  config_.replace_after_ms = 60'000;
  SetUpFour();
  const v1::Condition ro = FsCondition(v1::READ_ONLY, "/srv/du2");
  int64_t replace_at = 0;
  // imap4/du2 (spares only) fails for 2 s and recovers for 3 s, four times.
  for (int flap = 0; flap < 4; ++flap) {
    for (int i = 0; i < 5; ++i) {
      clock_.Advance(absl::Seconds(1));
      Round(i < 2 ? std::map<std::string, std::vector<v1::Condition>>{{"imap4", {ro}}}
                  : std::map<std::string, std::vector<v1::Condition>>{});
    }
    const v1::UnitInfo u = coord_->queries().GetHost("imap4")->units(1);
    EXPECT_EQ(u.state(), v1::UNIT_ONLINE);
    if (flap == 0) {
      EXPECT_EQ(u.replace_at_ms(), 0) << "one failure and back: nothing kept";
    } else if (flap >= 2) {
      EXPECT_TRUE(u.flap_suppressed());
      if (replace_at == 0) replace_at = u.replace_at_ms();
      EXPECT_EQ(u.replace_at_ms(), replace_at) << "not reset while it flaps";
    }
  }
  EXPECT_EQ(EventsOfKind("unit.flapping").size(), 1u);
  // Held out of placement: its spares take no new replica.
  absl::StatusOr<ClusterView> view = BuildView(coord_->queries().TEST_Model(), {});
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->FindSlot("imap4", "s03")->usable);
  EXPECT_TRUE(view->FindSlot("imap4", "s01")->usable);
  // It keeps flapping until replace_after from its first failure: due, and
  // lost although it can be read now.
  while (clock_.NowMs() < replace_at) {
    clock_.Advance(absl::Seconds(5));
    Round({{"imap4", {ro}}});
    Round({});
  }
  Round({});
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
  EXPECT_TRUE(ApplyOpinion("imap4", "du2", /*readable=*/true));
  ASSERT_EQ(EventsOfKind("unit.lost").size(), 1u);
  EXPECT_THAT(EventsOfKind("unit.lost")[0].text(), HasSubstr("fails too often"));
}

TEST_F(AutomationGuardTest, AUnitThatSettlesIsReleasedAndNeverLost) {
  SetUpFour();  // replace_after 1 h
  const v1::Condition ro = FsCondition(v1::READ_ONLY, "/srv/du2");
  for (int flap = 0; flap < 3; ++flap) {
    clock_.Advance(absl::Seconds(1));
    Round({{"imap4", {ro}}});
    clock_.Advance(absl::Seconds(1));
    Round({});
  }
  ASSERT_TRUE(coord_->queries().GetHost("imap4")->units(1).flap_suppressed());
  // Quiet for 20 minutes: the penalty (about 3) halves every 15 minutes.
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(absl::Minutes(1));
    Round({});
  }
  const v1::UnitInfo u = coord_->queries().GetHost("imap4")->units(1);
  EXPECT_FALSE(u.flap_suppressed());
  EXPECT_EQ(u.replace_at_ms(), 0);
  EXPECT_EQ(EventsOfKind("unit.flap_ended").size(), 1u);
  // Past an hour from its first failure: not due.
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(absl::Minutes(1));
    Round({});
  }
  EXPECT_TRUE(EventsOfKind("unit.second_opinion").empty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
