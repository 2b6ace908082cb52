#include "slotmgr/coordinator.h"

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/model.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using testing::FsCondition;
using testing::MakeInventory;
using testing::Ref;

class CoordinatorTest : public CoordinatorFixture {};

TEST_F(CoordinatorTest, RegisterTwiceReconcilesWithoutDuplicates) {
  RegisterHost(MakeInventory("imap1", 2, 2));
  RegisterHost(MakeInventory("imap1", 2, 3));  // one more slot per unit
  ClusterModel m = coord_->queries().TEST_Model();
  ASSERT_EQ(m.hosts.size(), 1u);
  EXPECT_EQ(m.hosts["imap1"].info().slots_size(), 6);
  EXPECT_EQ(m.hosts["imap1"].info().units_size(), 2);
  EXPECT_EQ(EventsOfKind("host.reregistered").size(), 1u);
}

TEST_F(CoordinatorTest, RegisterRejectsMalformedInventory) {
  v1::HostInventory inv = MakeInventory("imap1");
  inv.mutable_slots(0)->set_filesystem("/nowhere");
  v1::RegisterRequest req;
  *req.mutable_inventory() = inv;
  auto resp = coord_->Register(req);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(resp.status().message().find("/nowhere"), std::string::npos);
  EXPECT_TRUE(coord_->queries().TEST_Model().hosts.empty());
}

TEST_F(CoordinatorTest, RegistrationRecognizesExistingCopies) {
  v1::HostInventory inv = MakeInventory("imap1");
  v1::SlotContents* c = inv.add_contents();
  c->set_slot("s02");
  c->set_store("old");
  c->add_users("alice");
  RegisterHost(inv);
  RegisterHost(inv);  // again: still one copy
  auto st = coord_->queries().GetStore("old");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->copies_size(), 1);
  auto loc = coord_->queries().LookupUser("alice");
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->store(), "old");
}

TEST_F(CoordinatorTest, AnExtraCopyOnDiskIsNotAdoptedAndNotOverwritten) {
  RegisterThree();
  CreateHealthyStore();
  v1::HostInventory inv = MakeInventory("imap2");
  v1::SlotContents* c = inv.add_contents();
  c->set_slot("s02");
  c->set_store("st1");
  c->add_users("alice");
  RegisterHost(inv);
  EXPECT_EQ(coord_->queries().GetStore("st1")->copies_size(), 3) << "st1 has its copies";
  EXPECT_EQ(coord_->queries().GetHost("imap2")->slots(1).unadopted_store(), "st1");
  // A new store needing a replica on imap2 is not placed on that data.
  v1::CreateStoreRequest req;
  req.set_store("st2");
  *req.mutable_master() = Ref("imap1", "s02");
  req.set_copies(3);
  auto st2 = slotmgr::CreateStore(*coord_, req);
  ASSERT_TRUE(st2.ok()) << st2.status();
  for (const v1::Copy& copy : st2->copies()) {
    EXPECT_NE(model::SlotName(copy.slot()), "imap2/s02") << st2->DebugString();
  }
  // Emptied by the operator (the agent's scan finds no store), the slot
  // returns to service.
  v1::HostInventory emptied = MakeInventory("imap2");
  emptied.add_contents()->set_slot("s02");
  RegisterHost(emptied);
  EXPECT_EQ(coord_->queries().GetHost("imap2")->slots(1).unadopted_store(), "");
}

TEST_F(CoordinatorTest, ASlotMissingFromTheInventoryIsUnusableForThatCause) {
  RegisterThree();
  CreateHealthyStore();
  v1::HostInventory inv = MakeInventory("imap2");
  inv.mutable_slots()->erase(inv.mutable_slots()->begin());  // s01 holds st1's replica
  RegisterHost(inv);
  const v1::SlotInfo* s01 = nullptr;
  auto host = coord_->queries().GetHost("imap2");
  ASSERT_TRUE(host.ok());
  for (const auto& s : host->slots()) {
    if (s.ref().slot() == "s01") s01 = &s;
  }
  ASSERT_NE(s01, nullptr) << "a slot holding a copy is kept";
  EXPECT_TRUE(s01->missing_from_inventory());
  EXPECT_FALSE(s01->usable());
  EXPECT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_DEGRADED);
  // Listed again, the copy is still not trusted.
  RegisterHost(MakeInventory("imap2"));
  EXPECT_FALSE(coord_->queries().GetHost("imap2")->slots(0).usable());
}

