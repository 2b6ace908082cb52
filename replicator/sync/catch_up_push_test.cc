// CatchUpLoops with push replication: a real source (PeerCore behind gRPC
// on 127.0.0.1, real files, inotify) feeds a loop's ChangeFollower; the
// loop's cycles are recorded instead of syncing. Shows that an announced
// change starts a cycle of exactly the changed users at once (the whole
// catch-up's interval is an hour here), that too many pending users make a
// whole catch-up ("batch", said in the record), that the feed's caught-up
// moment keeps the replica in sync without whole catch-ups, and that the
// lag is the age of the oldest announced change not yet synced.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "replicator/sync/catch_up_loops.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(60);

// What each cycle was asked to do: the pushed users, or "*" for a whole
// catch-up. Every cycle succeeds and reports what it was given as synced
// (a whole one: the users the test says the master lists).
struct Recorder {
  absl::Mutex mu;
  std::vector<std::set<std::string>> cycles ABSL_GUARDED_BY(mu);
  bool fail ABSL_GUARDED_BY(mu) = false;
  v1::ListUsersResponse master_listing ABSL_GUARDED_BY(mu);

  CycleOutcome Run(Clock* clock, const v1::ListUsersResponse* pushed) {
    CycleOutcome outcome;
    outcome.started = clock->Monotonic();
    outcome.full = pushed == nullptr;
    absl::MutexLock lock(&mu);
    std::set<std::string> users;
    if (pushed == nullptr) {
      users.insert("*");
      outcome.synced = master_listing;
    } else {
      for (const v1::UserSummary& u : pushed->users()) users.insert(u.user());
      outcome.synced = *pushed;
    }
    cycles.push_back(users);
    outcome.sync = fail ? absl::UnavailableError("scripted failure") : absl::OkStatus();
    outcome.finished_ms = clock->NowMs();
    return outcome;
  }
  size_t Count() {
    absl::MutexLock lock(&mu);
    return cycles.size();
  }
  bool AwaitCycles(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return cycles.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), kPatience);
  }
  std::set<std::string> Cycle(size_t i) {
    absl::MutexLock lock(&mu);
    return cycles.at(i);
  }
};

class CatchUpPushTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    absl::StatusOr<Fd> root = OpenRootDir(source_);
    ASSERT_TRUE(root.ok());
    ASSERT_TRUE(WriteStoreMarker(root->get(), "st1", DefaultTargetFs()).ok());
    for (const char* user : {"alice", "bob", "carol"}) {
      for (const char* dir : {"cur", "new", "tmp"}) MkdirP(Msg(user, dir));
    }
    StartSource("inst-1");
    {
      absl::MutexLock lock(&recorder_.mu);
      recorder_.master_listing.set_instance_id("inst-1");
      for (const char* user : {"alice", "bob", "carol"}) {
        v1::UserSummary* u = recorder_.master_listing.add_users();
        u->set_user(user);
        u->set_generation(1'000'000);  // at least what the feed announced
      }
    }
    CatchUpLoopsDeps deps;
    deps.clock = &clock_;
    deps.interval = absl::Hours(1);
    deps.safety_net_interval = absl::Hours(1);
    deps.max_push_users = 2;
    deps.make_cycle = [this](const ReplicaAssignment&, const std::atomic<bool>*) -> CycleFn {
      return [this](const CycleHooks&, const v1::ListUsersResponse* pushed) {
        return recorder_.Run(&clock_, pushed);
      };
    };
    deps.make_follower = [this](const ReplicaAssignment& replica, const std::atomic<bool>* stop,
                                std::function<void()> wake) {
      return std::make_unique<ChangeFollower>(v1::ReplicaPeer::NewStub(channel_),
                                              replica.master_slot, replica.store, &clock_, stop,
                                              std::move(wake));
    };
    loops_ = std::make_unique<CatchUpLoops>(std::move(deps));
  }
  void TearDown() override {
    loops_.reset();
    SyncTest::TearDown();
  }

  void Deliver(const std::string& user, const std::string& name) {
    WriteFile(Msg(user, "tmp/" + name), "Subject: hi\n\nbody\n");
    ASSERT_EQ(rename(Msg(user, "tmp/" + name).c_str(), Msg(user, "new/" + name).c_str()), 0);
  }
  CatchUpRecord Record() {
    std::vector<LoopStatus> s = loops_->Status();
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? CatchUpRecord() : s[0].record;
  }
  // Waits (real time) until the loop's record satisfies `done`.
  bool RecordWhen(const std::function<bool(const CatchUpRecord&)>& done) {
    const absl::Time deadline = absl::Now() + kPatience;
    while (absl::Now() < deadline) {
      if (done(Record())) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  Recorder recorder_;
  std::unique_ptr<CatchUpLoops> loops_;
  const ReplicaAssignment replica_{"t1", "st1", "127.0.0.1:1", "s1"};
};

TEST_F(CatchUpPushTest, AnnouncedUsersAreSyncedAtOnceAndAlone) {
  ASSERT_TRUE(loops_->Assign(replica_).ok());
  // The first cycle is a whole catch-up; the feed's base (three users,
  // more than a push batch) is settled by it.
  ASSERT_TRUE(recorder_.AwaitCycles(1));
  EXPECT_EQ(recorder_.Cycle(0), std::set<std::string>{"*"});
  ASSERT_TRUE(RecordWhen([](const CatchUpRecord& r) {
    return r.feed_live && r.feed_caught_up_to.has_value();
  })) << "the base was synced by the whole catch-up";
  const size_t before = recorder_.Count();

  Deliver("bob", "1.host");
  ASSERT_TRUE(recorder_.AwaitCycles(before + 1)) << "no cycle: the feed did not wake the loop";
  // Without waiting for the hour: the loop was woken, for bob alone.
  for (size_t i = before; i < recorder_.Count(); ++i) {
    EXPECT_EQ(recorder_.Cycle(i), std::set<std::string>{"bob"});
  }
  ASSERT_TRUE(RecordWhen([](const CatchUpRecord& r) {
    return r.feed == "push" && !r.feed_oldest_pending.has_value();
  }));
  // Far past stale_after with no whole catch-up: the live feed keeps it in
  // sync, with no lag.
  clock_.Advance(absl::Minutes(10));
  // A heartbeat of the (fake-clocked) source renews the feed.
  ASSERT_TRUE(RecordWhen([this](const CatchUpRecord& r) {
    return r.feed_caught_up_to && *r.feed_caught_up_to >= clock_.Monotonic();
  }));
  const ReplicaVerdict v = JudgeReplica(Record(), clock_.Monotonic(), absl::Seconds(30));
  EXPECT_TRUE(v.in_sync) << v.why_not;
  EXPECT_EQ(v.lag_ms, 0);
}

TEST_F(CatchUpPushTest, TooManyPendingIsABatchCatchUp) {
  ASSERT_TRUE(loops_->Assign(replica_).ok());
  ASSERT_TRUE(RecordWhen([](const CatchUpRecord& r) { return r.feed_caught_up_to.has_value(); }));
  // Hold the next cycles' results back: the three users stay pending.
  {
    absl::MutexLock lock(&recorder_.mu);
    recorder_.fail = true;
  }
  const size_t before = recorder_.Count();
  Deliver("alice", "1.host");
  ASSERT_TRUE(recorder_.AwaitCycles(before + 1));
  Deliver("bob", "1.host");
  Deliver("carol", "1.host");
  // A failed push cycle is retried after the interval (an hour here).
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(RecordWhen([](const CatchUpRecord& r) { return r.feed == "batch"; }))
      << "three users pending, more than max_push_users (2): a whole catch-up, said so";
  EXPECT_TRUE(recorder_.Cycle(recorder_.Count() - 1).count("*"));
  // The lag meanwhile is the age of alice's change, which is not synced.
  clock_.Advance(absl::Seconds(7));
  // Once a heartbeat shows the feed alive at the new time.
  ASSERT_TRUE(
      RecordWhen([](const CatchUpRecord& r) { return r.feed_live && r.feed_oldest_pending; }));
  const CatchUpRecord r = Record();
  const ReplicaVerdict v = JudgeReplica(r, clock_.Monotonic(), absl::Hours(2));
  EXPECT_FALSE(v.in_sync);
  EXPECT_GE(v.lag_ms, 7000);
}

}  // namespace
}  // namespace slotkeeper::sync
