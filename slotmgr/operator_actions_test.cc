// The Automation API's changes: CreateStore, Failover, Drain, MarkLost.
#include "slotmgr/operator_actions.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using testing::MakeInventory;
using testing::Ref;

class CoordinatorTest : public CoordinatorFixture {};
class CoordinatorOpsTest : public CoordinatorFixture {};

TEST_F(CoordinatorTest, CreateStoreAdoptsARecognizedCopyAsItsMaster) {
  RegisterThree();
  v1::HostInventory inv = MakeInventory("imap1");
  v1::SlotContents* c = inv.add_contents();
  c->set_slot("s01");
  c->set_store("st1");
  c->add_users("alice");
  RegisterHost(inv);  // mail copied in before the store was declared
  ASSERT_EQ(coord_->queries().GetStore("st1")->copies_size(), 1);
  // Not declared yet: nothing is placed or copied for it.
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(coord_->Tick().ok());
  EXPECT_TRUE(coord_->queries().ListTasks(v1::ListTasksRequest()).tasks().empty());
  EXPECT_TRUE(EventsOfKind("placement.refused").empty());

  // Declaring it on another slot is refused: the store exists.
  v1::CreateStoreRequest other;
  other.set_store("st1");
  *other.mutable_master() = Ref("imap2", "s01");
  EXPECT_EQ(slotmgr::CreateStore(*coord_, other).status().code(), absl::StatusCode::kAlreadyExists);

  v1::CreateStoreRequest req;
  req.set_store("st1");
  *req.mutable_master() = Ref("imap1", "s01");
  *req.add_replicas() = Ref("imap2", "s01");
  *req.add_replicas() = Ref("imap3", "s01");
  auto st = slotmgr::CreateStore(*coord_, req);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->copies_size(), 3);
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  EXPECT_EQ(coord_->queries().LookupUser("alice")->store(), "st1");
  // Once it has a master, the store is not adopted a second time.
  EXPECT_EQ(slotmgr::CreateStore(*coord_, req).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(CoordinatorTest, CreateStoreAdoptsAndPlacesReplicas) {
  RegisterThree();
  v1::HostInventory inv = MakeInventory("imap2");
  v1::SlotContents* c = inv.add_contents();
  c->set_slot("s01");
  c->set_store("st2");
  RegisterHost(inv);
  v1::CreateStoreRequest req;
  req.set_store("st2");
  *req.mutable_master() = Ref("imap2", "s01");
  req.set_copies(3);
  auto st = slotmgr::CreateStore(*coord_, req);
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->copies_size(), 3);
  std::set<std::string> hosts;
  for (const auto& copy : st->copies()) hosts.insert(copy.slot().host());
  EXPECT_EQ(hosts.size(), 3u);
  EXPECT_EQ(MasterOf("st2"), "imap2/s01");
}

TEST_F(CoordinatorTest, NamesFollowTheOneRule) {
  v1::RegisterRequest req;
  *req.mutable_inventory() = MakeInventory("imap 1");
  EXPECT_EQ(coord_->Register(req).status().code(), absl::StatusCode::kInvalidArgument);
  *req.mutable_inventory() = MakeInventory("imap1");
  req.mutable_inventory()->mutable_units(0)->set_name(".du1");
  EXPECT_EQ(coord_->Register(req).status().code(), absl::StatusCode::kInvalidArgument);
  RegisterThree();
  v1::CreateStoreRequest cs;
  *cs.mutable_master() = Ref("imap1", "s01");
  for (const char* bad : {"", "a/b", "st 1", "-st1"}) {
    cs.set_store(bad);
    EXPECT_EQ(slotmgr::CreateStore(*coord_, cs).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST_F(CoordinatorTest, OperatorFailoverDryRunAndRefusal) {
  RegisterThree();
  CreateHealthyStore();
  v1::FailoverRequest req;
  req.set_store("st1");
  *req.mutable_to() = Ref("imap2", "s02");  // not a copy
  auto resp = slotmgr::Failover(*coord_, req);
  ASSERT_TRUE(resp.ok());
  EXPECT_FALSE(resp->items(0).refused().empty());
  *req.mutable_to() = Ref("imap2", "s01");
  req.set_dry_run(true);
  resp = slotmgr::Failover(*coord_, req);
  ASSERT_TRUE(resp.ok());
  EXPECT_FALSE(resp->items(0).done());
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  req.set_dry_run(false);
  resp = slotmgr::Failover(*coord_, req);
  ASSERT_TRUE(resp.ok());
  EXPECT_TRUE(resp->items(0).done());
  // The old master's lease may still be valid: it is fenced first.
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  AckAll("imap1");  // the demote is acknowledged: the lease is released
  ASSERT_TRUE(coord_->Tick().ok());
  EXPECT_EQ(MasterOf("st1"), "imap2/s01");
}

TEST_F(CoordinatorTest, LostUnitIsReplacedBeforeEvicted) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  auto resp = MarkLost("imap3", "du1");
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->affected_stores_size(), 1);
  ASSERT_EQ(resp->tasks_created_size(), 1);
  const std::string task = resp->tasks_created(0);
  auto tasks = coord_->queries().ListTasks({}).tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].target().host(), "imap4") << "the only host without a copy";
  EXPECT_EQ(tasks[0].state(), v1::TASK_RUNNING);
  // Still referenced until the replacement is verified.
  auto st = coord_->queries().GetStore("st1");
  EXPECT_EQ(st->copies_size(), 4);
  EXPECT_EQ(FinishTask("imap4", task, /*verified=*/false).code(), absl::StatusCode::kOk);
  EXPECT_EQ(coord_->queries().GetStore("st1")->copies_size(), 4)
      << "unverified copy evicts nothing";
  clock_.Advance(absl::Seconds(31));
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  ASSERT_TRUE(FinishTask("imap4", task).ok());
  st = coord_->queries().GetStore("st1");
  ASSERT_EQ(st->copies_size(), 3);
  for (const auto& c : st->copies()) EXPECT_NE(c.slot().host(), "imap3");
  EXPECT_EQ(st->state(), v1::STORE_HEALTHY);
  EXPECT_EQ(EventsOfKind("copy.dropped").size(), 1u);
  EXPECT_TRUE(FinishTask("imap4", task).ok()) << "a repeated final state is harmless";
  EXPECT_EQ(FinishTask("imap1", task).code(), absl::StatusCode::kFailedPrecondition)
      << "only the target host reports on a task";
  EXPECT_TRUE(coord_->queries().CheckModel().problems().empty());
}

