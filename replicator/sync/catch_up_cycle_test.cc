// CatchUpCycle against a real source (PeerCore over gRPC on 127.0.0.1) into
// a real replica slot, on a FakeClock: the first cycle records the slot's
// identity; an emptied slot is found, refilled and verified; the scrub's
// findings are moved aside and fetched again; the first cycle after the
// slot was master sets stranded mail aside.
#include "replicator/sync/catch_up_cycle.h"

#include <cstdlib>

#include "gtest/gtest.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

class CatchUpCycleTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    cache_ = std::make_unique<RocksHashCache>(target_db_.get());
    quarantine_ = std::make_unique<QuarantineIndex>(target_db_.get());
    guards_ = std::make_unique<GuardStore>(target_db_.get());
    records_ = std::make_unique<SlotRecords>(target_db_.get());
    checkpoints_ = std::make_unique<CheckpointStore>(target_db_.get());
    roots_ = std::make_unique<SlotRoots>(std::map<std::string, std::string>{{"t1", target_}});
    PullerDeps pull;
    pull.db = target_db_.get();
    pull.slots = roots_.get();
    pull.cache = cache_.get();
    pull.quarantine = quarantine_.get();
    pull.guards = guards_.get();
    pull.clock = &clock_;
    pull.fs = DefaultTargetFs();
    puller_ = std::make_unique<SlotPuller>(std::move(pull));
    hooks_.take_repairs = [this] { return std::exchange(repairs_, {}); };
    hooks_.identity_pending = [this] { ++identity_pending_; };
    WriteFile(Msg("alice", "cur/1.h:2,S"), "hello");
    WriteFile(Msg("bob", "new/2.h"), "world");
  }

  std::unique_ptr<CatchUpCycle> Cycle(const std::string& slot = "t1") {
    CycleDeps deps;
    deps.puller = puller_.get();
    deps.slots = roots_.get();
    deps.records = records_.get();
    deps.checkpoints = checkpoints_.get();
    deps.cache = cache_.get();
    deps.quarantine = quarantine_.get();
    deps.clock = &clock_;
    deps.fs = DefaultTargetFs();
    deps.on_repaired = [this](const std::string& s, uint64_t files) {
      EXPECT_EQ(s, "t1");
      repaired_ += files;
    };
    return std::make_unique<CatchUpCycle>(
        std::move(deps), ReplicaAssignment{slot, "", source_address_, "s1"}, &stop_);
  }

  std::unique_ptr<RocksHashCache> cache_;
  std::unique_ptr<QuarantineIndex> quarantine_;
  std::unique_ptr<GuardStore> guards_;
  std::unique_ptr<SlotRecords> records_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<SlotRoots> roots_;
  std::unique_ptr<SlotPuller> puller_;
  std::atomic<bool> stop_{false};
  CycleHooks hooks_;
  std::vector<ScrubFinding> repairs_;
  int identity_pending_ = 0;
  uint64_t repaired_ = 0;
};

TEST_F(CatchUpCycleTest, TheFirstCycleCopiesTheStoreAndRecordsTheSlotsIdentity) {
  clock_.Advance(absl::Seconds(42));
  const CycleOutcome o = Cycle()->Run(hooks_);
  ASSERT_TRUE(o.sync.ok()) << o.sync;
  EXPECT_TRUE(o.verified.ok());
  EXPECT_FALSE(o.verify_pending);
  EXPECT_TRUE(o.blocked_users.empty());
  EXPECT_EQ(o.started, absl::Seconds(42));
  EXPECT_EQ(o.finished_ms, clock_.NowMs());
  EXPECT_EQ(identity_pending_, 0);
  ExpectEqualTrees();
  absl::StatusOr<SlotIdentity> on_disk = ReadSlotIdentity(target_root_.get());
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(records_->Get("t1").identity(), on_disk->ToString());
}

