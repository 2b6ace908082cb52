// Reinstating held and lost units: verification against the store's master
// through a fake peer channel, then the change through the coordinator.
#include "slotmgr/reinstate.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using testing::FsCondition;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeInventory;
using testing::Ref;

// Agents by "ADDRESS|SLOT": user -> digest; a missing key does not answer.
class FakePeers final : public PeerLister {
 public:
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& address,
                                                  const v1::ListUsersRequest& request) override {
    EXPECT_TRUE(request.include_digests());
    auto it = users.find(address + "|" + request.slot());
    if (it == users.end()) return absl::UnavailableError("connection refused");
    v1::ListUsersResponse resp;
    for (const auto& [user, digest] : it->second) {
      v1::UserSummary* u = resp.add_users();
      u->set_user(user);
      u->set_digest(digest);
    }
    return resp;
  }
  std::map<std::string, std::map<std::string, std::string>> users;
};

class ReinstateTest : public testing::CoordinatorFixture {
 protected:
  void SetUp() override {
    testing::CoordinatorFixture::SetUp();
    config_.replace_after_ms = 60'000;
    config_.final_pull_deadline_ms = 0;
    Restart();
    RegisterThree();
    RegisterHost(MakeInventory("imap4"));
    CreateHealthyStore();  // st1: imap1/s01 master, imap2/s01, imap3/s01
    peers_.users["imap1:7400|s01"] = {{"alice", "a2"}, {"bob", "b1"}, {"carol", "c1"}};
    // imap3's copy is stale: alice has mail it has not seen.
    peers_.users["imap3:7400|s01"] = {{"alice", "a1"}, {"bob", "b1"}, {"carol", "c1"}};
  }

  absl::StatusOr<v1::ReinstateUnitResponse> Reinstate(const std::string& host,
                                                      const std::string& unit,
                                                      bool dry_run = false) {
    absl::StatusOr<std::vector<ReinstateCandidate>> candidates =
        ReinstateCandidates(coord_->queries(), host, unit);
    if (!candidates.ok()) return candidates.status();
    const std::vector<v1::ReinstatedCopy> verified = VerifyCandidates(*candidates, peers_);
    v1::ReinstateUnitRequest req;
    req.set_host(host);
    req.set_unit(unit);
    req.set_dry_run(dry_run);
    req.set_reason("false alarm");
    req.set_set_by("carol");
    return coord_->Mutate<v1::ReinstateUnitResponse>(
        [&](Mutation& m) { return ApplyReinstate(m, req, verified, "test"); });
  }

  v1::TaskInfo TaskById(const std::string& id) {
    v1::ListTasksRequest req;
    req.set_include_finished(true);
    const v1::ListTasksResponse all = coord_->queries().ListTasks(req);
    for (const v1::TaskInfo& t : all.tasks()) {
      if (t.id() == id) return t;
    }
    ADD_FAILURE() << "no task " << id;
    return {};
  }

  v1::SlotRole RoleOf(const std::string& host, const std::string& slot) {
    const v1::StoreInfo st = *coord_->queries().GetStore("st1");
    for (const v1::Copy& c : st.copies()) {
      if (c.slot().host() == host && c.slot().slot() == slot) return c.role();
    }
    return v1::SLOT_ROLE_UNSPECIFIED;
  }

  FakePeers peers_;
};