TEST_F(CoordinatorOpsTest, DrainDryRunShowsThePlanAndChangesNothing) {
  RegisterThree();
  CreateHealthyStore();
  const std::string before = Serialized();
  const size_t events_before = coord_->queries().EventsAfter(0, 100000)->size();
  v1::DrainRequest drain;
  drain.set_host("imap1");
  drain.set_dry_run(true);
  absl::StatusOr<v1::DrainResponse> plan = slotmgr::Drain(*coord_, drain);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->done());
  EXPECT_EQ(plan->masters_to_move(), 1u);
  EXPECT_EQ(plan->copies_to_recreate(), 0u);
  ASSERT_EQ(plan->copies_size(), 1u);
  const v1::DrainCopy& master = plan->copies(0);
  EXPECT_EQ(master.store(), "st1");
  EXPECT_EQ(master.role(), v1::SLOT_MASTER);
  EXPECT_EQ(model::SlotName(master.slot()), "imap1/s01");
  EXPECT_FALSE(master.to().host().empty()) << "a replica takes it";
  EXPECT_NE(master.to().host(), "imap1");
  EXPECT_EQ(Serialized(), before) << "a dry run changes nothing";
  EXPECT_EQ(coord_->queries().EventsAfter(0, 100000)->size(), events_before);
  // The drain then does what the plan said.
  drain.set_dry_run(false);
  absl::StatusOr<v1::DrainResponse> done = slotmgr::Drain(*coord_, drain);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->done());
  ASSERT_EQ(done->copies_size(), 1u);
  EXPECT_EQ(model::SlotName(done->copies(0).to()), model::SlotName(master.to()));
  EXPECT_TRUE(coord_->queries().GetHost("imap1")->draining());
}

TEST_F(CoordinatorOpsTest, DrainMovesMasterAfterLeaseAndLookupFollows) {
  RegisterThree();
  CreateHealthyStore();
  v1::DrainRequest drain;
  drain.set_host("imap1");
  drain.set_reason("disk swap");
  auto resp = slotmgr::Drain(*coord_, drain);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->masters_to_move(), 1u);
  // The lease is no longer renewed; the master moves once it has run out.
  auto renewal = Report("imap1");
  ASSERT_TRUE(renewal.ok());
  EXPECT_FALSE(renewal->has_value());
  Heartbeat({"imap1", "imap2", "imap3"});
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  for (int i = 0; i < 21; ++i) {
    clock_.Advance(absl::Seconds(1));
    Heartbeat({"imap1", "imap2", "imap3"});
  }
  EXPECT_NE(MasterOf("st1"), "imap1/s01");
  EXPECT_EQ(coord_->queries().GetStore("st1")->master_epoch(), 2u);
  uint64_t next = 0;
  auto changes = coord_->queries().RoutingAfter(0, &next);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].store(), "st1");
  EXPECT_EQ(changes[0].master_epoch(), 2u);
  // Placement avoids the draining host.
  v1::CreateStoreRequest cs;
  cs.set_store("st2");
  *cs.mutable_master() = Ref("imap2", "s02");
  cs.set_copies(3);
  EXPECT_EQ(slotmgr::CreateStore(*coord_, cs).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "only two hosts can take copies while imap1 drains";
  ASSERT_TRUE(slotmgr::Undrain(*coord_, drain).ok());
  EXPECT_TRUE(slotmgr::CreateStore(*coord_, cs).ok());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