TEST_F(CatchUpCycleTest, AnEmptiedSlotIsFoundRefilledAndVerified) {
  std::unique_ptr<CatchUpCycle> cycle = Cycle();
  ASSERT_TRUE(cycle->Run(hooks_).sync.ok());
  const std::string before = records_->Get("t1").identity();
  // Emptied behind the agent's back: another directory, no instance file.
  ASSERT_EQ(system(("rm -rf '" + target_ + "' && mkdir '" + target_ + "'").c_str()), 0);
  const CycleOutcome o = cycle->Run(hooks_);
  ASSERT_TRUE(o.sync.ok()) << o.sync;
  EXPECT_EQ(identity_pending_, 1);  // told before the sync ran
  EXPECT_TRUE(o.verified.ok()) << o.verified;
  EXPECT_FALSE(o.verify_pending);  // the verification passed
  ExpectEqualTrees();
  EXPECT_NE(records_->Get("t1").identity(), before);
  EXPECT_FALSE(records_->Get("t1").verify_pending());
  // The next cycle has nothing to verify.
  EXPECT_FALSE(cycle->Run(hooks_).verify_pending);
  EXPECT_EQ(identity_pending_, 1);
}

TEST_F(CatchUpCycleTest, AVerificationLeftPendingByARestartIsDoneByTheNextCycle) {
  ASSERT_TRUE(Cycle()->Run(hooks_).sync.ok());
  ASSERT_TRUE(records_->Update("t1", [](SlotRecord* r) { r->set_verify_pending(true); }).ok());
  const CycleOutcome o = Cycle()->Run(hooks_);
  EXPECT_EQ(identity_pending_, 1);
  EXPECT_TRUE(o.verified.ok()) << o.verified;
  EXPECT_FALSE(o.verify_pending);
  EXPECT_FALSE(records_->Get("t1").verify_pending());
}

TEST_F(CatchUpCycleTest, CorruptAndMissingFilesTheScrubFoundAreFetchedAgain) {
  std::unique_ptr<CatchUpCycle> cycle = Cycle();
  ASSERT_TRUE(cycle->Run(hooks_).sync.ok());
  const std::string alice = target_ + "/users/alice/cur/1.h:2,S";
  const std::string bob = target_ + "/users/bob/new/2.h";
  WriteFile(alice, "HELLO");  // same size, other content
  ASSERT_EQ(unlink(bob.c_str()), 0);
  ScrubFinding corrupt;
  corrupt.user = "alice";
  corrupt.path = "cur/1.h:2,S";
  ScrubFinding missing;
  missing.user = "bob";
  missing.path = "new/2.h";
  missing.missing = true;
  repairs_ = {corrupt, missing};
  const CycleOutcome o = cycle->Run(hooks_);
  ASSERT_TRUE(o.sync.ok()) << o.sync;
  EXPECT_EQ(ReadFile(alice), "hello");
  EXPECT_EQ(ReadFile(bob), "world");
  EXPECT_EQ(repaired_, 2u);
  // The corrupt copy is kept aside; the missing file had nothing to keep.
  EXPECT_EQ(quarantine_->Totals("t1").items, 1u);
}

TEST_F(CatchUpCycleTest, TheFirstCycleAfterTheSlotWasMasterSetsStrandedMailAside) {
  std::unique_ptr<CatchUpCycle> cycle = Cycle();
  ASSERT_TRUE(cycle->Run(hooks_).sync.ok());
  // Delivered here while this slot was master; the new master never had it.
  WriteFile(target_ + "/users/alice/new/9.h", "only here");
  ASSERT_TRUE(
      records_->Update("t1", [](SlotRecord* r) { r->set_stranded_check_pending(true); }).ok());
  ASSERT_TRUE(checkpoints_->Clear("t1").ok());  // as a role change does
  const CycleOutcome o = cycle->Run(hooks_);
  ASSERT_TRUE(o.sync.ok()) << o.sync;
  ExpectEqualTrees();
  EXPECT_EQ(quarantine_->Totals("t1").stranded, 1u);
  EXPECT_FALSE(records_->Get("t1").stranded_check_pending());
}

TEST_F(CatchUpCycleTest, AnUnknownSlotFailsTheCycleBeforeAnyCopy) {
  const CycleOutcome o = Cycle("t9")->Run(hooks_);
  EXPECT_TRUE(absl::IsNotFound(o.sync)) << o.sync;
  EXPECT_EQ(identity_pending_, 0);
  EXPECT_FALSE(Exists(target_ + "/users/alice"));
}

}  // namespace
}  // namespace slotkeeper::sync
