#include "slotmgr/promoter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proto/model_util.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::Ref;

// A Promoter over a copy of a coordinator's model with a healthy store st1
// (master imap1/s01, replicas imap2/s01 and imap3/s01), and collaborators of
// its own, so that what it issues and journals can be read directly.
class PromoterTest : public testing::CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    RegisterThree();
    CreateHealthyStore();
    model_ = coord_->queries().TEST_Model();
    for (const auto& h : testing::kThreeHosts) heard_[h] = clock_.MonotonicMs();
  }

  FailoverEnv Env() {
    return FailoverEnv{model_,
                       outbox_,
                       leases_,
                       masters_,
                       journal_,
                       automation_,
                       notices_,
                       config_,
                       &clock_,
                       [this]() -> std::optional<ClusterView> {
                         auto v = BuildView(model_, heard_);
                         if (!v.ok()) return std::nullopt;
                         return *v;
                       },
                       [this](Txn&) { ++recomputes_; },
                       true};
  }

  StoreRecord& St1() { return model_.stores.at("st1"); }

  // The kinds of the commands issued to `host` (promote, demote, ...).
  std::vector<std::string> CommandsTo(const std::string& host) {
    std::vector<std::string> kinds;
    for (const v1::Command& c : outbox_.TakeToSend(host)) {
      kinds.push_back(c.has_promote()          ? "promote"
                      : c.has_demote()         ? "demote"
                      : c.has_assign_replica() ? "assign-replica"
                                               : "other");
    }
    return kinds;
  }

  ClusterModel model_;
  Journal journal_{&clock_};
  CommandOutbox outbox_{&clock_, &journal_};
  LeaseTable leases_;
  MasterWatch masters_{&journal_, &config_};
  AutomationRecord automation_;
  std::set<std::string> notices_;
  std::map<std::string, int64_t> heard_;
  int recomputes_ = 0;
  Promoter promoter_;
};

TEST_F(PromoterTest, PromoteRaisesTheEpochDemotesTheOldMasterAndPointsReplicasAtTheNew) {
  const uint64_t epoch = St1().info().master_epoch();
  FailoverEnv env = Env();
  Txn txn;
  promoter_.Promote(env, txn, St1(), Ref("imap2", "s01"), "test", /*automatic=*/true);
  EXPECT_EQ(St1().info().master_epoch(), epoch + 1);
  // The old master is fenced first, then follows the new master as a replica.
  EXPECT_THAT(CommandsTo("imap1"), ::testing::ElementsAre("demote", "assign-replica"));
  EXPECT_THAT(CommandsTo("imap2"), ::testing::ElementsAre("promote"));
  EXPECT_THAT(CommandsTo("imap3"), ::testing::ElementsAre("assign-replica"));
  EXPECT_EQ(automation_.failovers_size(), 1) << "an automatic failover counts";
  ASSERT_EQ(txn.routing.size(), 1u);
  EXPECT_EQ(txn.routing[0].master_epoch(), epoch + 1);
  EXPECT_GT(recomputes_, 0);
  // The new master's lease is taken as granted from now on: no second
  // promotion can happen until it could have run out.
  EXPECT_TRUE(leases_.MayBeValid(St1().info(), clock_.MonotonicMs()));
}

TEST_F(PromoterTest, ChooseLeavesOutACopyThatRefusedLately) {
  FailoverEnv env = Env();
  std::optional<ClusterView> view = env.view();
  ASSERT_TRUE(view.has_value());
  PromotionChoice first = promoter_.Choose(env, *view, St1(), false, nullptr);
  ASSERT_TRUE(first.target.has_value()) << first.refused;
  masters_.Refuse("st1", *first.target, clock_.MonotonicMs(), config_.lease_ms);
  PromotionChoice second = promoter_.Choose(env, *view, St1(), false, nullptr);
  ASSERT_TRUE(second.target.has_value()) << second.refused;
  EXPECT_NE(model::SlotName(*second.target), model::SlotName(*first.target));
}

TEST_F(PromoterTest, AFailedPromotionOfAnOlderEpochChangesNothing) {
  v1::PromoteCommand stale;
  stale.set_store("st1");
  stale.set_slot("s01");
  stale.set_epoch(St1().info().master_epoch() - 1);
  v1::CommandAck ack;
  ack.set_ok(false);
  ack.set_error("vetoed");
  const std::string before = St1().DebugString();
  FailoverEnv env = Env();
  Txn txn;
  promoter_.PromoteFailed(env, txn, "imap1", stale, ack);
  EXPECT_EQ(St1().DebugString(), before);
  EXPECT_TRUE(txn.routing.empty());
}

TEST_F(PromoterTest, AFailedCurrentPromotionStepsBackAndIsLeftOut) {
  FailoverEnv env = Env();
  Txn txn;
  promoter_.Promote(env, txn, St1(), Ref("imap2", "s01"), "test", true);
  v1::PromoteCommand promote;
  promote.set_store("st1");
  promote.set_slot("s01");
  promote.set_epoch(St1().info().master_epoch());
  v1::CommandAck ack;
  ack.set_ok(false);
  ack.set_error("pre_promote vetoed");
  Txn txn2;
  promoter_.PromoteFailed(env, txn2, "imap2", promote, ack);
  EXPECT_TRUE(masters_.IsRefused("st1", Ref("imap2", "s01"), clock_.MonotonicMs()));
  EXPECT_EQ(automation_.failovers_size(), 0) << "a refused promotion is no failover";
  ASSERT_EQ(txn2.routing.size(), 1u) << "proxies stop sending mail to it";
  EXPECT_FALSE(txn2.routing[0].has_new_master());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
