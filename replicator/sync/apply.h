// Applying a user's plan (diff.h) to the replica's tree.
//
// ApplyPlan carries out a plan from the full manifest or from a delta with
// every safety rule of the data path, in this order:
//   1. leftovers of an interrupted sync go to the quarantine, except part
//      files of fetches the plan still wants (they are resumed);
//   2. files the source no longer has under their path go to the
//      quarantine (listed as removed, rewritten or stranded), so renames and
//      fetches find their places free; a file the source has with other
//      content stays until its new version is installed over it (install.h:
//      the old one is kept aside then); missing directories are created and
//      others given the source's mode and owner;
//   3. renames: local files that already hold wanted content move to their
//      new name, so a Maildir flag change or folder move sends no bytes.
//      Each is one renameat2(RENAME_NOREPLACE) straight to the new name;
//      only a rename into a path another rename's donor still occupies goes
//      through a temporary name, so chains and swaps are safe. Metadata
//      (owner included, per SyncOptions::owner) is set only when the donor's
//      differs from the source's; metadata-only differences are fixed;
//   4. fetches: inline content of a delta answer, then FetchFiles batches
//      (fetch.h), installed or staged;
//   5. the directories are made durable (unless the caller does it for a
//      group of users), then local-only directories removed if empty.
// Nothing is ever deleted outright. ABORTED when some file changed at the
// source meanwhile (it was skipped; the next sync takes it).
//
// Thread-safety: one call per user at a time; calls for distinct users may
// run at once with one context.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_APPLY_H_
#define SLOTKEEPER_REPLICATOR_SYNC_APPLY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "replicator/sync/diff.h"
#include "replicator/sync/replica_context.h"

namespace slotkeeper::sync {

// `temps`: leftover temporary files found by the local scan (paths relative
// to the user directory). `staged` (may be null): where small fetches go
// under SyncOptions::stage_small_fetches. `inline_data` (may be null): the
// delta answer's inline files, path -> content.
// Why a planned departure leaves (QuarantineItem.reason): "removed" (gone
// from the source), "overwritten" (its unique name is still there with
// other content), or, in an old master's stranded-mail check
// (UserSyncContext::stranded_check), "stranded" (the new master lacks it
// and its deletion log does not list it).
std::string DepartureReason(const UserSyncContext& ctx, const std::string& user,
                            const Departure& d);

absl::Status ApplyPlan(const UserSyncContext& ctx, const std::string& user, const UserPlan& plan,
                       const std::vector<std::string>& temps, std::vector<StagedFile>* staged,
                       const std::map<std::string, std::string>* inline_data = nullptr);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_APPLY_H_
