#include "replicator/sync/apply.h"

#include <errno.h>
#include <sys/stat.h>

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "replicator/sync/fetch.h"
#include "replicator/sync/install.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

absl::Status WithUser(const std::string& user, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("user ", user, ": ", s.message()));
}

// Step 1: leftovers of an interrupted sync are kept, not deleted; a partly
// fetched file that the plan still wants stays to be resumed.
absl::Status QuarantineLeftovers(const UserSyncContext& ctx, const std::string& user,
                                 const UserPlan& plan, const std::vector<std::string>& temps) {
  if (temps.empty()) return absl::OkStatus();
  std::set<std::string> resumable;
  for (const ManifestEntry& e : plan.fetches) resumable.insert(PartPath(e));
  QuarantineNote note;
  note.reason = kReasonLeftover;
  for (const std::string& t : temps) {
    if (resumable.count(t)) continue;
    SK_RETURN_IF_ERROR(ctx.quarantine->Move(user, t, note).status());
  }
  return absl::OkStatus();
}

// Step 2: files leaving their path first, so that renames and fetches find
// their destinations free.
absl::Status QuarantineDeparted(const UserSyncContext& ctx, const std::string& user,
                                const std::vector<Departure>& departures) {
  for (const Departure& d : departures) {
    QuarantineNote note{DepartureReason(ctx, user, d), d.hash};
    SK_RETURN_IF_ERROR(ctx.quarantine->Move(user, d.path, note).status());
    if (ctx.cache != nullptr) ctx.cache->Forget(HashCacheKey(ctx.target_scope, user, d.path));
    ctx.counters->files_quarantined++;
  }
  return absl::OkStatus();
}

// Creates missing directories and fixes those with another mode or owner:
// permission bits only, the owner per SyncOptions::owner.
absl::Status SetDirectories(const UserSyncContext& ctx, DirCache* dirs,
                            const std::vector<ManifestEntry>& entries) {
  for (const ManifestEntry& d : entries) {
    SK_ASSIGN_OR_RETURN(const int dirfd, dirs->Get(d.path()));
    if (ctx.options.owner.mode != OwnerOptions::Mode::kNone) {
      SK_RETURN_IF_ERROR(ctx.fs->SetOwner(dirfd, "", d.uid(), d.gid()));
    }
    if (fchmod(dirfd, d.mode() & kPermissionBits) != 0) {
      return ErrnoStatus(errno, absl::StrCat("chmod ", d.path()));
    }
  }
  return absl::OkStatus();
}

// Hash-cache changes of one user's renames, written at once.
struct CacheChanges {
  std::vector<HashCache::StoredHash> store;
  std::vector<std::string> forget;
};

// Step 3, one rename: the donor `from` (in `from_dir`) to `r.to`'s place;
// then the source's metadata unless the rename kept it, and the hash cached
// under the new name (the old one dropped).
absl::Status MoveToPlace(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                         int from_dir, const std::string& from, const LocalRename& r,
                         CacheChanges* cache_changes) {
  auto [dir, base] = SplitDirBase(r.to.path());
  SK_ASSIGN_OR_RETURN(const int dirfd, dirs->Get(dir));
  const std::string name(base);
  SK_RETURN_IF_ERROR(PlaceFile(ctx, user, from_dir, from, dirfd, name, r.to.path()));
  if (ctx.options.owner.mode != OwnerOptions::Mode::kNone && !r.KeepsOwner()) {
    SK_RETURN_IF_ERROR(ctx.fs->SetOwner(dirfd, name, r.to.uid(), r.to.gid()));
  }
  if (!r.KeepsTimesAndMode()) {
    SK_RETURN_IF_ERROR(ctx.fs->SetMetadata(dirfd, name, r.to.mtime_ns(), r.to.mode()));
  }
  if (std::optional<HashCache::StoredHash> h =
          HashOfPlacedFile(ctx, user, dirfd, name, r.to.path(), r.to.hash())) {
    cache_changes->store.push_back(*std::move(h));
  }
  // The donor's old name may be another rename's destination: HashCache
  // applies forgets before stores, so that file's entry stays.
  if (ctx.cache != nullptr) {
    cache_changes->forget.push_back(HashCacheKey(ctx.target_scope, user, r.from));
  }
  ctx.counters->files_renamed++;
  return absl::OkStatus();
}

