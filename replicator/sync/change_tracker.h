// Per-user generations on the source side: the cheap "did anything change?"
//
// Refresh() fingerprints every user of a slot from its directories' (path,
// mtime, inode): in Maildir every delivery, flag change, move and expunge
// renames or creates a file, which changes its directory's mtime, so the
// fingerprint changes without stat-ing a single message. Every
// `full_scan_every` refreshes, or when FullScanDue() by the clock, file
// (path, size, mtime) are folded in as well: the safety net for in-place
// writes that leave directory mtimes alone. When a user's fingerprint
// changes, its generation goes up and, if none was pending, its
// oldest-change time is set; MarkServed() clears that time once a replica
// has read the user at its current generation.
//
// A directory modified within `racy_window` of the scan may change again
// within the same timestamp tick (the kernel's coarse clock, a few ms), so such a user is bumped
// once more at the next refresh (the "racy git" rule).
//
// With Watch(), a slot is tracked by recursive inotify watches instead:
// Refresh() drains the kernel's event queue and bumps every user an event
// names, without scanning; users not seen before, a queue overflow and the
// periodic full scan go through the scan path above (the safety net).
//
// Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "replicator/sync/inotify_watcher.h"

namespace slotkeeper::sync {

struct UserGeneration {
  uint64_t generation = 0;
  int64_t oldest_change_ms = 0;
};

class ChangeTracker {
 public:
  // `clock` is not owned and must outlive the tracker.
  ChangeTracker(Clock* clock, absl::Duration full_scan_interval,
                absl::Duration racy_window = absl::Milliseconds(100));

  // Rescans the slot (root fd, name for keys) and returns every user's
  // generation.
  absl::StatusOr<std::map<std::string, UserGeneration>> Refresh(int slot_root,
                                                                const std::string& slot);
  // Refreshes one user only.
  absl::StatusOr<UserGeneration> RefreshUser(int slot_root, const std::string& slot,
                                             const std::string& user);
  void MarkServed(const std::string& slot, const std::string& user, uint64_t generation);

  // Tracks `slot` (directory `slot_path`) with inotify from now on. On error
  // (for example the watch limit) the slot stays in scan mode.
  absl::Status Watch(const std::string& slot, const std::string& slot_path);

 private:
  struct State {
    std::string dir_fp;
    std::string file_fp;
    UserGeneration gen;
    bool racy = false;
  };
  // Applies queued inotify events of `slot` (if watched). Returns true when
  // the slot is watched and no rescan is pending.
  bool DrainLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BumpLocked(UserGeneration* gen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<UserGeneration> RefreshUserLocked(int slot_root, const std::string& slot,
                                                   const std::string& user, bool full)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const absl::Duration full_scan_interval_;
  const absl::Duration racy_window_;
  absl::Mutex mu_;
  std::map<std::string, State> users_ ABSL_GUARDED_BY(mu_);  // slot\nuser
  std::map<std::string, absl::Duration> last_full_scan_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<InotifyWatcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> rescan_pending_ ABSL_GUARDED_BY(mu_);  // slots
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
