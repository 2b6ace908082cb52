#include "slotmgr/master_watch.h"

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::SlotRef Ref(const std::string& host, const std::string& slot) {
  v1::SlotRef r;
  r.set_host(host);
  r.set_slot(slot);
  return r;
}

class MasterWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.lease_ms = 20'000;
    config_.failsafe_margin_ms = 3'000;
    v1::HostInfo& h = *model_.hosts["imap1"].mutable_info();
    h.set_name("imap1");
    v1::SlotInfo* s = h.add_slots();
    *s->mutable_ref() = Ref("imap1", "s01");
    s->set_role(v1::SLOT_MASTER);
    s->set_store("st1");
    v1::StoreInfo& st = *model_.stores["st1"].mutable_info();
    st.set_name("st1");
    st.set_master_epoch(3);
  }

  v1::HealthReport Report(bool holds_lease, bool failsafe = false,
                          std::vector<std::string> witnesses = {}) {
    v1::HealthReport r;
    if (holds_lease) {
      v1::Lease* l = r.add_leases_held();
      l->set_slot("s01");
      l->set_store("st1");
      l->set_epoch(3);
      l->set_failsafe(failsafe);
      for (const std::string& w : witnesses) l->add_witnesses(w);
    }
    return r;
  }

  bool Note(const v1::HealthReport& r) {
    return watch_.NoteReport(txn_, model_, "imap1", *model_.hosts["imap1"].mutable_info(), r,
                             outbox_);
  }
  const v1::SlotInfo& Slot() { return model_.hosts["imap1"].info().slots(0); }
  std::vector<std::string> Kinds() {
    std::vector<std::string> out;
    for (const v1::Event& e : txn_.events) out.push_back(e.kind());
    return out;
  }

  FakeClock clock_;
  CoordinatorConfig config_;
  Journal journal_{&clock_};
  CommandOutbox outbox_{&clock_, &journal_};
  MasterWatch watch_{&journal_, &config_};
  ClusterModel model_;
  Txn txn_;
};

TEST_F(MasterWatchTest, ServingFollowsTheLeasesTheAgentHolds) {
  EXPECT_TRUE(Note(Report(true)));
  EXPECT_TRUE(Slot().serving());
  EXPECT_THAT(Kinds(), IsEmpty());  // starting to serve after a promote is not news
  EXPECT_FALSE(Note(Report(true)));
  EXPECT_TRUE(Note(Report(false)));  // the agent restarted or fenced the slot
  EXPECT_FALSE(Slot().serving());
  EXPECT_TRUE(Note(Report(true)));
  EXPECT_THAT(Kinds(), ElementsAre(event_kind::kSlotNotServing, event_kind::kSlotServing));
}

TEST_F(MasterWatchTest, APromoteOnItsWayIsNotJudgedAndAnAcknowledgedOneServes) {
  outbox_.Issue(txn_, "imap1", MakePromote("st1", "s01", 3, 20'000));
  txn_.events.clear();
  EXPECT_FALSE(Note(Report(false)));
  EXPECT_FALSE(Slot().serving());
  EXPECT_THAT(Kinds(), IsEmpty());
  watch_.PromoteApplied(txn_, model_, Ref("imap1", "s01"));
  EXPECT_TRUE(Slot().serving());
}

TEST_F(MasterWatchTest, FailsafeIsFlaggedAndJournaledOnceEachWay) {
  Note(Report(true));
  Note(Report(true, /*failsafe=*/true));
  EXPECT_TRUE(Slot().serving_on_failsafe());
  Note(Report(true, true));
  Note(Report(true, false));
  EXPECT_FALSE(Slot().serving_on_failsafe());
  EXPECT_THAT(Kinds(), ElementsAre(event_kind::kStoreFailsafe, event_kind::kStoreFailsafeEnded));
}

TEST_F(MasterWatchTest, TheMastersWitnessesAreKeptWithTheStore) {
  Note(Report(true, false, {"imap2/s01", "imap3/s04"}));
  EXPECT_THAT(model_.stores["st1"].master_witnesses(), ElementsAre("imap2/s01", "imap3/s04"));
  EXPECT_EQ(txn_.stores.count("st1"), 1u);
}

TEST_F(MasterWatchTest, MayBeOnFailsafeUntilAWitnessProvesOtherwise) {
  StoreRecord& st = model_.stores["st1"];
  const v1::SlotRef other = Ref("imap4", "s02");  // a copy the master never asked
  EXPECT_FALSE(watch_.MayBeOnFailsafe(st, other, 0)) << "no witnesses: it cannot ask anyone";
  st.add_master_witnesses("imap2/s01");
  st.add_master_witnesses("imap3/s01");
  EXPECT_FALSE(watch_.MayBeOnFailsafe(st, Ref("imap2", "s01"), 0))
      << "a witness refuses promotion while it promises";
  EXPECT_TRUE(watch_.MayBeOnFailsafe(st, other, 100'000)) << "no witness is connected";
  watch_.SessionStarted("imap2", 100'000);
  EXPECT_TRUE(watch_.MayBeOnFailsafe(st, other, 110'000)) << "connected for less than a lease";
  EXPECT_FALSE(watch_.MayBeOnFailsafe(st, other, 123'000))
      << "connected for a lease plus the margin, and no promise";
  // A witness reporting a promise for the store proves nothing.
  v1::HealthReport r;
  v1::FailsafePromise* p = r.add_failsafe_promises();
  p->set_store("st1");
  watch_.NoteReport(txn_, model_, "imap2", *model_.hosts["imap2"].mutable_info(), r, outbox_);
  EXPECT_TRUE(watch_.MayBeOnFailsafe(st, other, 123'000));
  watch_.HostSilent("imap2");
  EXPECT_TRUE(watch_.MayBeOnFailsafe(st, other, 200'000));
}

TEST_F(MasterWatchTest, RefusedPromotionsExpireAndRepromotionIsPaced) {
  const v1::SlotRef r = Ref("imap2", "s01");
  watch_.Refuse("st1", r, 1'000, 20'000);
  EXPECT_TRUE(watch_.IsRefused("st1", r, 20'999));
  EXPECT_FALSE(watch_.IsRefused("st1", r, 21'000));
  EXPECT_FALSE(watch_.IsRefused("st2", r, 1'000));
  ASSERT_EQ(watch_.Refused("st1", 5'000).size(), 1u);
  EXPECT_EQ(watch_.Refused("st1", 5'000)[0].host(), "imap2");
  EXPECT_THAT(watch_.Refused("st1", 30'000), IsEmpty());
  const v1::SlotRef m = Ref("imap1", "s01");
  EXPECT_TRUE(watch_.RepromoteDue(m, 0));
  watch_.NoteRepromoted(m, 0);
  EXPECT_FALSE(watch_.RepromoteDue(m, 1'999));
  EXPECT_TRUE(watch_.RepromoteDue(m, 2'000));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
