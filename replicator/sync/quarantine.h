// The quarantine: where a replica puts files instead of deleting them.
//
// A file gone from the master, about to be overwritten, found corrupt by a
// scrub or stranded on an old master is moved to
// <slot>/.quarantine/<YYYY-MM-DD>/<user>/<path> (UTC date from the injected
// Clock); a second copy of the same path on the same day gets a ".N"
// suffix. The path below .quarantine is the item's id. Every item is
// listed with why it was moved aside in the slot's QuarantineIndex (when
// one is given), so it can be listed, fetched back (FetchQuarantined) and
// purged by age and size (quarantine_purge.h: the only hard delete of the
// data path).
//
// A file replaced by a new version keeps its old content in the quarantine
// through a second name (Keep: a hard link) until the new version has
// renamed over it, so its path never lacks a version.
//
// Thread-safety: SlotQuarantine is immutable after construction and its
// methods may run on many threads at once (distinct users never collide;
// same-path collisions retry with a suffix; the index is thread-safe).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "proto/peer.pb.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

// Why a file is moved aside, and its content hash when known.
struct QuarantineNote {
  std::string reason = kReasonRemoved;
  std::string hash;
};

class SlotQuarantine {
 public:
  // The quarantine of the slot whose root directory is `slot_root`, listed
  // in `index` under `slot` (index may be null: files are moved, nothing is
  // listed). Nothing is owned; all must outlive the object.
  SlotQuarantine(int slot_root, std::string slot, Clock* clock, TargetFs* fs,
                 QuarantineIndex* index);

  // Moves users/<user>/<path> into the quarantine. `path` may name a
  // leftover temporary file (its own name only may carry kTempPrefix).
  absl::StatusOr<v1::QuarantineItem> Move(absl::string_view user, absl::string_view path,
                                          const QuarantineNote& note) const;
  // Gives users/<user>/<path>, which is `name` in `dirfd`, a second name in
  // the quarantine: its content stays there when a new version renames over
  // it. The file itself does not move.
  absl::StatusOr<v1::QuarantineItem> Keep(absl::string_view user, absl::string_view path, int dirfd,
                                          const std::string& name,
                                          const QuarantineNote& note) const;
  // Moves a whole users/<user> directory in (a released slot), each of its
  // files listed with `reason`.
  absl::Status MoveUserDir(absl::string_view user, absl::string_view reason) const;

  int root() const { return root_; }
  const std::string& slot() const { return slot_; }
  QuarantineIndex* index() const { return index_; }
  Clock* clock() const { return clock_; }

 private:
  // The quarantine directory for `rel_dir` (a directory of the user's tree)
  // today, created; and its id prefix "DAY/USER[/DIR]".
  absl::StatusOr<Fd> TodayDir(absl::string_view user, absl::string_view rel_dir,
                              std::string* id_prefix) const;
  // Lists a quarantined file of `size` bytes under `id`.
  v1::QuarantineItem Record(const std::string& id, absl::string_view user, absl::string_view path,
                            uint64_t size, const QuarantineNote& note) const;

  const int root_;
  const std::string slot_;
  Clock* const clock_;
  TargetFs* const fs_;
  QuarantineIndex* const index_;
};

// Opens the quarantined file `id` of the slot (read-only, no symlink
// followed). INVALID_ARGUMENT for an id that is not a path below the
// quarantine.
absl::StatusOr<Fd> OpenQuarantined(int slot_root, const std::string& id);

// "YYYY-MM-DD" (UTC) of `t`.
std::string QuarantineDay(absl::Time t);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_H_
