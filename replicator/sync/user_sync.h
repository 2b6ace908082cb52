// One user's sync: the replica pulls what it lacks from a ReplicaPeer.
//
// The full path: the source's manifest (PeerClient::GetManifest), a scan of
// the local tree (cheap through the hash cache), a plan (diff.h) and, unless
// the mass-deletion guard blocks the user, the plan applied (apply.h:
// quarantine, renames, fetches, durability); finally the user directory
// gets the source's mode. A file that fails verification or that changed at
// the source is never installed; the user's sync then reports DATA_LOSS /
// ABORTED so its checkpoint is not advanced and the next sync retries.
//
// The delta path (options.use_delta and a checkpoint from the same source
// instance): the source lists only the paths changed since the checkpoint
// (with the content of small new files inline); the replica looks up just
// those paths locally, plans with the same PlanUserSync and applies with
// the same ApplyPlan. It falls back to the full path when the source cannot
// give a delta, when a changed path is a directory or symlink locally, and
// when the delta removes enough messages that the mass-deletion guard must
// weigh them against the whole user. Leftover temporary files of an
// interrupted sync are quarantined by the next full walk only.
//
// Thread-safe: SyncUser may run for several users at once with the same
// context (replica_context.h).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_
#define SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/replica_context.h"

namespace slotkeeper::sync {

struct UserSyncResult {
  uint64_t files_total = 0;  // in the source manifest
  uint64_t bytes_total = 0;
  uint64_t generation = 0;  // the source generation the manifest listed
  bool blocked = false;
  std::string blocked_reason;
  // Synced by a delta manifest: files_total and bytes_total are not known
  // (0), only the changed paths were looked at.
  bool delta = false;
  // With options.stage_small_fetches: files still to install
  // (install.h: InstallStaged); the user is synced only once they are.
  std::vector<StagedFile> staged;
};

// OK with blocked=true when the guard stopped the user (nothing changed).
// With `since` (the user's checkpoint; may be null) and options.use_delta,
// tries the delta path first (see SyncUserDelta in user_sync.cc): the
// changed paths only, the same plan, safety rules and guard as the full
// path; any doubt falls back to the full manifest.
// `prefetched` (may be null): the delta answer for this user already
// fetched by the caller (PeerClient::GetDeltas); std::nullopt in it means the source
// gave none (full path). Null: SyncUser asks for the delta itself.
absl::StatusOr<UserSyncResult> SyncUser(const UserSyncContext& ctx, const std::string& user,
                                        const DeltaBase* since = nullptr,
                                        const std::optional<SourceDelta>* prefetched = nullptr);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_
