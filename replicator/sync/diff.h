// What a replica must do to match its source: pure functions over manifests.
//
// PlanUserSync compares the source's manifest with the replica's and decides,
// per file: nothing, fix metadata, rename a local file that already has the
// content (a Maildir flag change, new/ -> cur/, a folder move: the message's
// unique part or at least its content hash is already here), fetch, or move
// to quarantine (gone from the source, or about to be overwritten). Nothing is
// ever planned as a hard delete.
//
// The mass-deletion guard: a plan that would quarantine more than
// `max_removal_share` of the replica's Maildir messages (and at least
// `min_removals_to_block` of them) is marked blocked; the caller then changes
// nothing for that user and reports it.
//
// CompareManifests is verification's comparison (by path and hash).
// Pure functions; thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_DIFF_H_
#define SLOTKEEPER_REPLICATOR_SYNC_DIFF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "replicator/sync/manifest.h"

namespace slotkeeper::sync {

struct GuardOptions {
  double max_removal_share = 0.10;
  // Small users: removing fewer messages than this never blocks.
  uint64_t min_removals_to_block = 10;
};

struct LocalRename {
  std::string from;  // local path, content equals `to.hash()`
  ManifestEntry to;  // source entry to materialise
  // The donor's own metadata: a rename keeps it, so when it already equals
  // `to`'s (always, for a Maildir flag change) nothing more is set.
  int64_t from_mtime_ns = 0;
  uint32_t from_mode = 0;
  bool KeepsMetadata() const { return from_mtime_ns == to.mtime_ns() && from_mode == to.mode(); }
};

struct UserPlan {
  std::vector<LocalRename> renames;
  std::vector<ManifestEntry> fetches;         // source entries to copy
  std::vector<ManifestEntry> metadata_fixes;  // same content, other mtime/mode
  std::vector<std::string> quarantines;       // local paths
  std::vector<ManifestEntry> mkdirs;          // directories to create
  std::vector<std::string> rmdirs;            // local-only directories, deepest first;
                                              // removed only if empty at the end
  uint64_t fetch_bytes = 0;
  uint64_t local_messages = 0;
  uint64_t removed_messages = 0;
  bool blocked = false;
  std::string blocked_reason;

  bool empty() const {
    return renames.empty() && fetches.empty() && metadata_fixes.empty() && quarantines.empty() &&
           mkdirs.empty() && rmdirs.empty();
  }
};

// Both manifests sorted by path (as ScanUser returns them).
UserPlan PlanUserSync(const Manifest& source, const Manifest& local, const GuardOptions& guard);

// A difference found by verification.
struct Difference {
  enum Kind { kMissingOnReplica, kExtraOnReplica, kContentDiffers };
  Kind kind;
  std::string path;  // "user/path" for store-level comparisons
};

// Compares by path and content hash (not mtime or mode).
std::vector<Difference> CompareManifests(const Manifest& master, const Manifest& replica);

const char* DifferenceKindName(Difference::Kind kind);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_DIFF_H_
