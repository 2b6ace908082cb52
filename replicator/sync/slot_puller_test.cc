// SlotPuller against a real source (PeerCore over gRPC on 127.0.0.1) into a
// real target slot, on a FakeClock: a task copies then verifies, a verify
// task reports what differs, a cancelled task says so, a final pull ends at
// its budget.
#include "replicator/sync/slot_puller.h"

#include <thread>

#include "gtest/gtest.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

class SlotPullerTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    cache_ = std::make_unique<RocksHashCache>(target_db_.get());
    quarantine_ = std::make_unique<QuarantineIndex>(target_db_.get());
    guards_ = std::make_unique<GuardStore>(target_db_.get());
    roots_ = std::make_unique<SlotRoots>(std::map<std::string, std::string>{{"t1", target_}});
    PullerDeps deps;
    deps.db = target_db_.get();
    deps.slots = roots_.get();
    deps.cache = cache_.get();
    deps.quarantine = quarantine_.get();
    deps.guards = guards_.get();
    deps.clock = &clock_;
    deps.fs = DefaultTargetFs();
    puller_ = std::make_unique<SlotPuller>(std::move(deps));
    WriteFile(Msg("alice", "cur/1.h:2,S"), "hello");
    WriteFile(Msg("bob", "new/2.h"), "world");
  }

  TaskSpec Spec(v1::TaskKind kind) {
    return TaskSpec{"t-1", kind, "", "t1", source_address_, "s1"};
  }

  std::unique_ptr<RocksHashCache> cache_;
  std::unique_ptr<QuarantineIndex> quarantine_;
  std::unique_ptr<GuardStore> guards_;
  std::unique_ptr<SlotRoots> roots_;
  std::unique_ptr<SlotPuller> puller_;
};

TEST_F(SlotPullerTest, ATaskCopiesThenVerifiesAndHandsOverTheVerification) {
  int progress = 0;
  std::vector<std::pair<absl::Duration, bool>> verified;
  std::atomic<bool> cancelled{false};
  const TaskOutcome o = puller_->RunTask(
      Spec(v1::TASK_RE_REPLICATE),
      [&](const std::string& id, const v1::TaskProgress&) {
        EXPECT_EQ(id, "t-1");
        ++progress;
      },
      [&](const TaskSpec& spec, absl::Duration started, const VerifyReport& report) {
        EXPECT_EQ(spec.source_address, source_address_);
        verified.emplace_back(started, report.consistent());
      },
      &cancelled);
  EXPECT_EQ(o.state, v1::TASK_DONE) << o.error;
  EXPECT_TRUE(o.verified);
  EXPECT_EQ(o.task_id, "t-1");
  EXPECT_EQ(o.progress.users_done(), 2u);
  EXPECT_GT(progress, 0);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_TRUE(verified[0].second);
  ExpectEqualTrees();
}

TEST_F(SlotPullerTest, AVerifyTaskCopiesNothingAndNamesTheFirstDifference) {
  std::atomic<bool> cancelled{false};
  bool handed_over = false;
  const TaskOutcome o = puller_->RunTask(
      Spec(v1::TASK_VERIFY), nullptr,
      [&](const TaskSpec&, absl::Duration, const VerifyReport& report) {
        handed_over = !report.consistent();
      },
      &cancelled);
  EXPECT_EQ(o.state, v1::TASK_FAILED);
  EXPECT_FALSE(o.verified);
  EXPECT_NE(o.error.find(" difference(s) after sync; first: alice/"), std::string::npos) << o.error;
  EXPECT_TRUE(handed_over);
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/1.h:2,S"));
}

TEST_F(SlotPullerTest, ATaskIntoAnUnknownSlotFailsAndACancelledOneSaysSo) {
  std::atomic<bool> cancelled{false};
  TaskSpec spec = Spec(v1::TASK_RE_REPLICATE);
  spec.target_slot = "t9";
  TaskOutcome o = puller_->RunTask(spec, nullptr, nullptr, &cancelled);
  EXPECT_EQ(o.state, v1::TASK_FAILED);
  EXPECT_NE(o.error.find("t9"), std::string::npos) << o.error;
  // The source hangs mid-transfer; the task's flag ends it.
  service_->fetch_after.Close();
  std::thread canceller([&] {
    service_->fetch_after.AwaitHeld(1);
    cancelled = true;
  });
  o = puller_->RunTask(Spec(v1::TASK_RE_REPLICATE), nullptr, nullptr, &cancelled);
  canceller.join();
  EXPECT_EQ(o.state, v1::TASK_CANCELLED) << o.error;
}

TEST_F(SlotPullerTest, AFinalPullCopiesEveryUserOrStopsAtItsBudget) {
  std::atomic<bool> cancelled{false};
  absl::Status s = puller_->FinalPull("", "t1", target_root_, source_address_, "s1",
                                      absl::Seconds(10), &cancelled);
  ASSERT_TRUE(s.ok()) << s;
  ExpectEqualTrees();
  // The source hangs: the pull ends when its budget of engine time is spent.
  service_->list_users.Close();
  std::thread clock_mover([&] {
    service_->list_users.AwaitHeld(1);
    clock_.Advance(absl::Seconds(11));
  });
  s = puller_->FinalPull("", "t1", target_root_, source_address_, "s1", absl::Seconds(10),
                         &cancelled);
  clock_mover.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_NE(s.message().find("when its 10s ran out"), std::string::npos) << s;
}

TEST_F(SlotPullerTest, OneChannelPerAddress) {
  EXPECT_EQ(puller_->ChannelTo(source_address_), puller_->ChannelTo(source_address_));
  EXPECT_NE(puller_->ChannelTo(source_address_), puller_->ChannelTo("127.0.0.1:1"));
}

}  // namespace
}  // namespace slotkeeper::sync
