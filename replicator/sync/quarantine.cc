#include "replicator/sync/quarantine.h"

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
#include "replicator/sync/dir_walker.h"

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

// Removes everything below a directory, deepest first. It goes on after a
// failure (as much as can go, goes) and keeps the first error; a directory
// still holding something then stays.
class TreeRemover : public DirVisitor {
 public:
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e, const std::string&) override {
    if (IsDirectory(dir.fd, e)) return true;
    if (unlinkat(dir.fd, e.name.c_str(), 0) != 0) {
      status_.Update(ErrnoStatus(errno, absl::StrCat("unlink ", e.name)));
    }
    return false;
  }
  absl::Status Left(const WalkDir& dir, const DirEntry& e, const std::string&) override {
    if (unlinkat(dir.fd, e.name.c_str(), AT_REMOVEDIR) != 0) {
      status_.Update(ErrnoStatus(errno, absl::StrCat("rmdir ", e.name)));
    }
    return absl::OkStatus();
  }
  absl::Status Unreadable(const std::string&, const absl::Status& error) override {
    status_.Update(error);
    return absl::OkStatus();
  }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

// Removes `name` in `dirfd`: a file, or a directory with everything in it.
absl::Status RemoveTree(int dirfd, const std::string& name) {
  absl::StatusOr<Fd> dir = OpenSubdir(dirfd, name);
  if (!dir.ok()) {
    if (absl::IsFailedPrecondition(dir.status())) {  // not a directory
      if (unlinkat(dirfd, name.c_str(), 0) != 0) {
        return ErrnoStatus(errno, absl::StrCat("unlink ", name));
      }
      return absl::OkStatus();
    }
    return dir.status();
  }
  TreeRemover remover;
  if (absl::Status s = WalkTree(dir->get(), &remover); !s.ok()) return s;
  if (!remover.status().ok()) return remover.status();
  *dir = Fd();
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
  absl::StatusOr<Fd> from = OpenUserDir(slot_root, user, /*create=*/false);
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
  absl::StatusOr<Fd> users = OpenUsersDir(slot_root);
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
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDir(q->get());
  if (!entries.ok()) return entries.status();
  std::vector<std::string> days;
  for (const DirEntry& e : *entries) {
    absl::Time t;
    std::string err;
    if (e.name.size() == 10 && absl::ParseTime("%Y-%m-%d", e.name, absl::UTCTimeZone(), &t, &err) &&
        e.name < cutoff) {
      days.push_back(e.name);
    }
  }
  int removed = 0;
  for (const std::string& day : days) {
    if (absl::Status s = RemoveTree(q->get(), day); !s.ok()) return s;
    LogInfo("sync", absl::StrCat("purged quarantine day ", day));
    ++removed;
  }
  return removed;
}

}  // namespace slotkeeper::sync
