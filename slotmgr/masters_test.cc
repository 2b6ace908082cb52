// The coordinator and its masters: whether they serve (leases their agents
// hold), promotions the target refuses, the failsafe rule, and replicas
// after their agent restarts. A fake agent per host (CoordinatorFixture)
// holds the leases of the promotions it acknowledges.
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
using testing::kThreeHosts;
using testing::MakeInventory;
using ::testing::MatchesRegex;
using testing::Ref;

class MastersTest : public CoordinatorFixture {
 protected:
  // The commands sent to `host`, acknowledged as failed with `error`.
  void RefuseAll(const std::string& host, const std::string& error) {
    for (const v1::Command& c : coord_->TakeCommandsToSend(host)) {
      v1::CommandAck ack;
      ack.set_command_id(c.id());
      ack.set_ok(false);
      ack.set_error(error);
      ASSERT_TRUE(coord_->ApplyAck(host, ack).ok());
    }
  }
  const v1::Copy* CopyOn(const v1::StoreInfo& st, const std::string& host) {
    for (const v1::Copy& c : st.copies()) {
      if (c.slot().host() == host) return &c;
    }
    return nullptr;
  }
};

TEST_F(MastersTest, AMasterWithoutItsLeaseIsNotHealthyAndIsPromotedAgain) {
  RegisterThree();
  CreateHealthyStore();
  Heartbeat(kThreeHosts);
  ASSERT_EQ(coord_->queries().GetStore("st1")->state(), v1::STORE_HEALTHY);
  // imap1's agent restarts: its mail server is down, it holds no lease.
  DropLeases("imap1");
  RegisterHost(MakeInventory("imap1"));
  ASSERT_TRUE(Report("imap1").ok());
  v1::StoreInfo st = *coord_->queries().GetStore("st1");
  EXPECT_EQ(st.state(), v1::STORE_NO_MASTER) << "a master that does not serve is not healthy";
  EXPECT_THAT(st.note(), HasSubstr("not serving"));
  EXPECT_FALSE(CopyOn(st, "imap1")->serving());
  EXPECT_EQ(EventsOfKind(event_kind::kSlotNotServing).size(), 1u);
  // It is promoted again at the same epoch (its hook must start the server).
  ASSERT_TRUE(coord_->Tick().ok());
  std::vector<v1::Command> cmds = AckAll("imap1");
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_TRUE(cmds[0].has_promote());
  EXPECT_EQ(cmds[0].promote().slot(), "s01");
  EXPECT_EQ(cmds[0].promote().epoch(), st.master_epoch());
  EXPECT_EQ(cmds[0].promote().other_copies_size(), 2);
  EXPECT_EQ(EventsOfKind(event_kind::kStoreRepromote).size(), 1u);
  Heartbeat(kThreeHosts);
  st = *coord_->queries().GetStore("st1");
  EXPECT_EQ(st.state(), v1::STORE_HEALTHY);
  EXPECT_EQ(MasterOf("st1"), "imap1/s01");
  EXPECT_EQ(EventsOfKind(event_kind::kSlotServing).size(), 1u);
}

// The agent takes the lease before it runs the promote hook, which may
// take longer than one lease to start the mail server: the lease is renewed
// from the reports that hold it, before the promote is acknowledged.
TEST_F(MastersTest, APromotedMastersLeaseIsRenewedWhileItsPromoteRuns) {
  RegisterThree();
  CreateHealthyStore();
  DropLeases("imap1");
  RegisterHost(MakeInventory("imap1"));
  ASSERT_TRUE(Report("imap1").ok());
  ASSERT_TRUE(coord_->Tick().ok());
  std::vector<v1::Command> cmds = coord_->TakeCommandsToSend("imap1");
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_TRUE(cmds[0].has_promote());
  const uint64_t epoch = cmds[0].promote().epoch();
  // A report built before the promote arrived holds no lease: nothing to renew.
  auto before = Report("imap1");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value());
  // The agent holds the lease and runs the hook; the promote is not acknowledged.
  v1::Lease& held = held_["imap1"]["s01"];
  held = cmds[0].promote().lease();
  held.set_slot("s01");
  auto during = Report("imap1");
  ASSERT_TRUE(during.ok());
  ASSERT_TRUE(during->has_value()) << "the lease of a promote in progress is renewed";
  ASSERT_EQ((*during)->leases_size(), 1);
  EXPECT_EQ((*during)->leases(0).slot(), "s01");
  EXPECT_EQ((*during)->leases(0).store(), "st1");
  EXPECT_EQ((*during)->leases(0).epoch(), epoch);
  // A lease at an epoch other than the store's is not renewed.
  held.set_epoch(epoch + 1);
  auto other = Report("imap1");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

TEST_F(MastersTest, RenewalsNameTheStoresOtherCopies) {
  RegisterThree();
  CreateHealthyStore();
  auto renewal = Report("imap1");
  ASSERT_TRUE(renewal.ok());
  ASSERT_TRUE(renewal->has_value());
  ASSERT_EQ((*renewal)->copies_size(), 1);
  EXPECT_EQ((*renewal)->copies(0).store(), "st1");
  ASSERT_EQ((*renewal)->copies(0).copies_size(), 2);
  EXPECT_EQ((*renewal)->copies(0).copies(0).peer_address(), "imap2:7400");
}

