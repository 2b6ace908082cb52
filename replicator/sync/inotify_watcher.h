// Recursive inotify watches on a slot's users/ tree.
//
// The source side's change tracker asks Drain() which users changed since the
// last call. inotify events are queued by the kernel when the change
// happens, so a change completed before Drain() is always reported (no
// timestamp races). New directories get watches as they appear; a queue
// overflow, or a directory that could not be watched, is reported as
// `rescan_all` so the caller falls back to a scan. Symlinks are never
// followed (IN_DONT_FOLLOW). A slot without users/ yet (a spare slot, about
// to be seeded or filled) is watched from the Drain() that first finds it;
// until then, and once for what came before the watch, Drain() says
// `rescan_all`.
//
// For delta manifests, Drain() also names the paths (relative to the user
// directory) that events named. A change that cannot be described by file
// paths alone (a directory created, removed, moved or changed, an event on a
// watched directory itself) puts the user in `untracked`: the caller must
// not offer a delta for it across this drain.
//
// Maildir delivery directories (tmp/ of a Maildir folder, maildir.h) get no
// watch: what is written there is never replicated, and a delivery is seen
// once, when it is renamed into new/ or cur/. A tmp/ created before its
// folder's cur/ is watched like any directory (it only costs events).
//
// Not thread-safe: the owner (ChangeTracker) serialises calls.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_INOTIFY_WATCHER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_INOTIFY_WATCHER_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {

class InotifyWatcher {
 public:
  // Watches `slot_path`/users and everything below it. RESOURCE_EXHAUSTED
  // when the watch limit (fs.inotify.max_user_watches) is reached.
  static absl::StatusOr<std::unique_ptr<InotifyWatcher>> Start(const std::string& slot_path);

  struct Changes {
    std::set<std::string> users;
    // user -> paths relative to the user directory (files only).
    std::map<std::string, std::set<std::string>> paths;
    std::set<std::string> untracked;  // users whose paths are incomplete
    bool rescan_all = false;
  };
  // Reads every queued event without blocking.
  Changes Drain();

  // The inotify descriptor: readable when events are queued (poll(2)).
  int fd() const { return fd_.get(); }
  size_t watch_count() const { return watches_.size(); }
  // False once a directory could not be watched: its changes may never be
  // reported, so paths from Drain() are no longer complete.
  bool complete() const { return complete_; }

 private:
  class WatchAdder;
  InotifyWatcher(Fd fd, std::string slot_path)
      : fd_(std::move(fd)),
        slot_path_(std::move(slot_path)),
        users_path_(absl::StrCat(slot_path_, "/", kUsersDir)) {}
  // The directory `rel` (relative to users/), opened without following
  // symlinks.
  absl::StatusOr<Fd> OpenBelowUsers(const std::string& rel) const;
  // Whether `name` in the directory `parent` (relative to users/) is a
  // Maildir delivery directory.
  bool IsDeliveryPath(const std::string& parent, const std::string& name) const;
  // Adds watches on `rel` (relative to users/) and its subdirectories,
  // Maildir delivery directories left out.
  absl::Status WatchTree(const std::string& rel);
  // Adds a watch on `rel` alone. False when it is gone (or not a
  // directory); an error when the watch could not be added.
  absl::StatusOr<bool> AddWatch(const std::string& rel);

  Fd fd_;
  const std::string slot_path_;
  const std::string users_path_;
  std::map<int, std::string> watches_;  // wd -> path relative to users/ ("" = users/)
  bool broken_ = false;                 // a watch could not be added
  bool root_watched_ = false;           // users/ itself has a watch
  bool complete_ = true;                // no watch ever failed
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_INOTIFY_WATCHER_H_