TEST_F(CoordinatorTest, BadInputChangesNothing) {
  RegisterThree();
  CreateHealthyStore();
  const std::string before = Serialized();
  EXPECT_EQ(coord_->ApplyReport("imap9", "x", v1::HealthReport()).status().code(),
            absl::StatusCode::kNotFound);
  v1::HealthReport bad_slot;
  bad_slot.set_agent_time_ms(clock_.NowMs());
  v1::Condition* c = bad_slot.add_conditions();
  c->set_type(v1::READ_ONLY);
  c->set_subject_kind(v1::SUBJECT_SLOT);
  c->set_subject("s99");
  EXPECT_EQ(coord_->ApplyReport("imap1", sessions_["imap1"], bad_slot).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(coord_->ApplyReport("imap1", "stale", v1::HealthReport()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(coord_->ApplyReport("imap1", sessions_["imap1"], v1::HealthReport()).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a report without the agent's time is malformed";
  v1::CommandAck ack;
  ack.set_command_id("c-unknown");
  EXPECT_EQ(coord_->ApplyAck("imap1", ack).code(), absl::StatusCode::kNotFound);
  ack.set_command_id("c000000000001");  // issued and acknowledged already: a duplicate
  EXPECT_TRUE(coord_->ApplyAck("imap1", ack).ok());
  ack.set_command_id("c999999");  // never issued
  EXPECT_EQ(coord_->ApplyAck("imap1", ack).code(), absl::StatusCode::kNotFound);
  v1::TaskUpdate tu;
  tu.set_task_id("t999");
  tu.set_state(v1::TASK_DONE);
  EXPECT_EQ(coord_->ApplyTaskUpdate("imap1", tu).code(), absl::StatusCode::kNotFound);
  tu.set_state(v1::TASK_QUEUED);
  EXPECT_EQ(coord_->ApplyTaskUpdate("imap1", tu).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Serialized(), before);
}

TEST_F(CoordinatorTest, SilenceMakesHostSuspectThenDown) {
  RegisterThree();
  clock_.Advance(absl::Seconds(5));
  Heartbeat({"imap1", "imap2"});
  EXPECT_EQ(coord_->queries().GetHost("imap3")->state(),
            v1::HOST_UP);  // 5 s is not "more than 5 s"
  clock_.Advance(absl::Seconds(1));
  Heartbeat({"imap1", "imap2"});
  EXPECT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_SUSPECT);
  clock_.Advance(absl::Seconds(25));
  Heartbeat({"imap1", "imap2"});
  EXPECT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_DOWN);
  ASSERT_TRUE(Report("imap3").ok());
  EXPECT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_UP);
}

TEST_F(CoordinatorTest, ReadOnlyMasterFailsOverAfterHardGraceAndLease) {
  RegisterThree();
  CreateHealthyStore();
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  // The master's host stays alive but its filesystem goes read-only.
  auto renewal = Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")});
  ASSERT_TRUE(renewal.ok());
  EXPECT_FALSE(renewal->has_value()) << "no lease renewal for an unusable master";
  auto host = coord_->queries().GetHost("imap1");
  EXPECT_FALSE(host->slots(0).usable());
  EXPECT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_NO_MASTER);
  for (int i = 0; i < 29; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_EQ(MasterOf("st1"), "imap1/s01") << "no failover before failover_grace_hard (30 s)";
  clock_.Advance(absl::Seconds(2));
  Heartbeat({"imap2", "imap3"});
  // imap1 still runs and its filesystem is mounted read-only: the chosen
  // replica pulls once more before it is promoted.
  EXPECT_EQ(MasterOf("st1"), "imap1/s01") << "the final pull comes first";
  EXPECT_EQ(EventsOfKind("store.final_pull").size(), 1u);
  EXPECT_EQ(AnswerFinalPulls({"imap2", "imap3"}), 1);
  ASSERT_TRUE(coord_->Tick().ok());
  const std::string m = MasterOf("st1");
  EXPECT_TRUE(m == "imap2/s01" || m == "imap3/s01") << m;
  auto events = EventsOfKind("store.failover");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(coord_->queries().GetStore("st1")->master_epoch(), 2u);
  // Promote goes to the new master's host; demote to the old one.
  const std::string new_host = m.substr(0, m.find('/'));
  bool promoted = false;
  for (const auto& c : coord_->TakeCommandsToSend(new_host)) promoted |= c.has_promote();
  EXPECT_TRUE(promoted);
  bool demoted = false;
  for (const auto& c : coord_->TakeCommandsToSend("imap1")) demoted |= c.has_demote();
  EXPECT_TRUE(demoted);
}

TEST_F(CoordinatorTest, AWallClockJumpNeitherShortensTheGraceNorTheLease) {
  RegisterThree();
  CreateHealthyStore();
  // The master's host falls silent right after a renewal.
  ASSERT_TRUE(Report("imap1").ok());
  // Someone sets the coordinator's date forward by a day: silence, grace
  // and leases are on the monotonic clock, so nothing may happen early.
  clock_.SetWallOffset(absl::Hours(24));
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_EQ(coord_->queries().GetHost("imap1")->state(), v1::HOST_SUSPECT)
      << "10 s of silence is SUSPECT (suspect_after 5 s), not DOWN, whatever the date says";
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  EXPECT_TRUE(EventsOfKind("store.failover").empty());
}

TEST_F(CoordinatorTest, ConditionsClearMakeSlotUsableAgain) {
  RegisterThree();
  ASSERT_TRUE(Report("imap2", {FsCondition(v1::IO_ERROR, "/srv/du2")}).ok());
  EXPECT_FALSE(coord_->queries().GetHost("imap2")->slots(2).usable());
  ASSERT_TRUE(Report("imap2").ok());
  EXPECT_TRUE(coord_->queries().GetHost("imap2")->slots(2).usable());
}

TEST_F(CoordinatorTest, StoredConditionsCarryTheCoordinatorsHardVerdict) {
  RegisterThree();
  v1::Condition kernel;
  kernel.set_type(v1::KERNEL_ERROR);
  kernel.set_subject_kind(v1::SUBJECT_UNIT);
  kernel.set_subject("du1");
  kernel.set_hard(true);  // what the agent thinks
  v1::Condition ro = FsCondition(v1::READ_ONLY, "/srv/du2");
  ro.set_hard(false);
  ASSERT_TRUE(Report("imap1", {kernel, ro}).ok());
  auto host = coord_->queries().GetHost("imap1");
  ASSERT_TRUE(host.ok());
  ASSERT_EQ(host->conditions_size(), 2);
  EXPECT_FALSE(host->conditions(0).hard()) << "soft: the slots on du1 stay usable";
  EXPECT_TRUE(host->slots(0).usable());
  EXPECT_TRUE(host->conditions(1).hard()) << "hard: the slots on /srv/du2 are unusable";
  EXPECT_FALSE(host->slots(2).usable());
}

TEST_F(CoordinatorTest, SilentMasterWaitsForSilenceGraceAndPausedAutomationWaitsForever) {
  config_.failover_grace_silent_ms = 120000;
  Restart();
  RegisterThree();
  CreateHealthyStore();
  v1::SetAutomationRequest pause;
  pause.set_paused(true);
  EXPECT_EQ(slotmgr::SetAutomation(*coord_, pause).status().code(),
            absl::StatusCode::kInvalidArgument);
  pause.set_reason("maintenance");
  ASSERT_TRUE(slotmgr::SetAutomation(*coord_, pause).ok());
  for (int i = 0; i < 200; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_EQ(coord_->queries().GetHost("imap1")->state(), v1::HOST_DOWN);
  EXPECT_EQ(MasterOf("st1"), "imap1/s01") << "paused: no failover";
  v1::SetAutomationRequest resume;
  ASSERT_TRUE(slotmgr::SetAutomation(*coord_, resume).ok());
  Heartbeat({"imap2", "imap3"});
  EXPECT_NE(MasterOf("st1"), "imap1/s01");
}

TEST_F(CoordinatorTest, SkewedReplicaIsNeverPromoted) {
  RegisterThree();
  CreateHealthyStore();
  // imap2's clock runs 6 hours behind.
  v1::HealthReport r;
  r.set_agent_time_ms(clock_.NowMs() - 6 * 3600 * 1000);
  ASSERT_TRUE(coord_->ApplyReport("imap2", sessions_["imap2"], r).ok());
  EXPECT_TRUE(coord_->queries().GetHost("imap2")->clock_skewed());
  EXPECT_EQ(EventsOfKind("host.clock_skewed").size(), 1u);
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    ASSERT_TRUE(coord_->ApplyReport("imap2", sessions_["imap2"], r).ok());
    Heartbeat({"imap3"});
    AnswerFinalPulls({"imap2", "imap3"});
  }
  EXPECT_EQ(MasterOf("st1"), "imap3/s01");
}

TEST_F(CoordinatorTest, AFinalPullThatNeverAnswersDelaysTheFailoverOnlyToItsDeadline) {
  RegisterThree();
  CreateHealthyStore();
  for (int i = 0; i < 32; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  ASSERT_EQ(EventsOfKind("store.final_pull").size(), 1u);
  // Nobody answers: the promotion waits for the pull's deadline (30 s) plus
  // a margin, then goes ahead.
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  for (int i = 0; i < 6; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_NE(MasterOf("st1"), "imap1/s01");
}

TEST_F(CoordinatorTest, NoFinalPullFromAMasterWhoseAgentIsGone) {
  RegisterThree();
  CreateHealthyStore();
  for (int i = 0; i < 700; ++i) {  // past the silence grace (10 min)
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap2", "imap3"});
  }
  EXPECT_NE(MasterOf("st1"), "imap1/s01");
  EXPECT_TRUE(EventsOfKind("store.final_pull").empty());
}

TEST_F(CoordinatorTest, RestartMidRecoveryContinues) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  auto resp = MarkLost("imap3", "du1");
  ASSERT_TRUE(resp.ok());
  const std::string task = resp->tasks_created(0);
  EXPECT_FALSE(coord_->TakeCommandsToSend("imap4").empty());  // sent, not acknowledged
  Restart();
  // The task is still running; the unacknowledged start is re-sent after hello.
  auto tasks = coord_->queries().ListTasks({}).tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state(), v1::TASK_RUNNING);
  auto again = coord_->TakeCommandsToSend("imap4");
  bool start = false;
  for (const auto& c : again) start |= c.has_start_task() && c.start_task().task_id() == task;
  EXPECT_TRUE(start);
  // Agents re-register (sessions do not survive) and the task completes.
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  Restart();  // and once more, mid-recovery
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  ASSERT_TRUE(FinishTask("imap4", task).ok());
  auto st = coord_->queries().GetStore("st1");
  EXPECT_EQ(st->state(), v1::STORE_HEALTHY);
  EXPECT_EQ(st->copies_size(), 3);
  EXPECT_GE(EventsOfKind("coordinator.start").size(), 3u);
}

TEST_F(CoordinatorTest, AgentRegisteringAgainGetsItsRunningTasksStartedAgain) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  auto resp = MarkLost("imap3", "du1");
  ASSERT_TRUE(resp.ok()) << resp.status();
  const std::string task = resp->tasks_created(0);
  auto starts_of = [&](const std::vector<v1::Command>& cmds) {
    int n = 0;
    for (const auto& c : cmds) n += c.has_start_task() && c.start_task().task_id() == task;
    return n;
  };
  // Still unacknowledged: registering again re-sends that start only.
  RegisterHost(MakeInventory("imap4"));
  EXPECT_EQ(starts_of(AckAll("imap4")), 1);
  EXPECT_TRUE(EventsOfKind("task.resent").empty());
  // Acknowledged, then the agent restarts: the running task is started again
  // under the same id, with the source's current address.
  const std::string source = coord_->queries().ListTasks({}).tasks(0).source().host();
  v1::HostInventory moved = MakeInventory(source);
  moved.set_peer_address(source + ":7499");
  RegisterHost(moved);
  RegisterHost(MakeInventory("imap4"));
  std::vector<v1::Command> again = AckAll("imap4");
  ASSERT_EQ(starts_of(again), 1);
  for (const auto& c : again) {
    if (c.has_start_task()) {
      EXPECT_EQ(c.start_task().source_peer_address(), source + ":7499");
    }
  }
  EXPECT_EQ(EventsOfKind("task.resent").size(), 1u);
  EXPECT_EQ(coord_->queries().ListTasks({}).tasks(0).state(), v1::TASK_RUNNING);
  // Another host registering again restarts nothing.
  RegisterHost(MakeInventory("imap2"));
  EXPECT_EQ(starts_of(AckAll("imap2")), 0);
  // The outcome may then arrive twice: the second time changes nothing.
  ASSERT_TRUE(FinishTask("imap4", task).ok());
  const std::string model = Serialized();
  const size_t done = EventsOfKind("task.done").size();
  EXPECT_TRUE(FinishTask("imap4", task).ok());
  EXPECT_EQ(Serialized(), model);
  EXPECT_EQ(EventsOfKind("task.done").size(), done);
  // A finished task is not started again.
  RegisterHost(MakeInventory("imap4"));
  EXPECT_EQ(starts_of(AckAll("imap4")), 0);
}

