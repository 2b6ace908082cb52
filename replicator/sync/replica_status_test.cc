// The catch-up record from literal cases: what a cycle's outcome and a
// task's verification and a final pull write into it (RecordCycle,
// RecordVerification, RecordFinalPull), and
// when a replica is in sync and how its lag grows when it is not
// (JudgeReplica).
#include "replicator/sync/replica_status.h"

#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

constexpr absl::Duration kStale = absl::Seconds(30);

absl::Duration S(int seconds) { return absl::Seconds(seconds); }

// Assigned at 100 s; caught up by the cycle that started at 200 s, which
// saw a lag of 1.5 s.
CatchUpRecord CaughtUp() {
  CatchUpRecord r;
  r.assigned_at = S(100);
  r.caught_up_at = S(200);
  r.last_cycle_ok = true;
  r.listed_lag_ms = 1500;
  return r;
}

TEST(JudgeReplicaTest, NotInSyncBeforeACatchUpInThisProcess) {
  CatchUpRecord r;
  r.assigned_at = S(100);
  ReplicaVerdict v = JudgeReplica(r, S(100), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 0);
  EXPECT_NE(v.why_not.find("no catch-up has completed since the agent started"), std::string::npos);
  // The lag counts from the assignment and keeps growing.
  r.last_error = "ListUsers on source slot s1: no complete answer within 30s";
  v = JudgeReplica(r, S(145), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 45'000);
  EXPECT_NE(v.why_not.find("no complete answer within 30s"), std::string::npos) << v.why_not;
}

TEST(JudgeReplicaTest, InSyncRightAfterACatchUpWithTheListedLag) {
  const ReplicaVerdict v = JudgeReplica(CaughtUp(), S(205), kStale);
  EXPECT_TRUE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 1500);
  EXPECT_EQ(v.why_not, "");
  // Exactly at the limit it still is.
  EXPECT_TRUE(JudgeReplica(CaughtUp(), S(230), kStale).in_sync);
}

