// CatchUpCycle: one catch-up of one replica slot from its master, as its
// loop (catch_up_loops.h) runs it every interval:
//   1. identity (slot_layout.h): the slot's identity is compared with the
//      recorded one; a change (the slot emptied, replaced or mounted over)
//      voids its checkpoints and hash cache entries and leaves a
//      verification pending, recorded so that it outlives a restart;
//   2. repairs: the files the scrub found corrupt are moved aside (a
//      missing file has nothing to move) and their users' checkpoints
//      forgotten, so that this cycle's sync fetches them again;
//   3. the store sync, which on the first complete cycle after the slot
//      stopped being master also looks for stranded mail (its messages the
//      new master lacks and does not list as deleted);
//   4. after an identity change, a verification of the whole slot against
//      the master once a sync completed; it passing accepts the identity;
//   5. the outcome (replica_status.h), which the loop records.
// A cycle of pushed users (change_follower.h) runs steps 1 and 3 for those
// users only; a slot with repairs, a stranded-mail check or a verification
// pending gets a whole cycle instead.
//
// One object per loop: it keeps the client of the master and the repairs
// awaiting a complete cycle. Run is called from the loop's thread only; it
// waits for the master, bounded by the peer time limits and the loop's stop
// flag (its calls in flight end within about 100 ms of the flag being set).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_CYCLE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_CYCLE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/replica_status.h"
#include "replicator/sync/scrub.h"
#include "replicator/sync/slot_puller.h"
#include "replicator/sync/slot_records.h"
#include "replicator/sync/slot_roots.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

// A replica slot of this host and the master it follows.
struct ReplicaAssignment {
  std::string slot;
  std::string store;
  std::string master_address;
  std::string master_slot;
  bool operator==(const ReplicaAssignment& o) const {
    return slot == o.slot && store == o.store && master_address == o.master_address &&
           master_slot == o.master_slot;
  }
};

// What a cycle asks of its loop while it runs (called with no lock held).
struct CycleHooks {
  // The scrub's findings on the slot since they were last taken.
  std::function<std::vector<ScrubFinding>()> take_repairs;
  // The slot's identity changed: it is out of sync from this moment, not
  // only once the cycle ends.
  std::function<void()> identity_pending;
};

// What a cycle works with. Nothing is owned; all must outlive it.
struct CycleDeps {
  SlotPuller* puller = nullptr;
  SlotRoots* slots = nullptr;
  SlotRecords* records = nullptr;
  CheckpointStore* checkpoints = nullptr;
  RocksHashCache* cache = nullptr;
  QuarantineIndex* quarantine = nullptr;
  Clock* clock = nullptr;
  TargetFs* fs = nullptr;
  // `files` of the scrub's findings on `slot` are back (ScrubRunner).
  std::function<void(const std::string& slot, uint64_t files)> on_repaired;
};

class CatchUpCycle {
 public:
  // Connects to the replica's master; `stop` (the loop's flag) ends every
  // call to it.
  CatchUpCycle(CycleDeps deps, ReplicaAssignment replica, const std::atomic<bool>* stop);

  // One cycle. With `pushed` (users the master's change feed announced),
  // only those users are synced, without listing the master, unless the
  // slot needs a whole catch-up anyway (repairs, a stranded-mail check, a
  // verification pending): then the cycle is a whole one
  // (CycleOutcome.full).
  CycleOutcome Run(const CycleHooks& hooks, const v1::ListUsersResponse* pushed = nullptr);

 private:
  // Steps 2 to 4 on the slot's root `fd`; `outcome` has the identity's
  // verdict (verify_pending) and receives the rest.
  void SyncAndVerify(int fd, const CycleHooks& hooks, const v1::ListUsersResponse* pushed,
                     CycleOutcome* outcome);
  // Whether a verification is pending (the identity changed, now or in an
  // earlier cycle).
  absl::StatusOr<bool> CheckIdentity(int root);
  void StartRepairs(const std::vector<ScrubFinding>& repairs, const SlotQuarantine& quarantine);
  // Counts the repairs of the cycle that completed: the files are back.
  void FinishRepairs(int root);
  absl::Status VerifyAfterIdentityChange(int root);

  const CycleDeps deps_;
  const ReplicaAssignment replica_;
  const std::atomic<bool>* const stop_;
  const SlotPuller::Source master_;
  // Files moved aside for repair, awaiting a complete cycle.
  std::vector<ScrubFinding> repairing_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CATCH_UP_CYCLE_H_
