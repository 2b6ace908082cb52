// Safe names and paths for the data path.
//
// Everything the data path touches lives under a slot root (slot_layout.h).
// Names and relative paths arrive from the network (a peer's manifest) and
// from operators, so every one is validated before use, and every directory
// is opened component by component with O_NOFOLLOW, so a symlink can never
// lead a sync out of the slot. Thread-safe: free functions; Fd is a plain
// owning handle.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_PATHS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_PATHS_H_

#include <sys/stat.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slotkeeper::sync {

inline constexpr size_t kMaxRelativePathBytes = 4096;
// One component of a path (a file or directory name): NAME_MAX of Linux
// filesystems.
inline constexpr size_t kMaxNameComponentBytes = 255;
// Temporary files of an unfinished transfer start with this; manifests skip
// them and a new sync removes stale ones.
inline constexpr absl::string_view kTempPrefix = ".slotsync-";

// A user name: the cluster's one name rule (model::ValidateName with
// NameKind::kUser: non-empty, at most model::kMaxNameBytes, printable ASCII
// without space or '/', no leading '.' or '-'), and, whatever that rule
// allows, exactly one path component (not "." or ".."), since it names the
// directory users/<user>. INVALID_ARGUMENT names the problem.
absl::Status ValidateUserName(absl::string_view user);

// A path relative to a user directory: '/' separated, not absolute, no empty,
// "." or ".." component, at most kMaxRelativePathBytes, each component at
// most kMaxNameComponentBytes and none starting with kTempPrefix, and no
// control character (bytes below 0x20, NUL included, and 0x7f) anywhere.
// Paths from a peer end up in logs, terminals and other tools' input: a
// newline would forge a log line, an escape sequence rewrite a terminal.
// Bytes >= 0x80 (UTF-8 folder names) are allowed.
absl::Status ValidateRelativePath(absl::string_view path);

// An owned file descriptor; closes on destruction. -1 when empty.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// absl::Status for a failed system call: the code follows errno (ENOENT ->
// NOT_FOUND, ENOSPC/EDQUOT -> RESOURCE_EXHAUSTED, ELOOP/ENOTDIR ->
// FAILED_PRECONDITION, EINVAL -> INVALID_ARGUMENT, ...) and the message
// names `what`.
absl::Status ErrnoStatus(int err, absl::string_view what);

// Opens the directory `rel` (validated relative path, or "" for `dirfd`
// itself) below `dirfd`, one component at a time with O_NOFOLLOW. With
// `create`, missing components are created (mode 0755). A symlink anywhere
// on the way is refused (FAILED_PRECONDITION).
absl::StatusOr<Fd> OpenDirBeneath(int dirfd, absl::string_view rel, bool create);

// Opens the existing file `name` (one component) in `dirfd` for reading
// (`flags` adds e.g. O_DIRECT or O_RDWR|O_APPEND in place of O_RDONLY) and
// returns it only if it is a regular file, with its stat in `*st`.
//
// Always O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC: a FIFO or a device put where a
// file was is opened without waiting (an open for reading of a FIFO
// blocks until a writer comes, for good) and then refused by the fstat of
// the open descriptor (FAILED_PRECONDITION "... is not a regular file"); a
// symlink is never followed (FAILED_PRECONDITION). The check is on the
// descriptor, so a name swapped between a stat and the open cannot slip
// through. O_NONBLOCK has no effect on reads and writes of regular files.
absl::StatusOr<Fd> OpenRegularFile(int dirfd, const std::string& name, int flags, struct stat* st);

// Opens an absolute directory path (a slot root given by configuration).
absl::StatusOr<Fd> OpenRootDir(const std::string& path);

// Splits "a/b/c" into ("a/b", "c"); ("", "c") for "c".
std::pair<absl::string_view, absl::string_view> SplitDirBase(absl::string_view path);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_PATHS_H_