TEST(JudgeReplicaTest, AFailedCycleEndsInSyncAtOnce) {
  CatchUpRecord r = CaughtUp();
  r.last_cycle_ok = false;
  r.last_error = "FetchFiles of user alice from source slot s1: no data for 1m";
  const ReplicaVerdict v = JudgeReplica(r, S(210), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 10'000);  // since the last success started
  EXPECT_NE(v.why_not.find("the last catch-up did not complete: FetchFiles"), std::string::npos);
}

// A cycle that hangs (or runs long) ends in_sync once the last success is
// older than the limit, before the cycle itself fails.
TEST(JudgeReplicaTest, AStaleSuccessIsNotInSync) {
  const ReplicaVerdict v = JudgeReplica(CaughtUp(), S(231), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 31'000);
  EXPECT_NE(v.why_not.find("no catch-up has completed for 31s"), std::string::npos) << v.why_not;
  EXPECT_EQ(JudgeReplica(CaughtUp(), S(400), kStale).lag_ms, 200'000);
}

TEST(JudgeReplicaTest, TheListedLagStaysWhenItIsLarger) {
  CatchUpRecord r = CaughtUp();
  r.last_cycle_ok = false;
  r.listed_lag_ms = 90'000;
  EXPECT_EQ(JudgeReplica(r, S(210), kStale).lag_ms, 90'000);
}

TEST(JudgeReplicaTest, AFailedVerificationHoldsUntilOnePasses) {
  CatchUpRecord r = CaughtUp();
  r.verification_failed = true;
  r.last_error = "verification: 1 difference(s); first: alice/cur/1";
  const ReplicaVerdict v = JudgeReplica(r, S(201), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_NE(v.why_not.find("a verification found differences: verification: 1"), std::string::npos)
      << v.why_not;
}

// A complete cycle that started at `started`, listing a lag of 700 ms.
CycleOutcome Complete(int started) {
  CycleOutcome o;
  o.started = S(started);
  o.finished_ms = 1'800'000'000'000 + started * 1000;
  o.sync = absl::OkStatus();
  o.lag_ms = 700;
  return o;
}

TEST(RecordCycleTest, ACompleteCycleIsTheNewestCatchUp) {
  CatchUpRecord r = CaughtUp();
  r.last_error = "old";
  const CycleOutcome o = Complete(300);
  RecordCycle(o, &r);
  EXPECT_EQ(*r.caught_up_at, S(300));
  EXPECT_TRUE(r.last_cycle_ok);
  EXPECT_EQ(r.listed_lag_ms, 700);
  EXPECT_EQ(r.last_success_ms, o.finished_ms);
  EXPECT_EQ(r.last_error, "");
  EXPECT_TRUE(JudgeReplica(r, S(301), kStale).in_sync);
}

TEST(RecordCycleTest, APushCycleIsNoCatchUpOfEveryUser) {
  CatchUpRecord r = CaughtUp();
  CycleOutcome o = Complete(300);
  o.full = false;
  RecordCycle(o, &r);
  EXPECT_EQ(*r.caught_up_at, S(200)) << "only the announced users were synced";
  EXPECT_TRUE(r.last_cycle_ok);
}

// With a live feed, the feed's caught-up moment is a catch-up and the lag is
// the age of the oldest announced change not yet durable.
TEST(JudgeReplicaTest, ALiveFeedKeepsTheReplicaInSyncWithItsOwnLag) {
  CatchUpRecord r = CaughtUp();  // the last whole catch-up at 200 s
  r.feed_live = true;
  r.feed_caught_up_to = S(598);
  ReplicaVerdict v = JudgeReplica(r, S(600), kStale);
  EXPECT_TRUE(v.in_sync) << v.why_not;
  EXPECT_EQ(v.lag_ms, 0) << "nothing pending: the listed lag of 200 s ago is no more";
  r.feed_oldest_pending = S(597);
  v = JudgeReplica(r, S(600), kStale);
  EXPECT_TRUE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 3000);
  // A change that stays pending: the caught-up moment stays before it and
  // goes stale, and the lag keeps growing.
  v = JudgeReplica(r, S(640), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 43'000);
}

TEST(JudgeReplicaTest, AFeedThatIsNotLiveCountsForNothing) {
  CatchUpRecord r = CaughtUp();
  r.feed_live = false;
  r.feed_caught_up_to = S(598);
  r.feed_oldest_pending = S(597);
  const ReplicaVerdict v = JudgeReplica(r, S(600), kStale);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.lag_ms, 400'000) << "since the last whole catch-up";
}

TEST(JudgeReplicaTest, AFeedDoesNotHideAFailedCycleOrVerification) {
  CatchUpRecord r = CaughtUp();
  r.feed_live = true;
  r.feed_caught_up_to = S(598);
  r.last_cycle_ok = false;
  EXPECT_FALSE(JudgeReplica(r, S(600), kStale).in_sync);
  r.last_cycle_ok = true;
  r.verification_failed = true;
  EXPECT_FALSE(JudgeReplica(r, S(600), kStale).in_sync);
  r.verification_failed = false;
  r.identity_changed = true;
  EXPECT_FALSE(JudgeReplica(r, S(600), kStale).in_sync);
}

TEST(RecordCycleTest, AFailedSyncKeepsTheLastCatchUpAndTheLargestLag) {
  CatchUpRecord r = CaughtUp();  // listed 1.5 s
  r.last_success_ms = 5;
  CycleOutcome o = Complete(300);
  o.sync = absl::UnavailableError("ListUsers on source slot s1: connection refused");
  o.lag_ms = 0;
  RecordCycle(o, &r);
  EXPECT_EQ(*r.caught_up_at, S(200));
  EXPECT_FALSE(r.last_cycle_ok);
  EXPECT_EQ(r.listed_lag_ms, 1500);
  EXPECT_EQ(r.last_success_ms, 5);
  EXPECT_EQ(r.last_error, "ListUsers on source slot s1: connection refused");
  o.lag_ms = 9000;  // the listing came, a user failed later
  RecordCycle(o, &r);
  EXPECT_EQ(r.listed_lag_ms, 9000);
}

TEST(RecordCycleTest, BlockedUsersMakeTheCycleIncompleteThoughItSynced) {
  CatchUpRecord r = CaughtUp();
  CycleOutcome o = Complete(300);
  o.blocked_users = {"alice", "bob"};
  RecordCycle(o, &r);
  EXPECT_EQ(*r.caught_up_at, S(200));
  EXPECT_FALSE(r.last_cycle_ok);
  EXPECT_EQ(r.last_success_ms, o.finished_ms);
  EXPECT_EQ(r.blocked_users, o.blocked_users);
  EXPECT_EQ(r.last_error, "2 user(s) blocked by the mass-deletion guard");
}

TEST(RecordCycleTest, APendingVerificationHoldsTheReplicaOutOfSync) {
  CatchUpRecord r = CaughtUp();
  CycleOutcome o = Complete(300);
  o.verify_pending = true;
  o.verified = absl::DataLossError("after the slot's identity changed: 1 difference(s)");
  RecordCycle(o, &r);
  EXPECT_TRUE(r.identity_changed);
  EXPECT_FALSE(r.last_cycle_ok);
  EXPECT_EQ(*r.caught_up_at, S(200));
  EXPECT_NE(r.last_error.find("identity changed"), std::string::npos);
  EXPECT_FALSE(JudgeReplica(r, S(301), kStale).in_sync);
  // The verification passed in a later cycle.
  RecordCycle(Complete(305), &r);
  EXPECT_FALSE(r.identity_changed);
  EXPECT_EQ(*r.caught_up_at, S(305));
}

TEST(RecordVerificationTest, OnlyAPassingVerificationCountsAsACatchUp) {
  CatchUpRecord r = CaughtUp();
  VerifyReport differs;
  differs.differences.push_back({Difference::kContentDiffers, "alice/cur/1"});
  RecordVerification(differs, S(250), &r);
  EXPECT_TRUE(r.verification_failed);
  EXPECT_EQ(r.last_error, "verification: 1 difference(s); first: alice/cur/1");
  EXPECT_EQ(*r.caught_up_at, S(200));
  RecordVerification(VerifyReport(), S(260), &r);
  EXPECT_FALSE(r.verification_failed);
  EXPECT_TRUE(r.last_cycle_ok);
  EXPECT_EQ(r.last_error, "");
  EXPECT_EQ(*r.caught_up_at, S(260));
  // An older verification does not move the catch-up back.
  RecordVerification(VerifyReport(), S(240), &r);
  EXPECT_EQ(*r.caught_up_at, S(260));
}

// A pull that ended at 400 s after starting at 390 s, from the slot the
// resumed loop follows.
FinalPullOutcome CompletePull() {
  FinalPullOutcome o;
  o.started = S(390);
  o.finished_ms = 1'700'000'400'000;
  o.pull = absl::OkStatus();
  o.source_slot = "s1";
  return o;
}

// The record of a loop that resumed after the pull: assigned at 400 s, no
// catch-up yet.
CatchUpRecord Resumed() {
  CatchUpRecord r;
  r.assigned_at = S(400);
  r.listed_lag_ms = 800;
  r.last_error = "old";
  return r;
}

TEST(RecordFinalPullTest, OnlyACompletePullFromTheFollowedSlotIsACatchUp) {
  struct Case {
    const char* name;
    FinalPullOutcome outcome;
    bool caught_up;
  };
  FinalPullOutcome failed = CompletePull();
  failed.pull = absl::DeadlineExceededError("final pull: budget of 30s spent");
  FinalPullOutcome other_slot = CompletePull();
  other_slot.source_slot = "s2";
  FinalPullOutcome pending = CompletePull();
  pending.verify_pending = true;
  const Case cases[] = {
      {"complete", CompletePull(), true},
      {"failed", failed, false},
      {"from another slot", other_slot, false},
      {"verification pending", pending, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CatchUpRecord r = Resumed();
    RecordFinalPull(c.outcome, "s1", &r);
    EXPECT_EQ(JudgeReplica(r, S(401), kStale).in_sync, c.caught_up);
    if (c.caught_up) {
      EXPECT_EQ(*r.caught_up_at, S(390));
      EXPECT_TRUE(r.last_cycle_ok);
      EXPECT_EQ(r.listed_lag_ms, 0);
      EXPECT_EQ(r.last_success_ms, c.outcome.finished_ms);
      EXPECT_EQ(r.last_error, "");
    } else {
      EXPECT_FALSE(r.caught_up_at.has_value());
      EXPECT_FALSE(r.last_cycle_ok);
      EXPECT_EQ(r.listed_lag_ms, 800);
      EXPECT_EQ(r.last_success_ms, 0);
      EXPECT_EQ(r.last_error, "old");
    }
  }
}

TEST(RecordFinalPullTest, AFailedVerificationOfThePausedLoopStillHolds) {
  FinalPullOutcome o = CompletePull();
  o.verification_failed = true;
  CatchUpRecord r = Resumed();
  RecordFinalPull(o, "s1", &r);
  EXPECT_EQ(*r.caught_up_at, S(390));
  EXPECT_TRUE(r.verification_failed);
  EXPECT_FALSE(JudgeReplica(r, S(401), kStale).in_sync);
}

TEST(RecordFinalPullTest, ACatchUpOfTheResumedLoopIsKept) {
  CatchUpRecord r = Resumed();
  r.caught_up_at = S(402);
  r.last_cycle_ok = true;
  r.last_success_ms = 7;
  RecordFinalPull(CompletePull(), "s1", &r);
  EXPECT_EQ(*r.caught_up_at, S(402));
  EXPECT_EQ(r.listed_lag_ms, 800);
  EXPECT_EQ(r.last_success_ms, 7);
}

}  // namespace
}  // namespace slotkeeper::sync
