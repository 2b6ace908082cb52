#include "replicator/sync/dir_walker.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace slotkeeper::sync {
namespace {

// Lists and walks the directory `fd` (at `rel`, `depth`). `*entered` tells
// the caller whether it could be listed (and so whether Left is due).
absl::Status WalkBelow(int fd, const std::string& rel, int depth, DirVisitor* visitor,
                       bool* entered) {
  *entered = false;
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDir(fd);
  if (!entries.ok()) return visitor->Unreadable(rel, entries.status());
  *entered = true;
  const WalkDir dir{fd, rel, depth};
  SK_RETURN_IF_ERROR(visitor->Listed(dir, &*entries));
  for (const DirEntry& entry : *entries) {
    const std::string sub_rel = rel.empty() ? entry.name : absl::StrCat(rel, "/", entry.name);
    SK_ASSIGN_OR_RETURN(const bool enter, visitor->Visit(dir, entry, sub_rel));
    if (!enter) continue;
    bool sub_entered = false;
    {
      absl::StatusOr<Fd> sub = OpenSubdir(fd, entry.name);
      if (!sub.ok()) {
        SK_RETURN_IF_ERROR(visitor->Unreadable(sub_rel, sub.status()));
        continue;
      }
      SK_RETURN_IF_ERROR(WalkBelow(sub->get(), sub_rel, depth + 1, visitor, &sub_entered));
    }
    if (sub_entered) SK_RETURN_IF_ERROR(visitor->Left(dir, entry, sub_rel));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<DirEntry>> ReadDir(int dirfd) {
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "dup");
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, "fdopendir");
  }
  // The duplicate shares its position with `dirfd`: start from the top.
  rewinddir(dir);
  std::vector<DirEntry> out;
  errno = 0;
  while (struct dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    out.push_back({e->d_name, e->d_type});
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return ErrnoStatus(err, "readdir");
  return out;
}

absl::StatusOr<Fd> OpenSubdir(int dirfd, absl::string_view name) {
  const std::string n(name);
  int fd = openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open directory \"", name, "\""));
  return Fd(fd);
}

bool IsDirectory(int dirfd, const DirEntry& entry) {
  if (entry.type != DT_UNKNOWN) return entry.type == DT_DIR;
  struct stat st;
  return fstatat(dirfd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

absl::Status WalkTree(int root, DirVisitor* visitor) {
  bool entered = false;
  return WalkBelow(root, "", 0, visitor, &entered);
}

}  // namespace slotkeeper::sync
