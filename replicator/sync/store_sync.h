// Store-level sync: every user of a store from a source slot (over
// ReplicaPeer) into a target slot, several users at once.
//
// A run lists the source's users with their generations, then skips every
// user whose checkpoint (checkpoint_store.h) equals its current (instance
// id, generation) without walking either tree: a killed task resumes
// without re-copying finished users, and a no-change re-sync is nearly
// free. A user whose checkpoint is from the same source instance asks for a
// delta manifest since that generation (several users per GetManifests
// call); the others take the full path (user_sync.h). The generation is
// taken before the user's manifest is read, so a change during the sync
// leaves the checkpoint behind and the next run looks again.
//
// Group commit: finished users are committed in groups
// (options.commit_group_users): one syncfs makes the group's staged small
// fetches durable, they are renamed into place, one more syncfs makes every
// rename of the group durable, then the checkpoints are written. A
// checkpoint never claims a sync the disk does not hold; a crash costs at
// most a re-walk of the last group, which fetches nothing twice. A user
// counts as done once committed.
//
// Users that exist only on the target are left alone (removing a whole user
// is for an operator, not for a sync). Blocked users (mass-deletion guard)
// are reported and not checkpointed.
//
// The target slot gets its instance file when it has none (slot_layout.h
// EnsureSlotIdentity), and every checkpoint names the slot's identity and
// the source slot: a checkpoint of an emptied or replaced copy, or of
// another source, never lets a user be skipped; nor does one of a user
// whose directory is gone.
//
// Thread-safety: SyncStore is safe to run for distinct target slots at
// once; the progress callback is called from worker threads, one call at a
// time.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_
#define SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "proto/peer.pb.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/replica_context.h"
#include "replicator/sync/target_fs.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

struct StoreSyncOptions {
  SyncOptions user;
  int parallel_users = 4;
  uint64_t bandwidth_bytes_per_second = 0;  // 0 = unlimited
  std::string only_user;                    // empty = all users
  bool use_checkpoints = true;
  // Users committed together (one or two syncfs, then their checkpoints). A
  // user counts as done once committed: larger groups mean fewer flushes,
  // smaller ones finer resumption and progress.
  size_t commit_group_users = 16;
  // Users whose delta manifests are asked for in one GetManifests call (a
  // worker then syncs them one after the other). 1: one GetManifest each.
  size_t delta_batch_users = 8;
};

using ProgressCallback = std::function<void(const v1::TaskProgress&)>;

// Everything one store sync works with. Nothing is owned; every pointer
// must outlive the call.
struct StoreSyncContext {
  const PeerClient* source = nullptr;  // the source slot
  // Checked against the source's marker and written on the target; may be
  // empty (no check, no marker).
  std::string store;
  int target_root = -1;     // the target slot's root directory
  std::string target_slot;  // its name: checkpoint and hash-cache scope
  StoreSyncOptions options;
  // Checkpoints and the target's hash cache; may be null (neither).
  rocksdb::DB* db = nullptr;
  TargetFs* fs = nullptr;
  Clock* clock = nullptr;
  ProgressCallback progress;                     // may be empty
  const std::atomic<bool>* cancelled = nullptr;  // may be null
  SyncCounters* counters = nullptr;              // required
  // The target's quarantine listing and the guard's memory; null with a db:
  // SyncStore makes its own over `db` (a long-lived caller passes its own,
  // whose totals then stay right).
  QuarantineIndex* quarantine_index = nullptr;
  GuardStore* guards = nullptr;
  // The first complete sync of a slot that was master: see
  // UserSyncContext::stranded_check. `deleted_at_source` may be null.
  bool stranded_check = false;
  const std::map<std::string, std::set<std::string>>* deleted_at_source = nullptr;
  // The users to sync, as the source's change feed announced them
  // (change_follower.h): no ListUsers call; only these users, at least at
  // these generations. Null: list the source.
  const v1::ListUsersResponse* given_listing = nullptr;
};

struct StoreSyncResult {
  v1::TaskProgress progress;
  uint64_t users_skipped_unchanged = 0;
  std::vector<std::string> blocked_users;
  std::vector<std::string> failed_users;  // "user: error"
  std::string source_instance_id;
  // Replication lag: source time minus the oldest pending change among
  // users not synced in this run (0 when none), from ListUsers.
  int64_t lag_ms = 0;
  // The ListUsers answer this sync worked from; set only when SyncStore
  // returns OK.
  v1::ListUsersResponse listing;
};

// Runs the sync. Returns the result when every user was synced or blocked;
// an error (with the result's counts lost) when the source could not be
// listed; ABORTED / CANCELLED / the first user's error when some user
// failed, after finishing the others. Once the source does not answer
// (SourceUnreachable: UNAVAILABLE, DEADLINE_EXCEEDED) no further user is
// started: each would wait out the same time limit. `partial` (may be null)
// receives the result whenever the users' syncs ran, also when some of them
// failed.
absl::StatusOr<StoreSyncResult> SyncStore(const StoreSyncContext& ctx,
                                          StoreSyncResult* partial = nullptr);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_
