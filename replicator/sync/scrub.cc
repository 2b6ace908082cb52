#include "replicator/sync/scrub.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

constexpr int kMaxDepth = 64;

struct UserFile {
  std::string rel;
  uint64_t size = 0;
};

// A user's regular files as manifests list them: no temporary files of
// the data path, Maildir tmp/ directories not entered, symlinks skipped.
class FileLister : public DirVisitor {
 public:
  explicit FileLister(std::vector<UserFile>* out) : out_(out) {}
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    if (absl::StartsWith(e.name, kTempPrefix)) return false;
    struct stat st;
    if (fstatat(dir.fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      if (dir.depth + 1 > kMaxDepth) {
        return absl::FailedPreconditionError(absl::StrCat("tree too deep at \"", rel, "\""));
      }
      return !IsDeliveryDir(dir.fd, e.name);
    }
    if (S_ISREG(st.st_mode) && ValidateRelativePath(rel).ok()) {
      out_->push_back(UserFile{rel, static_cast<uint64_t>(st.st_size)});
    }
    return false;
  }
  absl::Status Unreadable(const std::string&, const absl::Status& error) override {
    return absl::IsNotFound(error) ? absl::OkStatus() : error;
  }

 private:
  std::vector<UserFile>* const out_;
};

absl::StatusOr<std::vector<UserFile>> ListUserFiles(int slot_root, const std::string& user) {
  std::vector<UserFile> files;
  absl::StatusOr<Fd> dir = OpenUserDir(slot_root, user, /*create=*/false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return files;
    return dir.status();
  }
  FileLister lister(&files);
  if (absl::Status s = WalkTree(dir->get(), &lister); !s.ok()) return s;
  return files;
}

// The master's hashes of the user's files, when the replica's checkpoint
// says its copy equals the master's current generation; nullopt otherwise
// (no master, a change not yet replicated, any doubt).
std::optional<std::map<std::string, std::string>> MasterHashes(const ScrubContext& ctx,
                                                               const v1::ListUsersResponse& listing,
                                                               const std::string& user) {
  if (ctx.master == nullptr || ctx.checkpoints == nullptr) return std::nullopt;
  std::optional<CheckpointStore::Checkpoint> c = ctx.checkpoints->Get(ctx.slot, user);
  if (!c || !c->SameCopy(listing.instance_id(), ctx.master->source_slot(), ctx.identity)) {
    return std::nullopt;
  }
  bool at_checkpoint = false;
  for (const v1::UserSummary& u : listing.users()) {
    if (u.user() == user) at_checkpoint = u.generation() == c->generation;
  }
  if (!at_checkpoint) return std::nullopt;
  uint64_t generation = 0;
  absl::StatusOr<Manifest> manifest = ctx.master->GetManifest(user, &generation);
  if (!manifest.ok() || generation != c->generation) return std::nullopt;
  std::map<std::string, std::string> hashes;
  for (const ManifestEntry& e : *manifest) {
    if (!e.directory()) hashes.emplace(e.path(), e.hash());
  }
  return hashes;
}

// One user's files, each read from disk and judged.
class UserScrub {
 public:
  UserScrub(const ScrubContext& ctx, const std::string& user, ScrubPassResult* result)
      : ctx_(ctx), user_(user), result_(result) {}

  absl::Status Run(const std::vector<UserFile>& files,
                   const std::optional<std::map<std::string, std::string>>& master) {
    absl::StatusOr<Fd> user_dir = OpenUserDir(ctx_.slot_root, user_, /*create=*/false);
    if (!user_dir.ok()) {
      return absl::IsNotFound(user_dir.status()) ? absl::OkStatus() : user_dir.status();
    }
    user_dir_ = *std::move(user_dir);
    if (ctx_.cache != nullptr) ctx_.cache->Prefetch(HashCacheKey(ctx_.slot, user_, ""));
    for (const UserFile& f : files) {
      if (ctx_.stop != nullptr && ctx_.stop->load()) return absl::CancelledError("scrub stopped");
      const std::string* want = nullptr;
      if (master) {
        auto it = master->find(f.rel);
        if (it != master->end()) want = &it->second;
      }
      CheckFile(f.rel, want);
    }
    if (master) ReportMissing(files, *master);
    return absl::OkStatus();
  }

 private:
  // Opens the directory of `rel` (kept for the user's next files).
  int DirOf(absl::string_view dir) {
    if (dir.empty()) return user_dir_.get();
    auto it = dirs_.find(std::string(dir));
    if (it != dirs_.end()) return it->second.get();
    absl::StatusOr<Fd> fd = OpenDirBeneath(user_dir_.get(), dir, false);
    if (!fd.ok()) return -1;
    return dirs_.emplace(std::string(dir), *std::move(fd)).first->second.get();
  }

  void Report(const std::string& rel, const std::string& expected, const std::string& found,
              bool against_master, bool missing = false) {
    result_->findings++;
    if (ctx_.on_finding) {
      ctx_.on_finding(ScrubFinding{user_, rel, expected, found, against_master, missing});
    }
  }

