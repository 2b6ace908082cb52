// CatchUpLoops: the rolling catch-up of the replica slots this host holds,
// one loop per assigned slot, each on a thread of its own running a cycle
// (catch_up_cycle.h) every `interval` (engine clock: a cycle starts
// `interval` after the previous one started, at once when that took
// longer), and what each loop has recorded (replica_status.h).
//
// Push replication: with make_follower, each loop also follows its master's
// change feed (change_follower.h). While the feed is live, the loop wakes
// as soon as users are announced and syncs exactly those (a push cycle);
// whole catch-ups then run only every safety_net_interval, or when more
// than max_push_users are pending (batch catch-up, reported as feed
// "batch"). Every `interval` without an announcement it still runs a push
// cycle of no user: the slot's identity check, which needs no master, and
// the scrub's repairs (which make that cycle a whole one) are never more
// than an interval late. Without a live feed the loop polls every
// `interval`.
//
// Never waiting on a source: Assign (replacing a loop), Unassign, Retire
// and Shutdown only set the loop's stop flag and return; the loop's calls
// in flight end within about 100 ms and its thread winds down on its own.
// A stopped loop is kept until its thread is joined (Reap). One loop writes
// into a slot at a time: a loop that replaces another on the same slot
// starts its first cycle once the old one has ended. AwaitStopped and
// AwaitAllEnded wait for stopped loops, up to a deadline (real time: a bound
// on local work whose calls are already cancelled).
//
// Thread-safe. Cycles run with no loop lock held; `on_retire` is called
// under the loops' lock and must not call back into them (the engine
// cancels the slot's scrub pass there).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_LOOPS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_LOOPS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "replicator/sync/catch_up_cycle.h"
#include "replicator/sync/change_follower.h"
#include "replicator/sync/replica_status.h"
#include "replicator/sync/scrub.h"
#include "replicator/sync/verify.h"

namespace slotkeeper::sync {

// Runs one cycle of a loop (a CatchUpCycle's Run outside tests); `pushed`:
// see CatchUpCycle::Run.
using CycleFn =
    std::function<CycleOutcome(const CycleHooks& hooks, const v1::ListUsersResponse* pushed)>;
// Makes a loop's follower of its master's change feed, on the loop's thread;
// `wake` tells the loop users are pending.
using FollowerFactory = std::function<std::unique_ptr<ChangeFollower>(
    const ReplicaAssignment& replica, const std::atomic<bool>* stop, std::function<void()> wake)>;
// Makes a loop's cycle, on the loop's thread before its first cycle;
// `stop` is the loop's flag.
using CycleFactory =
    std::function<CycleFn(const ReplicaAssignment& replica, const std::atomic<bool>* stop)>;

struct CatchUpLoopsDeps {
  Clock* clock = nullptr;  // not owned
  // Between whole catch-ups: `interval` while polling, `safety_net_interval`
  // while the master's change feed is live.
  absl::Duration interval = absl::Seconds(5);
  absl::Duration safety_net_interval = absl::Minutes(5);
  // More users pending than this: a whole catch-up ("batch") instead.
  size_t max_push_users = 256;
  CycleFactory make_cycle;
  // Empty: no push replication (every loop polls).
  FollowerFactory make_follower;
  // Work on the slot that follows its loop's master is to end: called under
  // the loops' lock by Retire (with or without a loop), by an Assign that
  // starts a loop (it may replace one), by Unassign and Shutdown.
  std::function<void(const std::string& slot)> on_retire;
};

// One loop as ReplicationStatus sees it.
struct LoopStatus {
  ReplicaAssignment replica;
  CatchUpRecord record;
};

class CatchUpLoops {
 public:
  explicit CatchUpLoops(CatchUpLoopsDeps deps) : deps_(std::move(deps)) {}
  // Shutdown(), then joins every thread, however long what remains takes.
  ~CatchUpLoops();
  CatchUpLoops(const CatchUpLoops&) = delete;
  CatchUpLoops& operator=(const CatchUpLoops&) = delete;

  // Starts a loop for `replica.slot`, replacing a loop with another
  // assignment; the same assignment again changes nothing.
  // FAILED_PRECONDITION after Shutdown.
  absl::Status Assign(const ReplicaAssignment& replica) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the slot's loop. NOT_FOUND when it has none.
  absl::Status Unassign(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the slot's loop if any (and tells on_retire); the assignment it
  // had and its record as it stopped.
  std::optional<LoopStatus> Retire(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until no stopped loop of `slot` still runs, or until `deadline`;
  // whether none does.
  bool AwaitStopped(const std::string& slot, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a loop stopped on `slot` may start again: the slot has no loop
  // and no Shutdown came.
  bool MayResume(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops every loop and refuses new ones.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until every stopped loop has ended, or until `deadline`.
  bool AwaitAllEnded(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the threads of stopped loops that ended and forgets them.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  // Every running loop's assignment and record now.
  std::vector<LoopStatus> Status() ABSL_LOCKS_EXCLUDED(mu_);
  // A corrupt file the scrub found on `slot`: its loop's next cycle moves it
  // aside and fetches it again. Ignored when the slot has no loop (the next
  // scrub pass finds it again).
  void AddRepair(const std::string& slot, const ScrubFinding& finding) ABSL_LOCKS_EXCLUDED(mu_);
  // A task verified `slot` against `source_address`/`source_slot`: recorded
  // (RecordVerification) when that is the slot's master.
  void NoteVerification(const std::string& slot, const std::string& source_address,
                        const std::string& source_slot, absl::Duration started,
                        const VerifyReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // A final pull into `slot` ended: recorded (RecordFinalPull) into the
  // record of the slot's loop, if it has one.
  void NoteFinalPull(const std::string& slot, const FinalPullOutcome& outcome)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every cycle's figures since the loops were made.
  CatchUpTotals Totals() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Loop {
    ReplicaAssignment replica;  // fixed
    CatchUpRecord record;       // guarded by mu_
    // The scrub's findings not yet taken by a cycle (guarded by mu_).
    std::vector<ScrubFinding> repairs;
    std::atomic<bool> stop{false};  // set under mu_
    bool wake = false;              // guarded by mu_; users are pending
    // The loop thread's follower while it has one (guarded by mu_; owned
    // by the thread).
    ChangeFollower* follower = nullptr;
    std::thread thread;
    bool finished = false;  // guarded by mu_; set by the thread as its last step
  };
  void Run(Loop* loop) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `next` (engine clock) or a wake; false once the loop is to
  // stop.
  bool AwaitNextCycle(Loop* loop, absl::Duration next) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs one cycle: the pushed users when the feed is live and has a small
  // enough batch and no whole catch-up is due, else a whole one; hands
  // what it synced to the follower and records it. The next whole
  // catch-up's time.
  absl::Duration RunCycle(Loop* loop, const CycleFn& cycle, const CycleHooks& hooks,
                          ChangeFollower* follower, absl::Duration next_full)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The record as Status shows it: with the follower's view merged in.
  CatchUpRecord RecordOf(const Loop& loop) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<LoopStatus> RetireLocked(const std::string& slot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool StoppedLoopInLocked(const std::string& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CatchUpLoopsDeps deps_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Loop>> loops_ ABSL_GUARDED_BY(mu_);
  // Loops told to stop, kept until their threads are joined.
  std::vector<std::unique_ptr<Loop>> retired_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CatchUpTotals totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_LOOPS_H_
