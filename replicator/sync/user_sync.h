// One user's sync: the replica pulls what it lacks from a ReplicaPeer.
//
// SyncUser: fetch the source manifest (GetManifest), scan the local tree
// (hash cache makes that cheap), plan (diff.h), and, unless the
// mass-deletion guard blocks the user, apply the plan:
//   1. stale temporary files from an interrupted sync go to the quarantine;
//   2. renames: local files that already hold wanted content are renamed -
//      no bytes cross the network for a Maildir flag change or folder move.
//      A rename is one renameat2(RENAME_NOREPLACE) straight to the new name
//      (a file found there goes to the quarantine first); only a rename into
//      a path another rename's donor still occupies goes through a temporary
//      name, so chains and swaps are safe. Metadata is set only when the
//      donor's differs from the source's;
//   3. fetches: FetchFiles streams (several in flight), each file written to a
//      dot-prefixed temporary file in its target directory, named after its
//      path and content (an interrupted fetch - cancelled, network lost,
//      agent killed - leaves it, and the next attempt asks only for the
//      rest: FileWant.offset), and checked against the source hash as it
//      arrives; then made durable (fsync per
//      file for a few files, one syncfs per batch for many), read back and
//      verified, and renamed into place with the source's mtime and mode;
//      the directories are synced. With options.stage_small_fetches a user's
//      few fetched files are instead returned staged (UserSyncResult::staged)
//      for the caller's group commit (InstallStaged after one syncfs for many
//      users);
//   4. files gone from the source go to the quarantine; metadata is fixed;
//      the user directory gets the source's mode.
// A file that fails verification or that changed at the source is never
// installed; the user's sync then reports DATA_LOSS / ABORTED so its
// checkpoint is not advanced and the next sync retries.
//
// The delta path (options.use_delta and a checkpoint from the same source
// instance): GetManifest with since_generation lists only the paths changed
// since the checkpoint, with the content of small new files inline; the
// replica looks up just those paths locally, plans with the same
// PlanUserSync and applies with the same steps (inline content that matches
// a planned fetch is written like a fetched file, without a FetchFiles call).
// It falls back to the full path when the source cannot give a delta, when a
// changed path is a directory or symlink locally, and when the delta removes
// enough messages that the mass-deletion guard must weigh them against the
// whole user. Leftover temporary files of an interrupted sync are
// quarantined by the next full walk only.
//
// Thread-safe: SyncUser may run for several users at once with the same
// context; TokenBucket and SyncCounters are shared safely.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_
#define SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/diff.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

// A token bucket on bytes received, so re-replication leaves bandwidth for
// live traffic. rate 0 = unlimited. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, Clock* clock);
  // Takes `n` tokens, sleeping on the clock while the bucket is short.
  void Acquire(uint64_t n);

 private:
  const double rate_;
  const double burst_;
  Clock* const clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_ ABSL_GUARDED_BY(mu_);
};

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

struct SyncOptions {
  GuardOptions guard;
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

struct UserSyncResult {
  uint64_t files_total = 0;  // in the source manifest
  uint64_t bytes_total = 0;
  uint64_t generation = 0;  // the source generation the manifest listed
  bool blocked = false;
  std::string blocked_reason;
  // Synced by a delta manifest: files_total and bytes_total are not known
  // (0), only the changed paths were looked at.
  bool delta = false;
  // With options.stage_small_fetches: files still to install (see
  // InstallStaged); the user is synced only once they are.
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

// Installs staged files once the caller has made them durable (syncfs): each
// is read back and verified (options.verify_written), gets the source's
// mtime and mode, and is renamed into place (an unexpected file already
// there goes to the quarantine). A file that fails is removed, never
// installed; returns the first error. Empties `files`.
absl::Status InstallStaged(const UserSyncContext& ctx, const std::string& user,
                           std::vector<StagedFile>* files);

// Removes staged files' temporaries (their user's sync failed). Empties
// `files`.
void DiscardStaged(TargetFs* fs, std::vector<StagedFile>* files);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_USER_SYNC_H_