  // Files the master lists that the pass did not find here, and that are
  // still not here (the listing is older than the master's manifest).
  void ReportMissing(const std::vector<UserFile>& files,
                     const std::map<std::string, std::string>& master) {
    std::set<std::string> here;
    for (const UserFile& f : files) here.insert(f.rel);
    for (const auto& [rel, hash] : master) {
      if (here.count(rel)) continue;
      auto [dir, base] = SplitDirBase(rel);
      const int dirfd = DirOf(dir);
      struct stat st;
      if (dirfd >= 0 && fstatat(dirfd, std::string(base).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        continue;
      }
      Report(rel, hash, "", /*against_master=*/true, /*missing=*/true);
    }
  }

  // Reads `rel` and compares its hash with what it should be: the hash
  // remembered for its stamp, else the master's (`master_hash`, may be
  // null). A file gone or changed meanwhile is skipped; one that cannot be
  // read is a finding.
  void CheckFile(const std::string& rel, const std::string* master_hash) {
    auto [dir, base] = SplitDirBase(rel);
    const int dirfd = DirOf(dir);
    if (dirfd < 0) return;
    const std::string name(base);
    struct stat before;
    if (fstatat(dirfd, name.c_str(), &before, AT_SYMLINK_NOFOLLOW) != 0) return;
    std::optional<std::string> remembered;
    if (ctx_.cache != nullptr && (ctx_.replica || IsMaildirMessage(rel))) {
      remembered = ctx_.cache->Lookup(HashCacheKey(ctx_.slot, user_, rel), StampOf(before));
    }
    auto pace = [this](uint64_t n) {
      if (ctx_.bucket != nullptr) ctx_.bucket->Acquire(n);
    };
    absl::StatusOr<DiskRead> read = HashFromDisk(dirfd, name, pace);
    struct stat after;
    if (fstatat(dirfd, name.c_str(), &after, AT_SYMLINK_NOFOLLOW) != 0 ||
        !(StampOf(after) == StampOf(before))) {
      return;  // being written or replaced: not decay
    }
    if (!read.ok()) {
      LogWarning("sync", absl::StrCat("scrub of slot ", ctx_.slot, ": ", user_, "/", rel, ": ",
                                      read.status().message()));
      Report(rel, remembered.value_or(master_hash != nullptr ? *master_hash : ""), "", false);
      return;
    }
    result_->files++;
    result_->bytes += read->bytes;
    if (ctx_.bytes_verified != nullptr) *ctx_.bytes_verified += read->bytes;
    if (remembered && *remembered != read->hash) {
      Report(rel, *remembered, read->hash, false);
    } else if (!remembered && master_hash != nullptr && *master_hash != read->hash) {
      Report(rel, *master_hash, read->hash, true);
    }
  }

  const ScrubContext& ctx_;
  const std::string& user_;
  ScrubPassResult* const result_;
  Fd user_dir_;
  std::map<std::string, Fd> dirs_;
};

}  // namespace

absl::StatusOr<ScrubPassResult> ScrubSlot(const ScrubContext& ctx) {
  absl::StatusOr<std::vector<std::string>> users = ListSlotUsers(ctx.slot_root);
  if (!users.ok()) return users.status();
  v1::ListUsersResponse listing;
  if (ctx.master != nullptr) {
    absl::StatusOr<v1::ListUsersResponse> listed = ctx.master->ListUsers("");
    if (listed.ok()) listing = *std::move(listed);  // no master: remembered hashes only
  }
  ScrubPassResult result;
  for (const std::string& user : *users) {
    if (ctx.stop != nullptr && ctx.stop->load()) return absl::CancelledError("scrub stopped");
    absl::StatusOr<std::vector<UserFile>> files = ListUserFiles(ctx.slot_root, user);
    if (!files.ok()) {
      LogWarning("sync", absl::StrCat("scrub of slot ", ctx.slot, ": user ", user,
                                      " skipped: ", files.status().message()));
      continue;
    }
    std::optional<std::map<std::string, std::string>> master;
    if (!listing.instance_id().empty()) master = MasterHashes(ctx, listing, user);
    if (master) result.users_against_master++;
    if (absl::Status s = UserScrub(ctx, user, &result).Run(*files, master); !s.ok()) {
      if (absl::IsCancelled(s)) return s;
      LogWarning("sync",
                 absl::StrCat("scrub of slot ", ctx.slot, ": user ", user, ": ", s.message()));
    }
  }
  return result;
}

absl::StatusOr<uint64_t> SlotUserBytes(int slot_root) {
  absl::StatusOr<std::vector<std::string>> users = ListSlotUsers(slot_root);
  if (!users.ok()) return users.status();
  uint64_t total = 0;
  for (const std::string& user : *users) {
    absl::StatusOr<std::vector<UserFile>> files = ListUserFiles(slot_root, user);
    if (!files.ok()) continue;
    for (const UserFile& f : *files) total += f.size;
  }
  return total;
}

}  // namespace slotkeeper::sync