TEST_F(MastersTest, ARefusedPromotionIsJournaledAndTheNextCandidateIsPromoted) {
  RegisterThree();
  CreateHealthyStore();
  // The master's filesystem turns read-only; after the hard grace one
  // replica is promoted, and its pre_promote hook vetoes.
  for (int i = 0; i < 32; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {testing::FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  ASSERT_EQ(AnswerFinalPulls({"imap2", "imap3"}), 1);
  ASSERT_TRUE(coord_->Tick().ok());
  const std::string first = MasterOf("st1");
  ASSERT_TRUE(first == "imap2/s01" || first == "imap3/s01") << first;
  const std::string first_host = first.substr(0, first.find('/'));
  RefuseAll(first_host, "pre-promote hook vetoed the promotion: disk not ready");
  auto failed = EventsOfKind(event_kind::kStorePromoteFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0].text(), HasSubstr("disk not ready"));
  EXPECT_THAT(failed[0].text(), HasSubstr("next candidate"));
  // The next tick promotes the other replica, without another grace.
  ASSERT_TRUE(coord_->Tick().ok());
  const std::string second = MasterOf("st1");
  EXPECT_NE(second, first);
  EXPECT_TRUE(second == "imap2/s01" || second == "imap3/s01") << second;
  EXPECT_EQ(coord_->queries().GetStore("st1")->master_epoch(), 3u);
  AckAll(second.substr(0, second.find('/')));
  Heartbeat({"imap2", "imap3"});
  EXPECT_EQ(coord_->queries().GetStore("st1")->note().find("not serving"), std::string::npos);
}

TEST_F(MastersTest, NoFailoverToANonWitnessWhileTheOldMasterMayBeOnFailsafe) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  // The master says it would ask only imap2 for failsafe grants (imap3's
  // copy came later, say); imap2 has fallen behind, so imap3 is the best
  // candidate once imap1 dies.
  v1::HealthReport r;
  r.set_report_id(1000);
  r.set_agent_time_ms(clock_.NowMs());
  v1::Lease* l = r.add_leases_held();
  l->set_slot("s01");
  l->set_store("st1");
  l->set_epoch(1);
  l->add_witnesses("imap2/s01");
  ASSERT_TRUE(coord_->ApplyReport("imap1", sessions_["imap1"], r).ok());
  auto imap2_report = [&](bool promising) {
    v1::HealthReport h;
    h.set_report_id(2000 + clock_.MonotonicMs());
    h.set_agent_time_ms(clock_.NowMs());
    v1::ReplicationStatus* rs = h.add_replication();
    rs->set_slot("s01");
    rs->set_store("st1");
    rs->set_in_sync(false);
    rs->set_lag_ms(3'600'000);
    if (promising) {
      v1::FailsafePromise* p = h.add_failsafe_promises();
      p->set_store("st1");
      p->set_local_slot("s01");
      *p->mutable_master() = Ref("imap1", "s01");
      p->set_epoch(1);
      p->set_remaining_ms(15'000);
    }
    ASSERT_TRUE(coord_->ApplyReport("imap2", sessions_["imap2"], h).ok());
  };
  // imap1 falls silent. imap2 promises: it granted imap1 a failsafe lease.
  for (int i = 0; i < 700; ++i) {  // past the silence grace (10 min) and the lease
    clock_.Advance(absl::Seconds(1));
    imap2_report(/*promising=*/true);
    Heartbeat({"imap3", "imap4"});
  }
  EXPECT_EQ(MasterOf("st1"), "imap1/s01") << "no promotion while imap1 may serve on failsafe";
  auto waits = EventsOfKind(event_kind::kStoreFailoverWaitsFailsafe);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_THAT(waits[0].text(), HasSubstr("imap2/s01"));
  // imap2's promise ends and it says so: it has heard the coordinator for
  // far longer than a lease, so imap1 cannot be on failsafe any more.
  clock_.Advance(absl::Seconds(1));
  imap2_report(/*promising=*/false);
  Heartbeat({"imap3", "imap4"});
  EXPECT_EQ(MasterOf("st1"), "imap3/s01");
}

TEST_F(MastersTest, AReregisteredAgentsReplicasAreNotInSyncUntilTheySaySo) {
  RegisterThree();
  CreateHealthyStore();
  ASSERT_TRUE(CopyOn(*coord_->queries().GetStore("st1"), "imap2")->in_sync());
  const std::string before = sessions_["imap2"];
  RegisterHost(MakeInventory("imap2"));
  EXPECT_FALSE(CopyOn(*coord_->queries().GetStore("st1"), "imap2")->in_sync());
  // Session ids are not guessable: host, counter and 128 random bits.
  EXPECT_THAT(sessions_["imap2"], MatchesRegex("imap2-[0-9]+-[0-9a-f]{32}"));
  EXPECT_NE(sessions_["imap2"], before);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
