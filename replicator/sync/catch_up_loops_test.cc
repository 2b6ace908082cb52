// CatchUpLoops with scripted cycles on a FakeClock: cycles every interval,
// their outcomes recorded, one loop per slot at a time, stopping that never
// waits for a cycle, the scrub's repairs, tasks' verifications and final
// pulls handed to the right loop.
#include "replicator/sync/catch_up_loops.h"

#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

// Cycles the test controls. A cycle reports the identity change when told,
// waits at the gate (or, unless it ignores its stop flag, until its loop is
// stopped: a cycle whose calls are cancelled), then takes the repairs and
// returns a complete outcome.
struct Script {
  absl::Mutex mu;
  bool gate_open ABSL_GUARDED_BY(mu) = true;
  bool ignore_stop ABSL_GUARDED_BY(mu) = false;
  bool report_identity ABSL_GUARDED_BY(mu) = false;
  int made ABSL_GUARDED_BY(mu) = 0;
  int waiting ABSL_GUARDED_BY(mu) = 0;  // cycles at the gate now
  int cycles ABSL_GUARDED_BY(mu) = 0;   // cycles that returned
  std::vector<ReplicaAssignment> assignments ABSL_GUARDED_BY(mu);
  std::vector<ScrubFinding> repairs ABSL_GUARDED_BY(mu);

  void SetGate(bool open) {
    absl::MutexLock lock(&mu);
    gate_open = open;
  }
  // Waits until `done` holds (real time, at most a minute).
  bool AwaitUntil(const std::function<bool()>& done) {
    absl::MutexLock lock(&mu);
    auto holds = [&done]() { return done(); };
    return mu.AwaitWithTimeout(absl::Condition(&holds), absl::Seconds(60));
  }

  CycleOutcome Run(Clock* clock, const std::atomic<bool>* stop, const CycleHooks& hooks) {
    CycleOutcome outcome;
    outcome.started = clock->Monotonic();
    bool identity = false;
    {
      absl::MutexLock lock(&mu);
      identity = report_identity;
    }
    if (identity) hooks.identity_pending();
    {
      absl::MutexLock lock(&mu);
      ++waiting;
      auto pass = [this, stop]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return gate_open || (!ignore_stop && stop->load());
      };
      while (!mu.AwaitWithTimeout(absl::Condition(&pass), absl::Milliseconds(10))) {
      }
      --waiting;
    }
    std::vector<ScrubFinding> taken = hooks.take_repairs();
    absl::MutexLock lock(&mu);
    for (ScrubFinding& f : taken) repairs.push_back(std::move(f));
    ++cycles;
    outcome.sync = stop->load() ? absl::CancelledError("stopped") : absl::OkStatus();
    outcome.lag_ms = 40;
    outcome.finished_ms = clock->NowMs();
    outcome.bytes_received = 1000;
    outcome.files_copied = 3;
    return outcome;
  }
};

class CatchUpLoopsTest : public ::testing::Test {
 protected:
  CatchUpLoopsTest() {
    CatchUpLoopsDeps deps;
    deps.clock = &clock_;
    deps.interval = absl::Seconds(5);
    deps.make_cycle = [this](const ReplicaAssignment& replica,
                             const std::atomic<bool>* stop) -> CycleFn {
      {
        absl::MutexLock lock(&script_.mu);
        ++script_.made;
        script_.assignments.push_back(replica);
      }
      return [this, stop](const CycleHooks& hooks, const v1::ListUsersResponse*) {
        return script_.Run(&clock_, stop, hooks);
      };
    };
    deps.on_retire = [this](const std::string& slot) {
      absl::MutexLock lock(&retired_mu_);
      retired_.push_back(slot);
    };
    loops_ = std::make_unique<CatchUpLoops>(std::move(deps));
  }
  void TearDown() override {
    {
      absl::MutexLock lock(&script_.mu);
      script_.ignore_stop = false;
    }
    script_.SetGate(true);
    loops_.reset();
  }