// Step 3: a rename whose destination is another rename's donor must wait
// until that donor has left: those go through a temporary name (pass 2),
// so chains and swaps are safe. Every other one (a Maildir flag change, a
// move to cur/ or to another folder) is a single rename (pass 1).
absl::Status MoveAll(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                     const std::vector<LocalRename>& rs, CacheChanges* cache_changes) {
  std::set<absl::string_view> donors;
  for (const LocalRename& r : rs) donors.insert(r.from);
  std::vector<const LocalRename*> chained;
  for (const LocalRename& r : rs) {
    if (donors.count(r.to.path())) {
      chained.push_back(&r);
      continue;
    }
    auto [from_dir, from_base] = SplitDirBase(r.from);
    SK_ASSIGN_OR_RETURN(const int from_fd, dirs->Get(from_dir));
    SK_RETURN_IF_ERROR(
        MoveToPlace(ctx, user, dirs, from_fd, std::string(from_base), r, cache_changes));
  }
  // Pass 2: every remaining donor to a temporary name in its own directory
  // first, so that a rename into a path another donor still occupies cannot
  // clobber it; then each to its place.
  std::vector<std::pair<int, std::string>> parked;
  for (const LocalRename* r : chained) {
    auto [dir, base] = SplitDirBase(r->from);
    SK_ASSIGN_OR_RETURN(const int dirfd, dirs->Get(dir));
    std::string temp = NewTempName();
    SK_RETURN_IF_ERROR(ctx.fs->Rename(dirfd, std::string(base), dirfd, temp));
    parked.emplace_back(dirfd, std::move(temp));
  }
  for (size_t i = 0; i < chained.size(); ++i) {
    SK_RETURN_IF_ERROR(MoveToPlace(ctx, user, dirs, parked[i].first, parked[i].second, *chained[i],
                                   cache_changes));
  }
  return absl::OkStatus();
}

// Step 3: the renames, then what they did to the hash cache in one write,
// also after a failure part-way.
absl::Status ApplyRenames(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                          const std::vector<LocalRename>& rs) {
  CacheChanges changes;
  absl::Status s = MoveAll(ctx, user, dirs, rs, &changes);
  if (ctx.cache != nullptr) ctx.cache->Update(changes.store, changes.forget);
  return s;
}

// Step 3: same content, other mtime, mode or owner.
absl::Status FixMetadata(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                         const std::vector<ManifestEntry>& fixes) {
  for (const ManifestEntry& fix : fixes) {
    auto [dir, base] = SplitDirBase(fix.path());
    SK_ASSIGN_OR_RETURN(const int dirfd, dirs->Get(dir));
    const std::string name(base);
    if (ctx.options.owner.mode != OwnerOptions::Mode::kNone) {
      SK_RETURN_IF_ERROR(ctx.fs->SetOwner(dirfd, name, fix.uid(), fix.gid()));
    }
    SK_RETURN_IF_ERROR(ctx.fs->SetMetadata(dirfd, name, fix.mtime_ns(), fix.mode()));
    if (std::optional<HashCache::StoredHash> h =
            HashOfPlacedFile(ctx, user, dirfd, name, fix.path(), fix.hash())) {
      ctx.cache->Store(h->key, h->stamp, h->hash);
    }
    ctx.counters->metadata_fixed++;
  }
  return absl::OkStatus();
}

