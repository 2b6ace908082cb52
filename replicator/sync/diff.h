// What a replica must do to match its source: pure functions over manifests.
//
// PlanUserSync compares the source's manifest with the replica's and decides,
// per file: nothing, fix metadata (mtime, permission bits, and the owner
// when owners are compared), rename a local file that already has the
// content (a Maildir flag change, new/ -> cur/, a folder move: the message's
// unique part or at least its content hash is already here), fetch, or keep
// aside in the quarantine (gone from the source, or replaced by other
// content). Nothing is ever planned as a hard delete. A file the source
// still has under the same path with other content is not moved aside
// first: its old copy goes to the quarantine when the new one is installed
// over it (install.h), so the path never lacks a version.
//
// The plan counts what the mass-deletion guard (guard_state.h) weighs: the
// Maildir messages it moves aside, whether gone from the source or present
// there with other content under the same path or the same unique name (a
// rewrite loses the old content like a deletion), and the messages held
// before and after.
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

struct PlanOptions {
  // Owners and groups differing are fixed (the replica keeps owners).
  bool compare_owner = false;
};

struct LocalRename {
  std::string from;  // local path, content equals `to.hash()`
  ManifestEntry to;  // source entry to materialise
  // The donor's own metadata: a rename keeps it, so when it already equals
  // `to`'s (always, for a Maildir flag change) nothing more is set.
  int64_t from_mtime_ns = 0;
  uint32_t from_mode = 0;
  uint32_t from_uid = 0;
  uint32_t from_gid = 0;
  bool KeepsTimesAndMode() const {
    return from_mtime_ns == to.mtime_ns() &&
           (from_mode & kPermissionBits) == (to.mode() & kPermissionBits);
  }
  bool KeepsOwner() const { return from_uid == to.uid() && from_gid == to.gid(); }
};

// A local file leaving its path for the quarantine.
struct Departure {
  std::string path;
  std::string hash;  // its content hash (the local manifest's)
  bool message = false;
  // A message whose unique name the source no longer has at all (not
  // renamed, not rewritten): removed there, or never there.
  bool name_gone = false;
};

struct UserPlan {
  std::vector<LocalRename> renames;
  std::vector<ManifestEntry> fetches;         // source entries to copy
  std::vector<ManifestEntry> metadata_fixes;  // same content, other metadata
  std::vector<ManifestEntry> dir_fixes;       // directories with other mode or owner
  std::vector<Departure> quarantines;         // leaving their path, moved aside first
  // Local paths the source has with other content (no rename took them):
  // kept aside when the new version is installed over them.
  std::vector<std::string> replaced;
  std::vector<ManifestEntry> mkdirs;  // directories to create
  std::vector<std::string> rmdirs;    // local-only directories, deepest first;
                                      // removed only if empty at the end
  uint64_t fetch_bytes = 0;
  uint64_t local_messages = 0;
  uint64_t source_messages = 0;
  // Messages moved aside or replaced: removed at the source or rewritten.
  uint64_t removed_messages = 0;

  bool empty() const {
    return renames.empty() && fetches.empty() && metadata_fixes.empty() && dir_fixes.empty() &&
           quarantines.empty() && mkdirs.empty() && rmdirs.empty();
  }
};

// Both manifests sorted by path (as ScanUser returns them).
UserPlan PlanUserSync(const Manifest& source, const Manifest& local,
                      const PlanOptions& options = {});

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