TEST_F(CoordinatorTest, MassFailureFreezesAutomation) {
  config_.failover_grace_silent_ms = 20000;
  Restart();
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap4"});
  }
  EXPECT_EQ(coord_->queries().GetAutomation().mode(), v1::AUTOMATION_FROZEN);
  EXPECT_EQ(EventsOfKind("automation.frozen").size(), 1u);
  EXPECT_EQ(MasterOf("st1"), "imap1/s01") << "frozen: no failover";
  // The hosts come back: it stays frozen until a person resumes it.
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_EQ(coord_->queries().GetAutomation().mode(), v1::AUTOMATION_FROZEN);
  v1::SetAutomationRequest resume;
  resume.set_set_by("operator");
  ASSERT_TRUE(slotmgr::SetAutomation(*coord_, resume).ok());
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_EQ(coord_->queries().GetAutomation().mode(), v1::AUTOMATION_RUNNING);
}

TEST_F(CoordinatorTest, TaskFailureBacksOffAndRetries) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  auto resp = MarkLost("imap3");
  ASSERT_TRUE(resp.ok());
  const std::string task = resp->tasks_created(0);
  const v1::SlotRef first_source = coord_->queries().ListTasks({}).tasks(0).source();
  std::vector<v1::Command> first = coord_->TakeCommandsToSend("imap4");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back().start_task().attempt(), 1u);
  v1::TaskUpdate u;
  u.set_task_id(task);
  u.set_state(v1::TASK_FAILED);
  u.set_error("source stopped answering");
  ASSERT_TRUE(coord_->ApplyTaskUpdate("imap4", u).ok());
  EXPECT_EQ(coord_->queries().ListTasks({}).tasks(0).state(), v1::TASK_BACKOFF);
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_EQ(coord_->queries().ListTasks({}).tasks(0).state(), v1::TASK_BACKOFF);
  clock_.Advance(absl::Seconds(31));
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_EQ(coord_->queries().ListTasks({}).tasks(0).state(), v1::TASK_RUNNING);
  EXPECT_EQ(coord_->queries().ListTasks({}).tasks(0).attempts(), 2u);
  // The retry is attempt 2, and copies from the other good copy.
  std::vector<v1::Command> retry = coord_->TakeCommandsToSend("imap4");
  ASSERT_FALSE(retry.empty());
  ASSERT_TRUE(retry.back().has_start_task());
  EXPECT_EQ(retry.back().start_task().attempt(), 2u);
  const v1::SlotRef second_source = coord_->queries().ListTasks({}).tasks(0).source();
  EXPECT_FALSE(model::SameSlot(first_source, second_source))
      << model::SlotName(first_source) << " again";
  EXPECT_EQ(retry.back().start_task().source_slot(), second_source.slot());
}

}  // namespace
}  // namespace slotkeeper::slotmgr

