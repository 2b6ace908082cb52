// Reading and walking directory trees through file descriptors.
//
// Every directory is entered with openat(O_DIRECTORY | O_NOFOLLOW) below the
// one before it, so a walk never follows a symlink out of the tree it
// started in, whatever is renamed meanwhile. WalkTree is depth first and
// hands each entry to a DirVisitor, which decides what to record, whether to
// enter a subdirectory, and what an unreadable directory means (stop or
// skip). Every tree walk of the data path (manifest scans, change-tracker
// fingerprints, inotify watch set-up, quarantine purges) and the agent's slot
// usage scan is a visitor.
//
// Thread-safety: free functions; a walk uses only its visitor and the
// descriptors it opens, so walks on several threads are independent. A
// visitor is used by one walk at a time.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_DIR_WALKER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_DIR_WALKER_H_

#include <dirent.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {

// One name in a directory, as readdir gives it.
struct DirEntry {
  std::string name;
  // d_type: DT_DIR, DT_REG, DT_LNK, ...; DT_UNKNOWN when the filesystem does
  // not say (then only an fstatat can tell).
  unsigned char type = DT_UNKNOWN;
};

// The entries of the open directory `dirfd`, without "." and "..", in
// readdir order. `dirfd` is neither moved nor closed.
absl::StatusOr<std::vector<DirEntry>> ReadDir(int dirfd);

// Opens the directory `name` (one component) in `dirfd` with O_DIRECTORY and
// O_NOFOLLOW: NOT_FOUND when it is gone, FAILED_PRECONDITION when it is a
// symlink or not a directory.
absl::StatusOr<Fd> OpenSubdir(int dirfd, absl::string_view name);

// Whether `entry` of `dirfd` is a directory (not a symlink to one): d_type
// when the filesystem gives it, else an fstatat.
bool IsDirectory(int dirfd, const DirEntry& entry);

// A directory during a walk, as its visitor sees it.
struct WalkDir {
  int fd;                  // open for every call about this directory
  const std::string& rel;  // path relative to the walk's root; "" for the root
  int depth;               // 0 for the root, 1 for its subdirectories, ...
};

// What a walk does at each directory and entry. Every method but Visit has a
// default; an error returned by any method stops the walk and is what
// WalkTree returns.
class DirVisitor {
 public:
  virtual ~DirVisitor() = default;
  // `dir` was opened and listed: `entries` may be filtered or reordered
  // before they are visited (in the order left in the vector).
  virtual absl::Status Listed(const WalkDir& dir, std::vector<DirEntry>* entries) {
    return absl::OkStatus();
  }
  // One entry of `dir`; `rel` is its path relative to the root. True to walk
  // into it, which only a directory can be (the walker opens it with
  // O_NOFOLLOW; see Unreadable).
  virtual absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& entry,
                                     const std::string& rel) = 0;
  // After the walk into `entry` of `dir` ended (the entry's own descriptor
  // is closed). Only for entries that were entered: opened and listed.
  virtual absl::Status Left(const WalkDir& dir, const DirEntry& entry, const std::string& rel) {
    return absl::OkStatus();
  }
  // The directory `rel` could not be opened or listed (gone, replaced by a
  // symlink, unreadable): OK skips it, an error stops the walk. By default
  // the walk stops.
  virtual absl::Status Unreadable(const std::string& rel, const absl::Status& error) {
    return error;
  }
};

// Walks the tree below the open directory `root` (not closed), depth first:
// Listed(root), then each entry in turn, each subdirectory the visitor
// enters walked completely before the next entry. The root's own listing
// failing goes to Unreadable("") as well.
absl::Status WalkTree(int root, DirVisitor* visitor);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_DIR_WALKER_H_
