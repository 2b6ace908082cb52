// Fetching file content from the source into a replica's user directory.
//
// Files travel in batches, one FetchFiles stream each (PeerClient), several
// streams per user at once. Each file is written to a part file in its
// target directory, named after its path and content (PartName), and
// hashed as it arrives; at its end the content must match the manifest's
// size and hash or it is never installed. An interrupted stream
// (cancelled, network lost, agent killed) leaves its part files, and the
// next attempt asks only for the rest of each (FileWant.offset). Intact
// files are then made durable (fsync per file for a few, one syncfs for a
// batch of many; SyncOptions::durability) and installed (install.h), or,
// staged, handed to the caller verified but neither durable nor in place.
// Small new files may come inline with a delta answer instead; they take
// the same way from their temporary file on.
//
// Thread-safety: FetchInBatches runs its own threads; the functions may be
// called for distinct users at once with one context.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_FETCH_H_
#define SLOTKEEPER_REPLICATOR_SYNC_FETCH_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replicator/sync/install.h"
#include "replicator/sync/replica_context.h"

namespace slotkeeper::sync {

// The part file a fetch of `want` writes to, relative to the user
// directory: the same for the same path and content, so that an
// interrupted fetch is found again and resumed. Its name starts with
// kTempPrefix, like every temporary file of the data path.
std::string PartPath(const ManifestEntry& want);

// Where a plan with `fetches` files puts them: `staged` under
// SyncOptions::stage_small_fetches (Durability::kAuto, fewer than
// kAutoSyncfsMinFiles fetches), else null (each batch installs its own).
std::vector<StagedFile>* StagingFor(const UserSyncContext& ctx, size_t fetches,
                                    std::vector<StagedFile>* staged);

// Writes the planned `fetches` whose content came inline with a delta
// answer (`inline_data`, may be null) and matches their entry, then stages
// them (`staged` not null) or makes them durable and installs them. Returns
// the fetches still to do, in plan order. An inline file that does not
// match its entry is fetched instead (with a warning).
absl::StatusOr<std::vector<const ManifestEntry*>> WriteInlineFiles(
    const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
    const std::vector<ManifestEntry>& fetches,
    const std::map<std::string, std::string>* inline_data, std::vector<StagedFile>* staged);

struct FetchOutcome {
  absl::Status status;             // the first batch's error
  bool changed_at_source = false;  // a file changed at the source: skipped
};

// Fetches `files` in batches of SyncOptions::batch_files / batch_bytes over
// streams_per_user streams, staging into `staged` when not null. A batch
// whose content failed verification (DATA_LOSS) does not stop the others;
// any other error does (no new batch starts).
FetchOutcome FetchInBatches(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                            const std::vector<const ManifestEntry*>& files,
                            std::vector<StagedFile>* staged);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_FETCH_H_