namespace slotkeeper::slotmgr {
namespace {

TEST_F(CoordinatorTest, BlockedUsersRaiseOneEventEachAndClear) {
  RegisterThree();
  CreateHealthyStore();
  auto report = [&](const std::string& host, std::vector<std::string> blocked) {
    v1::HealthReport r;
    r.set_report_id(++report_id_);
    r.set_agent_time_ms(clock_.NowMs());
    v1::ReplicationStatus* rs = r.add_replication();
    rs->set_slot("s01");
    rs->set_store("st1");
    rs->set_role(v1::SLOT_REPLICA);
    rs->set_in_sync(blocked.empty());
    for (const auto& u : blocked) rs->add_blocked_users(u);
    return coord_->ApplyReport(host, sessions_[host], r).status();
  };
  ASSERT_TRUE(report("imap2", {"alice"}).ok());
  ASSERT_TRUE(report("imap2", {"alice"}).ok());  // still blocked: no second event
  ASSERT_TRUE(report("imap3", {"alice", "bob"}).ok());
  std::vector<v1::Event> blocked = EventsOfKind("replication.blocked");
  ASSERT_EQ(blocked.size(), 3u);
  EXPECT_EQ(blocked[0].host(), "imap2");
  EXPECT_EQ(blocked[0].slot(), "s01");
  EXPECT_EQ(blocked[0].store(), "st1");
  EXPECT_EQ(blocked[0].severity(), v1::WARNING);
  EXPECT_NE(blocked[0].text().find("alice"), std::string::npos) << blocked[0].text();
  EXPECT_TRUE(EventsOfKind("replication.unblocked").empty());

  ASSERT_TRUE(report("imap2", {}).ok());  // alice on imap2 clears
  std::vector<v1::Event> cleared = EventsOfKind("replication.unblocked");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].host(), "imap2");
  EXPECT_NE(cleared[0].text().find("alice"), std::string::npos);
  ASSERT_TRUE(report("imap3", {"bob"}).ok());  // alice clears on imap3, bob stays
  EXPECT_EQ(EventsOfKind("replication.unblocked").size(), 2u);
  EXPECT_EQ(EventsOfKind("replication.blocked").size(), 3u);
  ASSERT_TRUE(report("imap2", {"alice"}).ok());  // blocked again: a new event
  EXPECT_EQ(EventsOfKind("replication.blocked").size(), 4u);
}

