#include "replicator/sync/slot_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"

namespace slotkeeper::sync {

std::string UserDirPath(absl::string_view user) { return absl::StrCat(kUsersDir, "/", user); }

absl::StatusOr<Fd> OpenUsersDir(int slot_root) {
  return OpenDirBeneath(slot_root, kUsersDir, /*create=*/false);
}

absl::StatusOr<Fd> OpenUserDir(int slot_root, absl::string_view user, bool create) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  return OpenDirBeneath(slot_root, UserDirPath(user), create);
}

absl::StatusOr<std::vector<std::string>> ListSlotUsers(int slot_root) {
  absl::StatusOr<Fd> users = OpenUsersDir(slot_root);
  if (!users.ok()) {
    if (absl::IsNotFound(users.status())) return std::vector<std::string>();
    return users.status();
  }
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDir(users->get());
  if (!entries.ok()) return entries.status();
  std::vector<std::string> out;
  for (const DirEntry& e : *entries) {
    struct stat st;
    if (fstatat(users->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      LogWarning("sync", absl::StrCat(UserDirPath(e.name), " is not a directory; skipped"));
      continue;
    }
    if (absl::Status s = ValidateUserName(e.name); !s.ok()) {
      LogWarning("sync", absl::StrCat(UserDirPath(e.name), " skipped: ", s.message()));
      continue;
    }
    out.push_back(e.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> ReadStoreMarker(int slot_root) {
  const std::string name(kStoreMarker);
  int fd = openat(slot_root, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", name));
  Fd file(fd);
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0) return ErrnoStatus(errno, absl::StrCat("read ", name));
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))));
}

absl::Status WriteStoreMarker(int slot_root, const std::string& store, TargetFs* fs) {
  const std::string temp = absl::StrCat(kTempPrefix, "store");
  (void)fs->Unlink(slot_root, temp);
  absl::StatusOr<Fd> fd = fs->CreateFile(slot_root, temp, 0644);
  if (!fd.ok()) return fd.status();
  const std::string content = store + "\n";
  absl::Status s = fs->Write(fd->get(), content.data(), content.size());
  if (s.ok()) s = fs->Sync(fd->get());
  if (s.ok()) s = fs->Rename(slot_root, temp, slot_root, std::string(kStoreMarker));
  if (s.ok()) s = fs->Sync(slot_root);
  if (!s.ok()) (void)fs->Unlink(slot_root, temp);
  return s;
}

}  // namespace slotkeeper::sync
