// What the replica side of a sync shares between its layers (install,
// fetch, apply, user_sync, store_sync): the options, the counters, the
// per-user context and a staged file.
//
// Thread-safety: plain structs. A UserSyncContext is read by every thread of
// a store sync at once; what it points to is thread-safe (PeerClient,
// HashCache, TargetFs, Clock, TokenBucket) and SyncCounters are atomics. A
// StagedFile belongs to one user's sync until it is installed or discarded.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_REPLICA_CONTEXT_H_
#define SLOTKEEPER_REPLICATOR_SYNC_REPLICA_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "base/clock.h"
#include "replicator/sync/diff.h"
#include "replicator/sync/guard_state.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/rate_limiter.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

enum class Durability {
  kPerFile,   // fsync every file before its rename, fsync each directory
  kPerBatch,  // syncfs once per fetched batch before renames, once after
  // kPerFile for small batches and few directories, kPerBatch for large ones:
  // one syncfs beats hundreds of fsyncs, a few fsyncs beat a syncfs that
  // must flush the whole filesystem.
  kAuto,
};

// Batches with fewer files than this are fsynced file by file under kAuto.
inline constexpr size_t kAutoSyncfsMinFiles = 16;
// More touched directories than this are made durable by one syncfs.
inline constexpr size_t kAutoSyncfsMinDirs = 4;

// Who owns the files a replica installs.
struct OwnerOptions {
  enum class Mode {
    kNone,    // whoever writes (owners neither set nor compared)
    kSource,  // the source's numeric owner and group (ManifestEntry uid/gid)
    kFixed,   // `uid` and `gid` for everything (the mail server's user here)
  };
  Mode mode = Mode::kNone;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct SyncOptions {
  GuardOptions guard;
  OwnerOptions owner;
  int streams_per_user = 2;            // FetchFiles calls in flight per user
  uint64_t batch_bytes = 32ull << 20;  // per FetchFiles call
  size_t batch_files = 512;
  uint32_t chunk_bytes = 256 * 1024;
  Durability durability = Durability::kAuto;
  bool verify_written = true;  // read back and hash before installing
  // The caller makes directories durable itself (SyncStore does one syncfs
  // for a group of users before writing their checkpoints).
  bool defer_directory_sync = false;
  // Incremental syncs ask the source for a delta manifest (the paths changed
  // since the checkpointed generation) and apply it without walking either
  // tree; the full manifest remains the fallback.
  bool use_delta = true;
  // Under Durability::kAuto, a user with fewer than kAutoSyncfsMinFiles
  // fetches does not fsync them one by one: they are returned verified but
  // not yet durable nor in place (UserSyncResult::staged), and the caller
  // makes a whole group of users' staged files durable with one syncfs
  // before InstallStaged renames them (SyncStore does).
  bool stage_small_fetches = false;
  // Delta syncs take new small files inline with the delta answer (no
  // FetchFiles call for a few new messages): per file and per user at most.
  // 0 = always fetch.
  uint32_t inline_max_file_bytes = 256 * 1024;
  uint32_t inline_max_total_bytes = 2 * 1024 * 1024;

  InlineLimits inline_limits() const {
    return InlineLimits{inline_max_file_bytes, inline_max_total_bytes};
  }
};

// Counters over many users; all atomics.
struct SyncCounters {
  std::atomic<uint64_t> manifests_fetched{0};
  std::atomic<uint64_t> files_copied{0};
  std::atomic<uint64_t> files_renamed{0};
  std::atomic<uint64_t> files_quarantined{0};
  std::atomic<uint64_t> metadata_fixed{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> files_changed_at_source{0};
  std::atomic<uint64_t> files_failed_verify{0};
  std::atomic<uint64_t> delta_manifests{0};  // users synced by a delta
  std::atomic<uint64_t> delta_fallbacks{0};  // delta asked, full path taken
  std::atomic<uint64_t> files_inline{0};     // copied from a delta answer
  std::atomic<uint64_t> fetch_calls{0};      // FetchFiles calls made
  std::atomic<uint64_t> delta_batches{0};    // GetManifests calls (several users each)
  std::atomic<uint64_t> bytes_resumed{0};    // kept from interrupted fetches, not sent again
};

// What one user's sync works with. Shared (read-only) by every user of a
// store sync; the pointed-to objects are thread-safe or, like `counters`,
// atomics.
struct UserSyncContext {
  const PeerClient* source = nullptr;  // not owned
  int target_root = -1;                // the replica slot's root directory fd
  std::string target_scope;            // hash cache scope (slot name)
  HashCache* cache = nullptr;          // may be null
  TargetFs* fs = nullptr;              // DefaultTargetFs() unless testing
  Clock* clock = nullptr;
  TokenBucket* bucket = nullptr;  // may be null (unlimited)
  SyncOptions options;
  SyncCounters* counters = nullptr;
  const std::atomic<bool>* cancelled = nullptr;  // may be null
  // Where files leave to (listed when it has an index); null: an unlisted
  // quarantine of target_root.
  const SlotQuarantine* quarantine = nullptr;
  // The mass-deletion guard's memory, under target_scope; null: every sync
  // is judged on its own and a block lasts one sync.
  GuardStore* guards = nullptr;
  // Set for the first complete sync of a slot that was master: a message
  // its new master lacks whose unique name the master's deletion log does
  // not list (user -> names; null: no log) is stranded, not removed.
  bool stranded_check = false;
  const std::map<std::string, std::set<std::string>>* deleted_at_source = nullptr;

  bool Cancelled() const { return cancelled != nullptr && cancelled->load(); }
};

// A fetched file whose received bytes matched the source hash, written to a
// temporary name in its directory; not yet made durable nor renamed into
// place. Owns its descriptors.
struct StagedFile {
  Fd dir;            // the directory holding `temp`
  std::string temp;  // temporary name in `dir`
  ManifestEntry want;
  Fd file;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_REPLICA_CONTEXT_H_