  // The record of `slot`'s loop once `done` holds for it (a minute at most).
  std::optional<CatchUpRecord> RecordWhen(const std::string& slot,
                                          const std::function<bool(const CatchUpRecord&)>& done) {
    for (int i = 0; i < 60000; ++i) {
      for (const LoopStatus& s : loops_->Status()) {
        if (s.replica.slot == slot && done(s.record)) return s.record;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    return std::nullopt;
  }

  const ReplicaAssignment a_{"slot7", "store-a", "10.0.0.1:7001", "slot1"};
  const ReplicaAssignment b_{"slot7", "store-a", "10.0.0.2:7001", "slot4"};
  FakeClock clock_;
  Script script_;
  absl::Mutex retired_mu_;
  std::vector<std::string> retired_ ABSL_GUARDED_BY(retired_mu_);
  std::unique_ptr<CatchUpLoops> loops_;
};

TEST_F(CatchUpLoopsTest, ACycleRunsEveryIntervalOfTheEngineClockAndIsRecorded) {
  clock_.Advance(absl::Seconds(100));
  ASSERT_TRUE(loops_->Assign(a_).ok());
  std::optional<CatchUpRecord> r =
      RecordWhen("slot7", [](const CatchUpRecord& c) { return c.caught_up_at.has_value(); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->assigned_at, absl::Seconds(100));
  EXPECT_EQ(*r->caught_up_at, absl::Seconds(100));
  EXPECT_TRUE(r->last_cycle_ok);
  EXPECT_EQ(r->listed_lag_ms, 40);
  clock_.Advance(absl::Seconds(5));
  r = RecordWhen("slot7", [](const CatchUpRecord& c) {
    return c.caught_up_at && *c.caught_up_at == absl::Seconds(105);
  });
  ASSERT_TRUE(r.has_value());
  absl::MutexLock lock(&script_.mu);
  EXPECT_EQ(script_.made, 1);  // one cycle object per loop
}

TEST_F(CatchUpLoopsTest, TotalsSumEveryRecordedCycle) {
  EXPECT_EQ(loops_->Totals().cycles_ok, 0u);
  ASSERT_TRUE(loops_->Assign(a_).ok());
  ASSERT_TRUE(
      RecordWhen("slot7", [](const CatchUpRecord& c) { return c.caught_up_at.has_value(); }));
  const CatchUpTotals t = loops_->Totals();
  EXPECT_GE(t.cycles_ok, 1u);
  EXPECT_EQ(t.cycles_failed, 0u);
  EXPECT_EQ(t.bytes_received, 1000 * t.cycles_ok);
  EXPECT_EQ(t.files_copied, 3 * t.cycles_ok);
}

TEST_F(CatchUpLoopsTest, TheSameAssignmentKeepsItsLoopAnotherStartsOnceTheOldLoopEnded) {
  {
    absl::MutexLock lock(&script_.mu);
    script_.gate_open = false;
    script_.ignore_stop = true;  // a cycle busy with local work
  }
  ASSERT_TRUE(loops_->Assign(a_).ok());
  ASSERT_TRUE(script_.AwaitUntil([this] { return script_.waiting == 1; }));
  ASSERT_TRUE(loops_->Assign(a_).ok());
  // Returns while the old loop's cycle goes on.
  ASSERT_TRUE(loops_->Assign(b_).ok());
  std::vector<LoopStatus> status = loops_->Status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].replica, b_);
  EXPECT_FALSE(loops_->AwaitStopped("slot7", absl::Now() + absl::Milliseconds(20)));
  {
    absl::MutexLock lock(&script_.mu);
    EXPECT_EQ(script_.made, 1);  // the new loop has not started copying
  }
  script_.SetGate(true);
  ASSERT_TRUE(script_.AwaitUntil([this] { return script_.made == 2; }));
  EXPECT_TRUE(loops_->AwaitStopped("slot7", absl::InfiniteFuture()));
  absl::MutexLock lock(&script_.mu);
  EXPECT_EQ(script_.assignments.back(), b_);
}

TEST_F(CatchUpLoopsTest, UnassignReturnsWhileACycleWaitsAndTheLoopEndsOnItsFlag) {
  script_.SetGate(false);
  ASSERT_TRUE(loops_->Assign(a_).ok());
  ASSERT_TRUE(script_.AwaitUntil([this] { return script_.waiting == 1; }));
  ASSERT_TRUE(loops_->Unassign("slot7").ok());
  EXPECT_TRUE(loops_->Status().empty());
  EXPECT_TRUE(loops_->AwaitAllEnded(absl::InfiniteFuture()));
  loops_->Reap();
  EXPECT_TRUE(absl::IsNotFound(loops_->Unassign("slot7")));
  EXPECT_TRUE(loops_->MayResume("slot7"));
  // Told at the assignment (a scrub pass against an earlier master ends)
  // and at the unassignment; not for the refused second one.
  absl::MutexLock lock(&retired_mu_);
  EXPECT_EQ(retired_, (std::vector<std::string>{"slot7", "slot7"}));
}

// on_retire hears of every slot whose loop stops or may have: at Retire
// (with or without a loop) and at an assignment (an old loop replaced).
TEST_F(CatchUpLoopsTest, RetireGivesTheAssignmentAndRecordAndTellsEvenWithoutALoop) {
  EXPECT_FALSE(loops_->Retire("slot9").has_value());
  script_.SetGate(false);  // no cycle completes
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(loops_->Assign(a_).ok());
  VerifyReport differs;
  differs.differences.push_back({Difference::kMissingOnReplica, "alice/cur/1"});
  loops_->NoteVerification("slot7", a_.master_address, a_.master_slot, absl::Seconds(31), differs);
  std::optional<LoopStatus> retired = loops_->Retire("slot7");
  ASSERT_TRUE(retired.has_value());
  EXPECT_EQ(retired->replica, a_);
  EXPECT_EQ(retired->record.assigned_at, absl::Seconds(30));
  EXPECT_TRUE(retired->record.verification_failed);
  absl::MutexLock lock(&retired_mu_);
  EXPECT_EQ(retired_, (std::vector<std::string>{"slot9", "slot7", "slot7"}));
}

TEST_F(CatchUpLoopsTest, AnIdentityChangeShowsWhileTheCycleRunsAndRepairsReachIt) {
  {
    absl::MutexLock lock(&script_.mu);
    script_.gate_open = false;
    script_.report_identity = true;
  }
  ASSERT_TRUE(loops_->Assign(a_).ok());
  ASSERT_TRUE(script_.AwaitUntil([this] { return script_.waiting == 1; }));
  std::vector<LoopStatus> status = loops_->Status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].record.identity_changed);
  ScrubFinding f;
  f.user = "alice";
  f.path = "cur/1";
  loops_->AddRepair("slot7", f);
  loops_->AddRepair("slot8", f);  // no loop: dropped
  script_.SetGate(true);
  // The outcome had no verification pending: the record says so.
  ASSERT_TRUE(RecordWhen("slot7", [](const CatchUpRecord& c) {
                return c.last_cycle_ok && !c.identity_changed;
              }).has_value());
  absl::MutexLock lock(&script_.mu);
  ASSERT_EQ(script_.repairs.size(), 1u);
  EXPECT_EQ(script_.repairs[0].user, "alice");
}

