// The scrub: re-reading a slot's files from disk and checking their
// content, to find silent corruption (a flipped bit, a bad sector, a write
// that never reached the disk) that no sync would notice, since syncs trust
// the hash cache for files whose stamp did not change.
//
// One pass reads every regular file of every user of the slot with
// O_DIRECT (manifest.h HashFromDisk: the disk's copy, not the page cache's),
// at most `bucket`'s rate, and compares its hash:
//   - with the hash remembered for the file at its current stamp (size,
//     mtime, inode) in the hash cache: the same stamp with other content is
//     corruption. On a master only Maildir messages are judged so (they are
//     never rewritten in place; an index file rewritten twice within one
//     timestamp tick could keep its stamp); on a replica every file is (the
//     data path writes a new inode for every version).
//   - on a replica, with its master's manifest, for users whose checkpoint
//     says the copy equals the master's current generation (otherwise a
//     difference may just be a change not yet replicated); a file the
//     master lists that the replica lacks is a finding too (missing).
// A file that changes while it is read is skipped (it is being written, not
// decaying). The pass only reads: what to do about a finding (repair from
// the master on a replica, report on a master) is the caller's.
//
// Thread-safety: ScrubSlot runs on the caller's thread; the context's
// pointers must be thread-safe (they are: cache, client, bucket, atomics).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SCRUB_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SCRUB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/rate_limiter.h"

namespace slotkeeper::sync {

// A file whose content on disk is not what it should be.
struct ScrubFinding {
  std::string user;
  std::string path;      // relative to the user directory
  std::string expected;  // the remembered or the master's hash
  std::string found;     // the hash of what the disk holds
  bool against_master = false;
  // The master lists the file and the replica, at the master's generation,
  // does not hold it (deleted behind the agent's back).
  bool missing = false;
};

// What one pass compares with. Pointers are not owned; `cache`, `master`,
// `checkpoints`, `bucket`, `stop` and `bytes_verified` may be null.
struct ScrubContext {
  int slot_root = -1;
  std::string slot;  // hash cache and checkpoint scope
  HashCache* cache = nullptr;
  bool replica = false;
  // A replica's master (ListUsers, GetManifest) and what the replica's
  // checkpoints say it holds of it.
  const PeerClient* master = nullptr;
  CheckpointStore* checkpoints = nullptr;
  std::string identity;  // the slot's (SlotIdentity::ToString)
  TokenBucket* bucket = nullptr;
  const std::atomic<bool>* stop = nullptr;          // ends the pass (CANCELLED)
  std::atomic<uint64_t>* bytes_verified = nullptr;  // advanced as files are read
  std::function<void(const ScrubFinding&)> on_finding;
};

struct ScrubPassResult {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t findings = 0;
  uint64_t users_against_master = 0;  // users also compared with the master
};

// One pass over the slot. CANCELLED once `stop` is set; a user that cannot
// be read is skipped with a warning (the pass goes on).
absl::StatusOr<ScrubPassResult> ScrubSlot(const ScrubContext& ctx);

// The bytes in the slot's users' regular files (a pass's total), by stat
// alone.
absl::StatusOr<uint64_t> SlotUserBytes(int slot_root);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SCRUB_H_
