#include "replicator/sync/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/log.h"

namespace slotkeeper::sync {
namespace {

// Renames from (dir, name) to the quarantine destination dir/base, adding a
// ".N" suffix while the name is taken.
absl::Status MoveInto(int from_dir, const std::string& from_name, int to_dir,
                      const std::string& to_base, TargetFs* fs) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string name = attempt == 0 ? to_base : absl::StrCat(to_base, ".", attempt);
    struct stat st;
    if (fstatat(to_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    return fs->Rename(from_dir, from_name, to_dir, name);
  }
  return absl::ResourceExhaustedError(absl::StrCat("quarantine: too many copies of ", to_base));
}

absl::Status RemoveTree(int dirfd, const std::string& name) {
  int fd = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOTDIR || errno == ELOOP) {
      if (unlinkat(dirfd, name.c_str(), 0) != 0) {
        return ErrnoStatus(errno, absl::StrCat("unlink ", name));
      }
      return absl::OkStatus();
    }
    return ErrnoStatus(errno, absl::StrCat("open ", name));
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return ErrnoStatus(errno, "fdopendir");
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  absl::Status status;
  for (const std::string& n : names) {
    status.Update(RemoveTree(::dirfd(dir), n));
  }
  closedir(dir);
  if (!status.ok()) return status;
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
  }
  return absl::OkStatus();
}

}  // namespace

std::string QuarantineDay(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

absl::Status QuarantineFile(int slot_root, absl::string_view user, absl::string_view path,
                            Clock* clock, TargetFs* fs) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  auto [dir, base] = SplitDirBase(path);
  // A leftover of an interrupted sync (a temporary file, named with
  // kTempPrefix) is quarantined too: only its own name may carry the prefix;
  // every other rule applies to the path as usual.
  std::string checked(path);
  if (absl::StartsWith(base, kTempPrefix)) {
    checked =
        absl::StrCat(path.substr(0, path.size() - base.size()), base.substr(kTempPrefix.size()));
  }
  if (absl::Status s = ValidateRelativePath(checked); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\": ", s.message()));
  }
  absl::StatusOr<Fd> from = OpenDirBeneath(slot_root, absl::StrCat("users/", user), false);
  if (!from.ok()) return from.status();
  if (!dir.empty()) {
    from = OpenDirBeneath(from->get(), dir, false);
    if (!from.ok()) return from.status();
  }
  std::string to_rel = absl::StrCat(kQuarantineDir, "/", QuarantineDay(clock->Now()), "/", user);
  if (!dir.empty()) absl::StrAppend(&to_rel, "/", dir);
  absl::StatusOr<Fd> to = OpenDirBeneath(slot_root, to_rel, true);
  if (!to.ok()) return to.status();
  return MoveInto(from->get(), std::string(base), to->get(), std::string(base), fs);
}

absl::Status QuarantineUserDir(int slot_root, absl::string_view user, Clock* clock, TargetFs* fs) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  absl::StatusOr<Fd> users = OpenDirBeneath(slot_root, "users", false);
  if (!users.ok()) return users.status();
  absl::StatusOr<Fd> to = OpenDirBeneath(
      slot_root, absl::StrCat(kQuarantineDir, "/", QuarantineDay(clock->Now())), true);
  if (!to.ok()) return to.status();
  return MoveInto(users->get(), std::string(user), to->get(), std::string(user), fs);
}

absl::StatusOr<int> PurgeQuarantine(int slot_root, int keep_days, Clock* clock) {
  if (keep_days < 0) {
    return absl::InvalidArgumentError("quarantine keep_days is negative");
  }
  absl::StatusOr<Fd> q = OpenDirBeneath(slot_root, std::string(kQuarantineDir), false);
  if (!q.ok()) {
    if (absl::IsNotFound(q.status())) return 0;
    return q.status();
  }
  const std::string cutoff = QuarantineDay(clock->Now() - absl::Hours(24) * keep_days);
  int fd = fcntl(q->get(), F_DUPFD_CLOEXEC, 0);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return ErrnoStatus(errno, "fdopendir .quarantine");
  }
  std::vector<std::string> days;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    absl::Time t;
    std::string err;
    if (name.size() == 10 && absl::ParseTime("%Y-%m-%d", name, absl::UTCTimeZone(), &t, &err) &&
        name < cutoff) {
      days.push_back(name);
    }
  }
  closedir(dir);
  int removed = 0;
  for (const std::string& day : days) {
    if (absl::Status s = RemoveTree(q->get(), day); !s.ok()) return s;
    LogInfo("sync", absl::StrCat("purged quarantine day ", day));
    ++removed;
  }
  return removed;
}

}  // namespace slotkeeper::sync
