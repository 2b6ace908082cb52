// Purging the quarantine: the only hard delete of the data path.
//
// PurgeQuarantine keeps a slot's quarantine within its caps:
//   - age: day directories dated more than keep_days before today go whole
//     (with whatever they hold, listed or not);
//   - size: while the listed items take more than max_bytes, the oldest go
//     first: copies of non-message files (a mail server's index and cache
//     files, replaced again and again) and leftovers of interrupted syncs
//     at any age, then other items older than min_keep_days. Messages and
//     every other item younger than min_keep_days are kept even over the
//     cap (the report says by how much).
// Stranded mail not yet reconciled (an old master's messages its new master
// lacks) is kept whatever its age and size: it may be their only copy.
// PurgeItems removes what an operator names: items older than a time, or
// by id. DropOlderVersions keeps one old version of a non-message file
// replaced in place (a mail server's index rewritten every few minutes
// would otherwise fill the quarantine with copies of itself).
//
// Thread-safe free functions (the index is); one purge per slot at a time.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_PURGE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_PURGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replicator/sync/quarantine.h"

namespace slotkeeper::sync {

struct QuarantinePolicy {
  int keep_days = 14;
  int min_keep_days = 7;
  uint64_t max_bytes = 0;  // 0: no size cap
};

struct PurgeReport {
  int days_removed = 0;
  uint64_t items_removed = 0;  // listed items (not counting whole days)
  uint64_t bytes_removed = 0;
  uint64_t bytes_over_cap = 0;  // still over max_bytes: only protected items remain
};

// Applies the policy to the slot's quarantine.
absl::StatusOr<PurgeReport> PurgeQuarantine(const SlotQuarantine& quarantine,
                                            const QuarantinePolicy& policy);

// Removes the listed items quarantined before `older_than_ms` (engine wall
// clock; 0: none by age) and those named in `ids`. Unknown ids are ignored
// (already purged).
absl::StatusOr<PurgeReport> PurgeItems(const SlotQuarantine& quarantine, int64_t older_than_ms,
                                       const std::vector<std::string>& ids);

// Removes the user's other quarantined versions of `path` than `keep_id`
// when `path` is not a Maildir message (copies replaced by newer ones,
// reason "overwritten"). Messages are never dropped so. Returns how many
// went.
absl::StatusOr<uint64_t> DropOlderVersions(const SlotQuarantine& quarantine,
                                           const std::string& user, const std::string& path,
                                           const std::string& keep_id);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_PURGE_H_
