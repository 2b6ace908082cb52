#include "replicator/sync/source_files.h"

#include <errno.h>
#include <fcntl.h>

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

absl::StatusOr<ServeScope> ServeScopeOf(int slot_root, int user_dir) {
  struct stat root;
  if (fstat(slot_root, &root) != 0) return ErrnoStatus(errno, "fstat slot root");
  absl::StatusOr<ServeScope> scope = ServeScopeOfUserDir(user_dir);
  if (!scope.ok()) return scope;
  if (scope->device != root.st_dev) {
    return absl::FailedPreconditionError(
        "user directory is on another filesystem than its slot; not served");
  }
  return scope;
}

absl::StatusOr<ServeScope> ServeScopeOfUserDir(int user_dir) {
  struct stat dir;
  if (fstat(user_dir, &dir) != 0) return ErrnoStatus(errno, "fstat user directory");
  return ServeScope{dir.st_dev, dir.st_uid};
}

absl::Status CheckServable(const ServeScope& scope, const struct stat& st, absl::string_view rel) {
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(rel, " is not a regular file"));
  }
  if (st.st_dev != scope.device) {
    return absl::FailedPreconditionError(
        absl::StrCat(rel, " is on another filesystem than its slot; not served"));
  }
  if (st.st_nlink > 1 && st.st_uid != scope.user_owner) {
    return absl::FailedPreconditionError(absl::StrCat(
        rel, " is a hard link (", st.st_nlink, " links) to a file owned by uid ", st.st_uid,
        ", not by the user directory's owner (uid ", scope.user_owner, "); not served"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Fd> OpenServable(int dirfd, const std::string& name, absl::string_view rel,
                                const ServeScope& scope, struct stat* st, int flags) {
  absl::StatusOr<Fd> file = OpenRegularFile(dirfd, name, O_RDONLY | flags, st);
  if (!file.ok()) {
    return absl::Status(file.status().code(), absl::StrCat(rel, ": ", file.status().message()));
  }
  if (absl::Status s = CheckServable(scope, *st, rel); !s.ok()) return s;
  return file;
}

}  // namespace slotkeeper::sync