// Step 5: makes the renames durable: an fsync per directory when few were
// touched, else one syncfs; nothing when the caller syncs a whole group.
absl::Status SyncDirectories(const UserSyncContext& ctx, DirCache* dirs, int user_dir) {
  if (ctx.options.defer_directory_sync) return absl::OkStatus();
  const bool per_dir =
      ctx.options.durability == Durability::kPerFile ||
      (ctx.options.durability == Durability::kAuto && dirs->size() <= kAutoSyncfsMinDirs);
  return per_dir ? dirs->SyncAll(ctx.fs) : ctx.fs->SyncFilesystem(user_dir);
}

// Step 5: local-only directories go once empty; one still holding files
// stays.
void RemoveEmptyDirectories(const UserSyncContext& ctx, int user_dir,
                            const std::vector<std::string>& rmdirs) {
  for (const std::string& d : rmdirs) {
    auto [parent, base] = SplitDirBase(d);
    absl::StatusOr<Fd> parent_fd = OpenDirBeneath(user_dir, parent, false);
    if (!parent_fd.ok()) continue;
    (void)ctx.fs->RemoveEmptyDir(parent_fd->get(), std::string(base));
  }
}

}  // namespace

// Why a departing file leaves (apply.h): a message whose unique name the source no
// longer has was removed there (or, on an old master's first sync, is
// stranded: the new master lacks it and its deletion log does not list
// it); one whose name the source still has was rewritten.
std::string DepartureReason(const UserSyncContext& ctx, const std::string& user,
                            const Departure& d) {
  if (!d.message) return kReasonRemoved;
  if (!d.name_gone) return kReasonOverwritten;
  if (!ctx.stranded_check) return kReasonRemoved;
  if (ctx.deleted_at_source != nullptr) {
    auto it = ctx.deleted_at_source->find(user);
    if (it != ctx.deleted_at_source->end() && it->second.count(MaildirUniqueKey(d.path))) {
      return kReasonRemoved;
    }
  }
  return kReasonStranded;
}

absl::Status ApplyPlan(const UserSyncContext& ctx, const std::string& user, const UserPlan& plan,
                       const std::vector<std::string>& temps, std::vector<StagedFile>* staged,
                       const std::map<std::string, std::string>* inline_data) {
  SK_ASSIGN_OR_RETURN(const Fd user_dir, OpenUserDir(ctx.target_root, user, /*create=*/true));
  DirCache dirs(user_dir.get());
  SK_RETURN_IF_ERROR(QuarantineLeftovers(ctx, user, plan, temps));
  SK_RETURN_IF_ERROR(QuarantineDeparted(ctx, user, plan.quarantines));
  SK_RETURN_IF_ERROR(SetDirectories(ctx, &dirs, plan.mkdirs));
  SK_RETURN_IF_ERROR(SetDirectories(ctx, &dirs, plan.dir_fixes));
  SK_RETURN_IF_ERROR(ApplyRenames(ctx, user, &dirs, plan.renames));
  SK_RETURN_IF_ERROR(FixMetadata(ctx, user, &dirs, plan.metadata_fixes));
  std::vector<StagedFile>* const stage_into = StagingFor(ctx, plan.fetches.size(), staged);
  absl::StatusOr<std::vector<const ManifestEntry*>> to_fetch =
      WriteInlineFiles(ctx, user, &dirs, plan.fetches, inline_data, stage_into);
  if (!to_fetch.ok()) return WithUser(user, to_fetch.status());
  const FetchOutcome fetched = FetchInBatches(ctx, user, &dirs, *to_fetch, stage_into);
  const absl::Status dir_sync = SyncDirectories(ctx, &dirs, user_dir.get());
  if (!fetched.status.ok()) return WithUser(user, fetched.status);
  SK_RETURN_IF_ERROR(dir_sync);
  RemoveEmptyDirectories(ctx, user_dir.get(), plan.rmdirs);
  if (fetched.changed_at_source) {
    return absl::AbortedError(
        absl::StrCat("user ", user, ": some files changed at the source during the sync; retry"));
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper::sync
