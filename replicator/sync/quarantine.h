// The quarantine: where a replica puts files instead of deleting them.
//
// A file gone from the source (or about to be overwritten) is moved to
// <slot>/.quarantine/<YYYY-MM-DD>/<user>/<path> (UTC date from the injected
// Clock); a second copy of the same path on the same day gets a ".N"
// suffix. PurgeQuarantine removes whole day directories older than a number
// of days: the only hard delete in the data path. Thread-safe free functions
// (distinct users never collide; same-path collisions retry with a suffix).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

// Moves users/<user>/<path> of the slot into the quarantine.
absl::Status QuarantineFile(int slot_root, absl::string_view user, absl::string_view path,
                            Clock* clock, TargetFs* fs);

// Moves a whole users/<user> directory into the quarantine (releasing a slot).
absl::Status QuarantineUserDir(int slot_root, absl::string_view user, Clock* clock, TargetFs* fs);

// Removes quarantine day directories dated more than `keep_days` days before
// the clock's date. Returns how many day directories were removed.
absl::StatusOr<int> PurgeQuarantine(int slot_root, int keep_days, Clock* clock);

// "YYYY-MM-DD" (UTC) of `t`.
std::string QuarantineDay(absl::Time t);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_
