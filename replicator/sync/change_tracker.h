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
// inotify-based tracking (immediate bumps between refreshes) is NOT
// implemented yet; catch-up loops call ListUsers, which refreshes.
//
// Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

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

 private:
  struct State {
    std::string dir_fp;
    std::string file_fp;
    UserGeneration gen;
    bool racy = false;
  };
  absl::StatusOr<UserGeneration> RefreshUserLocked(int slot_root, const std::string& slot,
                                                   const std::string& user, bool full)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const absl::Duration full_scan_interval_;
  const absl::Duration racy_window_;
  absl::Mutex mu_;
  std::map<std::string, State> users_ ABSL_GUARDED_BY(mu_);  // slot\nuser
  std::map<std::string, absl::Duration> last_full_scan_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
