// The filesystem seam for the replica side's writes.
//
// Every write the data path makes on a replica goes through a TargetFs, so
// tests can inject faults (a full disk, a corrupted write) the way leveldb's
// fault-injection Env does. Reads (scans, read-back verification) go to the
// real filesystem: a fault there is a fault of the data. Implementations must
// be thread-safe; the default one is stateless.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_TARGET_FS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_TARGET_FS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {

class TargetFs {
 public:
  virtual ~TargetFs() = default;
  // Creates `name` in `dirfd` exclusively (O_EXCL|O_NOFOLLOW), read-write.
  virtual absl::StatusOr<Fd> CreateFile(int dirfd, const std::string& name, mode_t mode);
  // Opens an existing regular file `name` in `dirfd` for writing at its
  // end: a partly fetched file being resumed. Anything else there (a FIFO,
  // a device, a symlink) is refused without blocking (OpenRegularFile).
  virtual absl::StatusOr<Fd> OpenForAppend(int dirfd, const std::string& name);
  // Writes all of `data` at the current position.
  virtual absl::Status Write(int fd, const char* data, size_t n);
  virtual absl::Status Sync(int fd);
  // Flushes the whole filesystem holding `fd` (syncfs).
  virtual absl::Status SyncFilesystem(int fd);
  virtual absl::Status Rename(int from_dir, const std::string& from, int to_dir,
                              const std::string& to);
  // Like Rename, but never replaces: ALREADY_EXISTS when `to` exists
  // (renameat2 RENAME_NOREPLACE, atomic; a check-then-rename on filesystems
  // without it). One call where a stat and a rename would be two.
  virtual absl::Status RenameNoReplace(int from_dir, const std::string& from, int to_dir,
                                       const std::string& to);
  // Sets permission bits (masked to 0777: never setuid, setgid or sticky)
  // and mtime (atime := mtime) of the regular file `name` in `dirfd`,
  // through a descriptor of the file itself: a symlink, FIFO or device
  // there is refused (FAILED_PRECONDITION), never followed.
  virtual absl::Status SetMetadata(int dirfd, const std::string& name, int64_t mtime_ns,
                                   uint32_t mode);
  // Sets the numeric owner and group of `name` in `dirfd` ("" for `dirfd`
  // itself) without following symlinks.
  virtual absl::Status SetOwner(int dirfd, const std::string& name, uint32_t uid, uint32_t gid);
  // A second name `to` (in `to_dir`) for the file `from` (in `from_dir`):
  // how the quarantine keeps a file's old content while a new version
  // replaces it in one rename. ALREADY_EXISTS when `to` exists.
  virtual absl::Status Link(int from_dir, const std::string& from, int to_dir,
                            const std::string& to);
  // Removes `name` if it is an empty directory; OK (and nothing done) when
  // it is not empty or gone.
  virtual absl::Status RemoveEmptyDir(int dirfd, const std::string& name);
  // Only for the data path's own temporary files.
  virtual absl::Status Unlink(int dirfd, const std::string& name);
};

// The real filesystem. Never null; never deleted.
TargetFs* DefaultTargetFs();

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_TARGET_FS_H_
