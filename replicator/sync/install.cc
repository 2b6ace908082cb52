#include "replicator/sync/install.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/quarantine_purge.h"

namespace slotkeeper::sync {
namespace {

// Metadata (owner first: a change of owner may clear mode bits), rename
// into place and the hash cache for a verified file.
absl::Status Install(const UserSyncContext& ctx, const std::string& user, int dirfd, int file_fd,
                     const std::string& temp, const ManifestEntry& want) {
  auto [dir, base] = SplitDirBase(want.path());
  (void)dir;
  const std::string name(base);
  if (ctx.options.owner.mode != OwnerOptions::Mode::kNone) {
    if (absl::Status s = ctx.fs->SetOwner(dirfd, temp, want.uid(), want.gid()); !s.ok()) return s;
  }
  if (absl::Status s = ctx.fs->SetMetadata(dirfd, temp, want.mtime_ns(), want.mode()); !s.ok()) {
    return s;
  }
  if (absl::Status s = PlaceFile(ctx, user, dirfd, temp, dirfd, name, want.path()); !s.ok()) {
    return s;
  }
  ctx.counters->files_copied++;
  struct stat st;
  if (ctx.cache != nullptr && fstat(file_fd, &st) == 0) {
    ctx.cache->Store(HashCacheKey(ctx.target_scope, user, want.path()), StampOf(st), want.hash());
  }
  return absl::OkStatus();
}

// A non-message file was replaced and its old version kept as `kept_id`:
// the versions kept before it go (one old version per file is enough to
// undo a bad update; every version would fill the quarantine).
void DropSuperseded(const UserSyncContext& ctx, const std::string& user, const std::string& path,
                    const std::string& kept_id) {
  absl::StatusOr<uint64_t> dropped = DropOlderVersions(*ctx.quarantine, user, path, kept_id);
  if (!dropped.ok()) {
    LogWarning("sync", absl::StrCat("slot ", ctx.target_scope, ", user ", user,
                                    ": older quarantined versions of ", path,
                                    " not dropped: ", dropped.status().message()));
  }
}

}  // namespace

absl::StatusOr<int> DirCache::Get(absl::string_view dir) {
  if (dir.empty()) return user_dir_;
  absl::MutexLock lock(&mu_);
  auto it = dirs_.find(std::string(dir));
  if (it != dirs_.end()) return it->second.get();
  absl::StatusOr<Fd> fd = OpenDirBeneath(user_dir_, dir, /*create=*/true);
  if (!fd.ok()) return fd.status();
  int raw = fd->get();
  dirs_.emplace(std::string(dir), *std::move(fd));
  return raw;
}

size_t DirCache::size() const {
  absl::MutexLock lock(&mu_);
  return dirs_.size() + 1;
}

absl::Status DirCache::SyncAll(TargetFs* fs) {
  absl::MutexLock lock(&mu_);
  absl::Status status = fs->Sync(user_dir_);
  for (auto& [name, fd] : dirs_) status.Update(fs->Sync(fd.get()));
  return status;
}

std::string NewTempName() {
  static std::atomic<uint64_t> counter{0};
  static const pid_t pid = getpid();
  return absl::StrCat(kTempPrefix, pid, "-", counter.fetch_add(1));
}

std::optional<HashCache::StoredHash> HashOfPlacedFile(const UserSyncContext& ctx,
                                                      const std::string& user, int dirfd,
                                                      const std::string& name,
                                                      const std::string& path,
                                                      const std::string& hash) {
  struct stat st;
  if (ctx.cache == nullptr || fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::nullopt;
  }
  return HashCache::StoredHash{HashCacheKey(ctx.target_scope, user, path), StampOf(st), hash};
}

absl::Status PlaceFile(const UserSyncContext& ctx, const std::string& user, int from_dir,
                       const std::string& from, int to_dir, const std::string& name,
                       const std::string& want_path) {
  absl::Status renamed = ctx.fs->RenameNoReplace(from_dir, from, to_dir, name);
  if (!absl::IsAlreadyExists(renamed)) return renamed;
  // The old version stays listed in the quarantine under a second name, and
  // the new one replaces it in one rename: the path always holds one of
  // them, whatever fails in between (a full disk fails the link, and the
  // old version stays in place).
  QuarantineNote note;
  note.reason = kReasonOverwritten;
  if (ctx.cache != nullptr) {
    struct stat st;
    if (fstatat(to_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      note.hash = ctx.cache->Lookup(HashCacheKey(ctx.target_scope, user, want_path), StampOf(st))
                      .value_or("");
    }
  }
  absl::StatusOr<v1::QuarantineItem> kept =
      ctx.quarantine->Keep(user, want_path, to_dir, name, note);
  if (kept.ok()) {
    ctx.counters->files_quarantined++;
    absl::Status s = ctx.fs->Rename(from_dir, from, to_dir, name);
    if (s.ok()) DropSuperseded(ctx, user, want_path, kept->id());
    return s;
  }
  if (!absl::IsPermissionDenied(kept.status()) && !absl::IsInternal(kept.status())) {
    return kept.status();
  }
  // No second names on this filesystem (EPERM, EXDEV): move the old version
  // aside, then rename.
  absl::StatusOr<v1::QuarantineItem> moved = ctx.quarantine->Move(user, want_path, note);
  if (!moved.ok()) return moved.status();
  ctx.counters->files_quarantined++;
  absl::Status s = ctx.fs->RenameNoReplace(from_dir, from, to_dir, name);
  if (s.ok()) DropSuperseded(ctx, user, want_path, moved->id());
  return s;
}

absl::Status VerifyAndInstall(const UserSyncContext& ctx, const std::string& user, int dirfd,
                              int file_fd, const std::string& temp, const ManifestEntry& want) {
  if (ctx.options.verify_written) {
    absl::StatusOr<std::string> on_disk = HashFd(file_fd);
    if (!on_disk.ok() || *on_disk != want.hash()) {
      ctx.counters->files_failed_verify++;
      (void)ctx.fs->Unlink(dirfd, temp);
      return absl::DataLossError(absl::StrCat(
          want.path(), ": written file does not match the source hash; not installed"));
    }
  }
  absl::Status s = Install(ctx, user, dirfd, file_fd, temp, want);
  if (!s.ok()) (void)ctx.fs->Unlink(dirfd, temp);
  return s;
}

absl::StatusOr<StagedFile> StageFile(int dirfd, const std::string& temp, const ManifestEntry& want,
                                     Fd* file) {
  int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return ErrnoStatus(errno, "dup of a directory descriptor");
  return StagedFile{Fd(dup), temp, want, std::move(*file)};
}

absl::Status InstallStaged(const UserSyncContext& ctx, const std::string& user,
                           std::vector<StagedFile>* files) {
  absl::Status status;
  for (StagedFile& f : *files) {
    status.Update(VerifyAndInstall(ctx, user, f.dir.get(), f.file.get(), f.temp, f.want));
  }
  files->clear();
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("user ", user, ": ", status.message()));
  }
  return status;
}

void DiscardStaged(TargetFs* fs, std::vector<StagedFile>* files) {
  for (StagedFile& f : *files) (void)fs->Unlink(f.dir.get(), f.temp);
  files->clear();
}

}  // namespace slotkeeper::sync
