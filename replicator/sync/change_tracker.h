// Per-user generations on the source side: the cheap "did anything change?"
//
// Refresh() fingerprints every user of a slot from its directories' (path,
// mtime, inode): in Maildir every delivery, flag change, move and expunge
// renames or creates a file, which changes its directory's mtime, so the
// fingerprint changes without stat-ing a single message (message
// directories are not even read; maildir.h). The first refresh of a slot,
// and then one every `full_scan_interval` by the clock, also folds in every
// file's (path, size, mtime) and walks the message directories: the safety
// net for in-place writes that leave directory mtimes alone. When a user's
// fingerprint changes, its generation goes up and, if none was pending, its
// oldest-change time is set; MarkServed() clears that time once a replica
// has read the user at its current generation.
//
// A directory modified within `racy_window` of the scan may change again
// within the same timestamp tick (the kernel's coarse clock, a few ms), so
// such a user is bumped once more at the next refresh (the "racy git"
// rule).
//
// With Watch(), a slot is tracked by recursive inotify watches instead:
// Refresh() drains the kernel's event queue and bumps every user an event
// names, without scanning; users not seen before, a queue overflow and the
// periodic full scan go through the scan path above (the safety net).
//
// Delta history: in watched mode, every generation a drain gives a user
// also records the paths (relative to the user directory) the events named,
// so that ChangedSince(G) can list what changed after generation G without
// walking the tree. The history is bounded (DeltaLimits): the oldest
// generations are dropped first. It is cleared, so that no delta reaches
// back across the gap, whenever paths may be missing: a bump by a scan (new
// user, full scan, racy rule, scan mode), an event the watcher cannot
// describe by file paths (directory changes), and a queue overflow (which
// also bumps every user of the slot). A new process has no history at all
// (and another instance id).
//
// Change feed: every drain that finds events (or finds some were lost)
// advances the slot's change sequence, and AwaitChange wakes whoever waits
// for it (PeerCore::WatchChanges, which pushes the changed users to
// replicas). With StartEventThread, a thread of the tracker's own drains a
// watched slot's events as they arrive, `coalesce` after the first (a
// delivery's create, write and rename come as one change), so a change is
// announced within milliseconds without anyone polling.
//
// Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "replicator/sync/inotify_watcher.h"

namespace slotkeeper::sync {

struct UserGeneration {
  uint64_t generation = 0;
  int64_t oldest_change_ms = 0;
  // When this generation's change was seen (clock's wall time, ms).
  int64_t changed_ms = 0;
};

// Bounds of the per-user delta history.
struct DeltaLimits {
  size_t max_generations = 256;  // per user
  size_t max_paths = 50'000;     // per user, over all kept generations
};

// What changed for a user after a generation.
struct UserDelta {
  uint64_t generation = 0;      // the user's current generation
  std::set<std::string> paths;  // relative to the user directory
};

class ChangeTracker {
 public:
  // `clock` is not owned and must outlive the tracker.
  ChangeTracker(Clock* clock, absl::Duration full_scan_interval,
                absl::Duration racy_window = absl::Milliseconds(100),
                DeltaLimits limits = DeltaLimits());
  // Stops and joins the event thread, if started.
  ~ChangeTracker();
  ChangeTracker(const ChangeTracker&) = delete;
  ChangeTracker& operator=(const ChangeTracker&) = delete;

  // Rescans the slot (root fd, name for keys) and returns every user's
  // generation.
  absl::StatusOr<std::map<std::string, UserGeneration>> Refresh(int slot_root,
                                                                const std::string& slot);
  // Refreshes one user only.
  absl::StatusOr<UserGeneration> RefreshUser(int slot_root, const std::string& slot,
                                             const std::string& user);
  void MarkServed(const std::string& slot, const std::string& user, uint64_t generation);

  // Drains pending events, then returns the paths changed after generation
  // `since` up to the user's current generation. FAILED_PRECONDITION when
  // the history cannot answer (slot not watched or rescan pending, `since`
  // older than the history or newer than the user, history cleared since).
  absl::StatusOr<UserDelta> ChangedSince(const std::string& slot, const std::string& user,
                                         uint64_t since);

  // Forgets every user's delta history of `slot` and bumps every user, as
  // after an inotify queue overflow (which calls it).
  void ForgetChanges(const std::string& slot);

  // Tracks `slot` (directory `slot_path`) with inotify from now on. On error
  // (for example the watch limit) the slot stays in scan mode.
  absl::Status Watch(const std::string& slot, const std::string& slot_path);

  // Whether `slot` is tracked by inotify (its changes are seen as events).
  bool Watched(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // The slot's change sequence now.
  uint64_t ChangeSeq(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the slot's change sequence differs from `seen`, at most
  // `timeout` (real time); the sequence then.
  uint64_t AwaitChange(const std::string& slot, uint64_t seen, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the thread that drains watched slots' events as they come (see
  // above). Call after the Watch calls; once.
  absl::Status StartEventThread(absl::Duration coalesce) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct State {
    std::string dir_fp;
    std::string file_fp;
    UserGeneration gen;
    bool racy = false;
    // Delta history: generation -> paths changed in it, for generations in
    // (delta_floor, gen.generation]; deltas are known since delta_floor.
    std::map<uint64_t, std::set<std::string>> history;
    size_t history_paths = 0;
    uint64_t delta_floor = 0;
  };
  // Applies queued inotify events of `slot` (if watched). Returns true when
  // the slot is watched and no rescan is pending.
  bool DrainLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BumpLocked(UserGeneration* gen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetChangesLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps and forgets the history: no delta reaches across this bump.
  void BumpUntrackedLocked(State* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps and records `paths` as this generation's changes (bounded).
  void BumpTrackedLocked(State* state, std::set<std::string> paths)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<UserGeneration> RefreshUserLocked(int slot_root, const std::string& slot,
                                                   const std::string& user, bool full)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The event thread's loop: poll every watcher, drain those with events.
  void RunEvents(absl::Duration coalesce) ABSL_LOCKS_EXCLUDED(mu_);

  Clock* const clock_;
  const absl::Duration full_scan_interval_;
  const absl::Duration racy_window_;
  const DeltaLimits limits_;
  absl::Mutex mu_;
  std::map<std::string, State> users_ ABSL_GUARDED_BY(mu_);  // slot\nuser
  std::map<std::string, absl::Duration> last_full_scan_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<InotifyWatcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> rescan_pending_ ABSL_GUARDED_BY(mu_);        // slots
  std::map<std::string, uint64_t> change_seq_ ABSL_GUARDED_BY(mu_);  // per slot
  Fd stop_events_;  // an eventfd that ends the event thread
  std::thread events_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHANGE_TRACKER_H_