TEST_F(ReinstateTest, ALostUnitReturnsAndItsReplacementIsCancelled) {
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  auto tasks = coord_->queries().ListTasks({}).tasks();
  ASSERT_EQ(tasks.size(), 1u);
  const std::string replacement = tasks[0].id();
  EXPECT_EQ(tasks[0].target().host(), "imap4");

  // A dry run plans and changes nothing.
  const std::string before = Serialized();
  auto plan = Reinstate("imap3", "du1", /*dry_run=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->done());
  ASSERT_EQ(plan->copies_size(), 1);
  EXPECT_TRUE(plan->copies(0).verified());
  EXPECT_EQ(plan->copies(0).users_same(), 2u);
  EXPECT_EQ(plan->copies(0).users_differ(), 1u);
  EXPECT_THAT(plan->copies(0).action(), HasSubstr("catches up from imap1/s01 by delta"));
  EXPECT_THAT(plan->tasks_cancelled(), ElementsAre(replacement));
  EXPECT_EQ(Serialized(), before);

  auto done = Reinstate("imap3", "du1");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->done());
  const std::string catch_up = done->copies(0).task_id();
  ASSERT_FALSE(catch_up.empty());
  EXPECT_EQ(TaskById(catch_up).kind(), v1::TASK_CATCH_UP);
  EXPECT_EQ(TaskById(catch_up).source().host(), "imap1");
  EXPECT_EQ(TaskById(replacement).state(), v1::TASK_CANCELLED);
  EXPECT_EQ(coord_->queries().GetHost("imap3")->units(0).state(), v1::UNIT_ONLINE);
  EXPECT_EQ(RoleOf("imap3", "s01"), v1::SLOT_SEEDING) << "not trusted until caught up";
  EXPECT_EQ(RoleOf("imap4", "s01"), v1::SLOT_ROLE_UNSPECIFIED) << "the replacement released";
  EXPECT_EQ(EventsOfKind("unit.reinstated").size(), 1u);
  EXPECT_THAT(EventsOfKind("unit.reinstated")[0].text(), HasSubstr("carol (test): false alarm"));
  // The catch-up verified: a replica again, in sync; the store is whole.
  ASSERT_EQ(TaskById(catch_up).state(), v1::TASK_RUNNING);
  ASSERT_TRUE(FinishTask("imap3", catch_up).ok());
  EXPECT_EQ(RoleOf("imap3", "s01"), v1::SLOT_REPLICA);
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  EXPECT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_HEALTHY);
  EXPECT_EQ(coord_->queries().GetStore("st1")->copies_size(), 3);
}

TEST_F(ReinstateTest, AReplacementTheStoreStillNeedsIsKeptButDropsNothing) {
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());
  ASSERT_TRUE(MarkLost("imap2", "du1").ok());
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  ASSERT_EQ(coord_->queries().ListTasks({}).tasks_size(), 1) << "one spare host left: imap4";
  auto done = Reinstate("imap3", "du1");
  ASSERT_TRUE(done.ok()) << done.status();
  // Master + reinstated = 2 of 3 without the replacement: it goes on.
  EXPECT_THAT(done->tasks_cancelled(), IsEmpty());
  ASSERT_EQ(done->tasks_kept_size(), 1);
  const std::string kept = done->tasks_kept(0);
  ASSERT_TRUE(FinishTask("imap4", kept).ok());
  EXPECT_EQ(RoleOf("imap3", "s01"), v1::SLOT_SEEDING) << "the reinstated copy was not dropped";
}

TEST_F(ReinstateTest, AHeldUnitReturnsOnceHealthy) {
  for (int i = 0; i < 62; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap3", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  ASSERT_TRUE(ApplyOpinion("imap3", "du1", true));
  // Still read-only: refused, nothing changed.
  const std::string before = Serialized();
  auto refused = Reinstate("imap3", "du1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("still reports hard evidence"));
  EXPECT_EQ(Serialized(), before);
  // Remounted read-write.
  Heartbeat({"imap1", "imap2", "imap3", "imap4"});
  auto done = Reinstate("imap3", "du1");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->copies(0).role(), v1::SLOT_REPLICA);
  EXPECT_EQ(RoleOf("imap3", "s01"), v1::SLOT_SEEDING);
  EXPECT_TRUE(coord_->queries().GetHost("imap3")->units(0).held_reason().empty());
  ASSERT_TRUE(FinishTask("imap3", done->copies(0).task_id()).ok());
  EXPECT_EQ(RoleOf("imap3", "s01"), v1::SLOT_REPLICA);
}

TEST_F(ReinstateTest, WhatCannotBeReinstatedIsRefusedAndChangesNothing) {
  const std::string before = Serialized();
  EXPECT_EQ(Reinstate("imap3", "du1").status().code(), absl::StatusCode::kFailedPrecondition)
      << "online";
  EXPECT_EQ(Reinstate("imap9", "du1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reinstate("imap3", "du9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reinstate("imap3", "../du1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Reinstate("", "du1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Serialized(), before);
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());
  // The copy holds none of the store's users: not this store's data.
  peers_.users["imap3:7400|s01"] = {{"mallory", "m1"}};
  const std::string lost = Serialized();
  auto refused = Reinstate("imap3", "du1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("holds none of the users"));
  auto plan = Reinstate("imap3", "du1", true);
  ASSERT_TRUE(plan.ok()) << "a dry run shows what did not verify";
  EXPECT_FALSE(plan->copies(0).verified());
  EXPECT_EQ(plan->copies(0).users_extra(), 1u);
  // Its agent does not answer.
  peers_.users.erase("imap3:7400|s01");
  EXPECT_THAT(std::string(Reinstate("imap3", "du1").status().message()),
              HasSubstr("could not be read"));
  EXPECT_EQ(Serialized(), lost);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
