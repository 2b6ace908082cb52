#include "replicator/sync/slot_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

namespace {

// Replaces the one-line file `name` in the slot root with `line`: a
// temporary file (kTempPrefix + `temp_suffix`) made durable, renamed over
// it, then the root made durable.
absl::Status WriteSlotFile(int slot_root, absl::string_view name, absl::string_view temp_suffix,
                           const std::string& line, TargetFs* fs) {
  const std::string temp = absl::StrCat(kTempPrefix, temp_suffix);
  (void)fs->Unlink(slot_root, temp);
  absl::StatusOr<Fd> fd = fs->CreateFile(slot_root, temp, 0644);
  if (!fd.ok()) return fd.status();
  const std::string content = line + "\n";
  absl::Status s = fs->Write(fd->get(), content.data(), content.size());
  if (s.ok()) s = fs->Sync(fd->get());
  if (s.ok()) s = fs->Rename(slot_root, temp, slot_root, std::string(name));
  if (s.ok()) s = fs->Sync(slot_root);
  if (!s.ok()) (void)fs->Unlink(slot_root, temp);
  return s;
}

// A one-line file of the slot root, whitespace stripped.
absl::StatusOr<std::string> ReadSlotFile(int slot_root, absl::string_view name) {
  const std::string file(name);
  int fd = openat(slot_root, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", file));
  Fd closer(fd);
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0) return ErrnoStatus(errno, absl::StrCat("read ", file));
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))));
}

}  // namespace

absl::StatusOr<std::string> ReadStoreMarker(int slot_root) {
  return ReadSlotFile(slot_root, kStoreMarker);
}

absl::Status WriteStoreMarker(int slot_root, const std::string& store, TargetFs* fs) {
  return WriteSlotFile(slot_root, kStoreMarker, "store", store, fs);
}

absl::Status EnsureStoreMarker(int slot_root, const std::string& store, TargetFs* fs) {
  absl::StatusOr<std::string> now = ReadStoreMarker(slot_root);
  if (now.ok() && *now == store) return absl::OkStatus();
  return WriteStoreMarker(slot_root, store, fs);
}

std::string SlotIdentity::ToString() const {
  return absl::StrCat(instance_id, ":", device, ":", inode);
}

absl::StatusOr<SlotIdentity> ReadSlotIdentity(int slot_root) {
  SlotIdentity id;
  struct stat st;
  if (fstat(slot_root, &st) != 0) return ErrnoStatus(errno, "stat of the slot directory");
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  absl::StatusOr<std::string> instance = ReadSlotFile(slot_root, kInstanceFile);
  if (instance.ok()) {
    id.instance_id = *std::move(instance);
  } else if (!absl::IsNotFound(instance.status())) {
    return instance.status();
  }
  return id;
}

absl::StatusOr<SlotIdentity> EnsureSlotIdentity(int slot_root, TargetFs* fs) {
  absl::StatusOr<SlotIdentity> id = ReadSlotIdentity(slot_root);
  if (!id.ok() || !id->instance_id.empty()) return id;
  std::random_device random;
  const std::string instance =
      absl::StrFormat("%08x%08x%08x%08x", random(), random(), random(), random());
  if (absl::Status s = WriteSlotFile(slot_root, kInstanceFile, "instance", instance, fs); !s.ok())
    return s;
  id->instance_id = instance;
  return id;
}

}  // namespace slotkeeper::sync
