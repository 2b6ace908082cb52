// Store-level sync: every user of a store from a source slot (over
// ReplicaPeer) into a target slot, several users at once.
//
// Per-user checkpoints live in RocksDB: after a user is synced without error
// the (source instance id, generation listed by ListUsers) is recorded, in
// groups of users (options.commit_group_users, 16) committed together: one
// syncfs makes the group's staged small fetches durable, they are renamed
// into place, one more syncfs makes every rename of the group durable, then
// the checkpoints are written (so a checkpoint never claims a sync the disk
// does not hold; a crash costs at most a re-walk of the last group, which
// fetches nothing twice). A user counts as done once committed. A
// later run skips every user whose current (instance id, generation) equals
// its checkpoint without walking either tree: that makes a killed task resume
// without re-copying finished users, and a no-change re-sync nearly free.
// A generation is taken before the user's manifest is read, so a change
// during the sync leaves the checkpoint behind and the next run looks again.
// With options.user.use_delta, a user whose checkpoint is from the same
// source instance asks for a delta manifest since that generation (see
// SyncUser); the checkpoint rules are the same for both paths.
//
// Users that exist only on the target are left alone (removing a whole user
// is for an operator, not for a sync). Blocked users (mass-deletion guard)
// are reported and not checkpointed.
//
// SyncStore is thread-safe for distinct target slots; the progress callback
// is called from worker threads, one call at a time.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_
#define SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/user_sync.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

// (instance id, generation) a user was synced at, per target slot.
// Does not own `db`. Thread-safe.
class CheckpointStore {
 public:
  explicit CheckpointStore(rocksdb::DB* db) : db_(db) {}
  struct Checkpoint {
    std::string instance_id;
    uint64_t generation = 0;
  };
  std::optional<Checkpoint> Get(const std::string& target_slot, const std::string& user);
  absl::Status Put(const std::string& target_slot, const std::string& user,
                   const Checkpoint& checkpoint);
  // Forgets every checkpoint of a slot (it was released or wiped).
  absl::Status Clear(const std::string& target_slot);

 private:
  rocksdb::DB* db_;
};

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

struct StoreSyncRequest {
  v1::ReplicaPeer::StubInterface* stub = nullptr;  // not owned
  std::string source_slot;
  std::string store;  // checked against the source's marker, written on the
                      // target; may be empty (no check, no marker)
  int target_root = -1;
  std::string target_slot;
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
  // ListingDigest of the ListUsers answer this sync worked from.
  std::string listing_digest;
};

using ProgressCallback = std::function<void(const v1::TaskProgress&)>;

// A digest of a ListUsers answer: the source instance and every user's name
// and generation. Equal digests mean that no user changed in between.
std::string ListingDigest(const v1::ListUsersResponse& listed);

// The digest of the listing the last complete sync into a state directory
// worked from (every user synced, none blocked or failed), kept in a file
// there: a one-shot tool compares it with a fresh listing before opening
// its database at all. The checkpoints stay authoritative; this is only a
// summary of them. ReadLastListing gives "" when there is none;
// WriteLastListing replaces it atomically; ClearLastListing removes it
// (before a sync that may not complete).
std::string ReadLastListing(const std::string& state_dir);
absl::Status WriteLastListing(const std::string& state_dir, const std::string& digest);
absl::Status ClearLastListing(const std::string& state_dir);

// The cheap pre-check: whether every listed user (or `only_user`) is at its
// checkpointed (instance id, generation) for `target_slot`, so the caller
// may skip the sync without even opening its database for writing. Sets
// `*users` to the number of users considered.
bool AllUsersAtCheckpoint(const v1::ListUsersResponse& listed, const std::string& target_slot,
                          const std::string& only_user, CheckpointStore* checkpoints,
                          uint64_t* users);

// Runs the sync. `db` holds checkpoints and the target's hash cache (not
// owned, may be null: no checkpoints, no cache). Returns the result when
// every user was synced or blocked; an error (with the result's counts lost)
// when the source could not be listed; ABORTED / CANCELLED / the first
// user's error when some user failed, after finishing the others.
absl::StatusOr<StoreSyncResult> SyncStore(
    const StoreSyncRequest& request, const StoreSyncOptions& options, rocksdb::DB* db, TargetFs* fs,
    Clock* clock, const ProgressCallback& progress, const std::atomic<bool>* cancelled,
    SyncCounters* counters, StoreSyncResult* partial = nullptr);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_STORE_SYNC_H_