TEST_F(CoordinatorTest, BlockedUsersInATaskUpdateRaiseAnEventOnce) {
  RegisterThree();
  v1::CreateStoreRequest req;
  req.set_store("st1");
  *req.mutable_master() = Ref("imap1", "s01");
  *req.add_replicas() = Ref("imap2", "s01");
  ASSERT_TRUE(slotmgr::CreateStore(*coord_, req).ok());
  std::string task;
  const v1::ListTasksResponse tasks = coord_->queries().ListTasks({});
  for (const auto& t : tasks.tasks()) {
    if (t.state() == v1::TASK_RUNNING) task = t.id();
  }
  ASSERT_FALSE(task.empty());
  v1::TaskUpdate u;
  u.set_task_id(task);
  u.set_state(v1::TASK_RUNNING);
  u.add_blocked_users("carol");
  ASSERT_TRUE(coord_->ApplyTaskUpdate("imap2", u).ok());
  ASSERT_TRUE(coord_->ApplyTaskUpdate("imap2", u).ok());
  std::vector<v1::Event> blocked = EventsOfKind("replication.blocked");
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].host(), "imap2");
  EXPECT_EQ(blocked[0].store(), "st1");
  // A task's list is partial: a later update without the user clears nothing.
  u.clear_blocked_users();
  ASSERT_TRUE(coord_->ApplyTaskUpdate("imap2", u).ok());
  EXPECT_TRUE(EventsOfKind("replication.unblocked").empty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr

namespace slotkeeper::slotmgr {
namespace {

// Fails every commit while `fail` is set (a disk that stopped accepting writes).
class FailingStateStore : public StateStore {
 public:
  explicit FailingStateStore(StateStore* real) : real_(real) {}
  absl::StatusOr<StateSnapshot> Load() override { return real_->Load(); }
  absl::Status Commit(const StateBatch& batch) override {
    if (fail) return absl::UnavailableError("injected: device full");
    return real_->Commit(batch);
  }
  absl::StatusOr<EventPage> ReadEventPage(const EventQuery& q) override {
    return real_->ReadEventPage(q);
  }
  absl::StatusOr<size_t> PruneEvents(const EventPrune& p) override {
    if (fail) return absl::UnavailableError("injected: device full");
    return real_->PruneEvents(p);
  }
  bool fail = false;

 private:
  StateStore* real_;
};

TEST(CoordinatorCommitFailureTest, FailedWriteIsReportedOrStopsTheProcess) {
  auto rocks = RocksStateStore::Open(testing::TempDir("commit_failure"));
  ASSERT_TRUE(rocks.ok());
  FailingStateStore store(rocks->get());
  FakeClock clock;
  CoordinatorConfig config;
  config.exit_on_commit_failure = false;
  auto coord = Coordinator::Create(&store, &clock, config);
  ASSERT_TRUE(coord.ok());
  store.fail = true;
  v1::RegisterRequest req;
  *req.mutable_inventory() = MakeInventory("imap1");
  EXPECT_EQ((*coord)->Register(req).status().code(), absl::StatusCode::kUnavailable);

  config.exit_on_commit_failure = true;
  store.fail = false;
  auto strict = Coordinator::Create(&store, &clock, config);
  ASSERT_TRUE(strict.ok());
  store.fail = true;
  EXPECT_DEATH((void)(*strict)->Register(req), "durable state write failed");
}

}  // namespace
}  // namespace slotkeeper::slotmgr
