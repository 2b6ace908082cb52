// slotsync's "nothing changed" fast path: state of the one-shot tool only,
// kept out of the agent's data path.
//
// After a complete sync of a whole slot (every user synced, none blocked or
// failed), slotsync records the digest of the source listing that sync
// worked from in its state directory. The next run lists the source, and
// when the digest is the same, stops there without opening its database at
// all. Without a record it may still find every user at its checkpoint with
// a read-only open of the database. The checkpoints stay authoritative;
// the record is only a summary of them.
//
// Thread-safety: free functions; one slotsync process per state directory.
#ifndef SLOTKEEPER_TOOLS_SLOTSYNC_LAST_LISTING_H_
#define SLOTKEEPER_TOOLS_SLOTSYNC_LAST_LISTING_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/peer.pb.h"
#include "replicator/sync/checkpoint_store.h"
#include "rocksdb/db.h"

namespace slotkeeper::slotsync {

// A digest of a ListUsers answer (the source instance and every user's name
// and generation) and of the destination's identity (slot_layout.h
// SlotIdentity::ToString). Equal digests mean that no user changed in
// between and that the destination is the copy that sync wrote (not one
// emptied or replaced since).
std::string ListingDigest(const v1::ListUsersResponse& listed, const std::string& dest_identity);

// The digest recorded in `state_dir`; "" when there is none.
std::string ReadLastListing(const std::string& state_dir);
// Records `digest` in `state_dir`, replacing the old record atomically.
absl::Status WriteLastListing(const std::string& state_dir, const std::string& digest);
// Removes the record (before a sync that may not complete); OK when there
// is none.
absl::Status ClearLastListing(const std::string& state_dir);

// Opens the data path's database in `dir` read-only: no recovery writes, no
// fsync, so a "nothing changed" check costs almost nothing. NOT_FOUND when
// there is none.
absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenStateDbReadOnly(const std::string& dir);

// Whether every listed user (or only `only_user`) is at its checkpointed
// (instance id, generation) for `target_slot`, written from `source_slot`
// into the copy whose identity is `dest_identity`, so that the sync may be
// skipped. Sets `*users` to the number of users considered; false when
// there are none.
bool AllUsersAtCheckpoint(const v1::ListUsersResponse& listed, const std::string& target_slot,
                          const std::string& source_slot, const std::string& dest_identity,
                          const std::string& only_user, sync::CheckpointStore* checkpoints,
                          uint64_t* users);

}  // namespace slotkeeper::slotsync

#endif  // SLOTKEEPER_TOOLS_SLOTSYNC_LAST_LISTING_H_
