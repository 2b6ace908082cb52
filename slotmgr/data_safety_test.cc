// The operators' data-safety actions through Coordinator::Mutate: which
// agent gets which command, what is journaled, what is refused.
#include "slotmgr/data_safety.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using ::testing::HasSubstr;
using testing::Ref;

class DataSafetyTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    RegisterThree();
    CreateHealthyStore();
  }
  template <typename T>
  absl::StatusOr<T> Run(absl::FunctionRef<absl::StatusOr<T>(Mutation&)> action) {
    return coord_->Mutate<T>(action);
  }
};

TEST_F(DataSafetyTest, RestoreGoesToTheStoresMasterAndNamesWhereTheItemIs) {
  v1::RestoreQuarantinedRequest req;
  *req.mutable_slot() = Ref("imap2", "s01");
  req.set_item_id("2026-12-01/alice/cur/1.M2:2,S");
  req.set_reason("user asked for it back");
  auto r = Run<v1::RestoreQuarantinedResponse>(
      [&](Mutation& m) { return RestoreQuarantined(m, req, "alice-admin"); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->into().host(), "imap1");
  std::vector<v1::Command> cmds = coord_->TakeCommandsToSend("imap1");
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_TRUE(cmds[0].has_restore_quarantined());
  EXPECT_EQ(cmds[0].restore_quarantined().source_peer_address(), "imap2:7400");
  EXPECT_EQ(cmds[0].restore_quarantined().source_slot(), "s01");
  EXPECT_EQ(cmds[0].restore_quarantined().target_slot(), "s01");
  auto events = EventsOfKind(event_kind::kQuarantineRestore);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].text(), HasSubstr("by alice-admin: user asked for it back"));
}

TEST_F(DataSafetyTest, BadRequestsChangeNothing) {
  v1::RestoreQuarantinedRequest req;
  *req.mutable_slot() = Ref("imap9", "s01");
  req.set_item_id("x");
  auto r = Run<v1::RestoreQuarantinedResponse>(
      [&](Mutation& m) { return RestoreQuarantined(m, req, ""); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  *req.mutable_slot() = Ref("imap1", "s02");  // a spare slot
  r = Run<v1::RestoreQuarantinedResponse>(
      [&](Mutation& m) { return RestoreQuarantined(m, req, ""); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::PurgeQuarantineItemsRequest purge;
  *purge.mutable_slot() = Ref("imap2", "s01");
  auto p = Run<v1::PurgeQuarantineItemsResponse>(
      [&](Mutation& m) { return PurgeQuarantine(m, purge, ""); });
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* h : {"imap1", "imap2", "imap3"}) {
    EXPECT_TRUE(coord_->TakeCommandsToSend(h).empty()) << h;
  }
}

TEST_F(DataSafetyTest, UnblockGoesOnlyToTheCopiesThatReportTheUserBlocked) {
  v1::UnblockUserRequest req;
  req.set_store("st1");
  req.set_user("bob");
  auto r = Run<v1::UnblockUserResponse>([&](Mutation& m) { return UnblockUser(m, req, ""); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << "nobody blocked bob";
  v1::HealthReport report;
  report.set_report_id(999);
  report.set_agent_time_ms(clock_.NowMs());
  v1::ReplicationStatus* s = report.add_replication();
  s->set_slot("s01");
  s->set_store("st1");
  s->add_blocked_users("bob");
  ASSERT_TRUE(coord_->ApplyReport("imap3", sessions_["imap3"], report).ok());
  r = Run<v1::UnblockUserResponse>([&](Mutation& m) { return UnblockUser(m, req, "op"); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->slots_size(), 1);
  EXPECT_EQ(r->slots(0).host(), "imap3");
  std::vector<v1::Command> cmds = coord_->TakeCommandsToSend("imap3");
  ASSERT_FALSE(cmds.empty());
  EXPECT_EQ(cmds.back().unblock_user().user(), "bob");
  EXPECT_TRUE(coord_->TakeCommandsToSend("imap2").empty());
}

TEST_F(DataSafetyTest, ReconcileAsksTheMasterToCopyFromEachOldMaster) {
  v1::ReconcileStoreRequest req;
  req.set_store("st1");
  auto r = Run<v1::ReconcileStoreResponse>([&](Mutation& m) {
    return Reconcile(m, req, {Ref("imap2", "s01"), Ref("imap1", "s01")}, "op");
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->master().host(), "imap1");
  EXPECT_EQ(r->command_ids_size(), 1) << "the master itself is not a source";
  std::vector<v1::Command> cmds = coord_->TakeCommandsToSend("imap1");
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].reconcile().source_peer_address(), "imap2:7400");
  EXPECT_EQ(EventsOfKind(event_kind::kStoreReconcile).size(), 1u);
}

TEST(StrandedCandidatesTest, EveryOldCopyWithStrandedMailOrOnlyThoseNamed) {
  v1::StoreInfo store;
  store.set_name("st1");
  auto add = [&](const std::string& host, v1::SlotRole role, uint64_t stranded) {
    v1::Copy* c = store.add_copies();
    *c->mutable_slot() = Ref(host, "s01");
    c->set_role(role);
    c->set_stranded_messages(stranded);
  };
  add("imap1", v1::SLOT_MASTER, 3);
  add("imap2", v1::SLOT_REPLICA, 2);
  add("imap3", v1::SLOT_REPLICA, 0);
  add("imap4", v1::SLOT_REPLICA, 5);
  v1::ReconcileStoreRequest req;
  auto all = StrandedCandidates(store, req);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const auto& r : *all) names.push_back(model::SlotName(r));
  EXPECT_EQ(names, (std::vector<std::string>{"imap2/s01", "imap4/s01"}));
  *req.add_from() = Ref("imap4", "s01");
  auto one = StrandedCandidates(store, req);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(model::SlotName((*one)[0]), "imap4/s01");
  // The master, or a slot that holds no copy, is refused with its name.
  req.clear_from();
  *req.add_from() = Ref("imap1", "s01");
  EXPECT_EQ(StrandedCandidates(store, req).status().code(), absl::StatusCode::kInvalidArgument);
  req.clear_from();
  *req.add_from() = Ref("imap9", "s01");
  EXPECT_NE(StrandedCandidates(store, req).status().message().find("imap9/s01"), std::string::npos);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