TEST_F(CatchUpLoopsTest, OnlyAVerificationAgainstTheSlotsMasterCounts) {
  script_.SetGate(false);  // no cycle completes
  ASSERT_TRUE(loops_->Assign(a_).ok());
  VerifyReport same;
  loops_->NoteVerification("slot7", "10.0.0.9:7001", "slot1", absl::Seconds(7), same);
  loops_->NoteVerification("slot8", a_.master_address, a_.master_slot, absl::Seconds(7), same);
  ASSERT_EQ(loops_->Status().size(), 1u);
  EXPECT_FALSE(loops_->Status()[0].record.caught_up_at.has_value());
  loops_->NoteVerification("slot7", a_.master_address, a_.master_slot, absl::Seconds(7), same);
  CatchUpRecord r = loops_->Status()[0].record;
  ASSERT_TRUE(r.caught_up_at.has_value());
  EXPECT_EQ(*r.caught_up_at, absl::Seconds(7));
  VerifyReport differs;
  differs.differences.push_back({Difference::kMissingOnReplica, "alice/cur/1"});
  loops_->NoteVerification("slot7", a_.master_address, a_.master_slot, absl::Seconds(8), differs);
  EXPECT_TRUE(loops_->Status()[0].record.verification_failed);
}

TEST_F(CatchUpLoopsTest, AFinalPullReachesTheSlotsLoopAsRecordFinalPullHasIt) {
  script_.SetGate(false);  // no cycle completes
  ASSERT_TRUE(loops_->Assign(a_).ok());
  FinalPullOutcome pull;
  pull.started = absl::Seconds(9);
  pull.finished_ms = 1234;
  pull.pull = absl::OkStatus();
  pull.source_slot = "slot4";  // not the slot the loop follows
  loops_->NoteFinalPull("slot7", pull);
  pull.source_slot = a_.master_slot;
  loops_->NoteFinalPull("slot8", pull);  // no loop there
  ASSERT_EQ(loops_->Status().size(), 1u);
  EXPECT_FALSE(loops_->Status()[0].record.caught_up_at.has_value());
  loops_->NoteFinalPull("slot7", pull);
  CatchUpRecord r = loops_->Status()[0].record;
  ASSERT_TRUE(r.caught_up_at.has_value());
  EXPECT_EQ(*r.caught_up_at, absl::Seconds(9));
  EXPECT_TRUE(r.last_cycle_ok);
  EXPECT_EQ(r.last_success_ms, 1234);
}

TEST_F(CatchUpLoopsTest, ShutdownStopsEveryLoopAndRefusesNewOnes) {
  script_.SetGate(false);
  ASSERT_TRUE(loops_->Assign(a_).ok());
  ReplicaAssignment other = a_;
  other.slot = "slot8";
  ASSERT_TRUE(loops_->Assign(other).ok());
  loops_->Shutdown();
  EXPECT_TRUE(loops_->Status().empty());
  EXPECT_TRUE(loops_->AwaitAllEnded(absl::InfiniteFuture()));
  EXPECT_TRUE(absl::IsFailedPrecondition(loops_->Assign(a_)));
  EXPECT_FALSE(loops_->MayResume("slot7"));
}

}  // namespace
}  // namespace slotkeeper::sync
