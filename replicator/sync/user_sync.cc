#include "replicator/sync/user_sync.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/apply.h"
#include "replicator/sync/install.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The delta path: applies a delta answer `d` (what changed since the user's
// checkpoint), looking at the changed paths on both sides instead of
// walking the trees. The replica is taken to hold the source's state at the
// checkpoint (that is what a checkpoint says), so the plan over the changed
// paths equals the full plan: unchanged paths neither move nor serve as
// rename donors (a renamed message's old name is itself a changed path).
// std::nullopt (fall back to the full manifest) on any doubt: a changed path
// that is a directory or symlink here, or removals the mass-deletion guard
// must judge against the whole user.
absl::StatusOr<std::optional<UserSyncResult>> SyncUserDelta(const UserSyncContext& ctx,
                                                            const std::string& user,
                                                            const SourceDelta& d) {
  absl::StatusOr<Fd> user_dir = OpenUserDir(ctx.target_root, user, /*create=*/false);
  if (!user_dir.ok()) {
    if (absl::IsNotFound(user_dir.status())) return std::nullopt;
    return user_dir.status();
  }
  Manifest local;
  std::map<std::string, Fd> dirs;
  auto look = [&](const std::string& path) -> absl::StatusOr<bool> {
    absl::StatusOr<PathLookup> found =
        LookupUserPath(user_dir->get(), ctx.target_scope, user, path, ctx.cache, &dirs);
    if (!found.ok()) return found.status();
    if (found->kind == PathLookup::kFile) local.push_back(std::move(found->entry));
    return found->kind == PathLookup::kFile || found->kind == PathLookup::kAbsent;
  };
  for (const ManifestEntry& e : d.entries) {
    absl::StatusOr<bool> ok = look(e.path());
    if (!ok.ok()) return ok.status();
    if (!*ok) return std::nullopt;
  }
  for (const std::string& path : d.removed) {
    absl::StatusOr<bool> ok = look(path);
    if (!ok.ok()) return ok.status();
    if (!*ok) return std::nullopt;
  }
  std::sort(local.begin(), local.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path() < b.path(); });
  UserPlan plan = PlanUserSync(d.entries, local, ctx.options.guard);
  // The guard's share needs the user's whole message count, which a delta
  // does not have: enough removals to possibly block go to the full path,
  // which judges them exactly as it always does.
  if (plan.blocked || plan.removed_messages >= ctx.options.guard.min_removals_to_block) {
    return std::nullopt;
  }
  ctx.counters->delta_manifests++;
  UserSyncResult result;
  result.generation = d.generation;
  result.delta = true;
  if (!plan.empty()) {
    if (absl::Status s = ApplyPlan(ctx, user, plan, {}, &result.staged, &d.inline_data); !s.ok()) {
      DiscardStaged(ctx.fs, &result.staged);
      return s;
    }
  }
  return result;
}

// Gives the replica's user directory the source's permission bits (0: the
// source did not say; nothing to do), creating it for a user with no files.
absl::Status MatchUserDirMode(const UserSyncContext& ctx, const std::string& user, uint32_t mode) {
  if (mode == 0) return absl::OkStatus();
  absl::StatusOr<Fd> dir = OpenUserDir(ctx.target_root, user, /*create=*/true);
  if (!dir.ok()) return dir.status();
  struct stat st;
  if (fstat(dir->get(), &st) != 0)
    return ErrnoStatus(errno, absl::StrCat("stat ", UserDirPath(user)));
  if ((st.st_mode & 07777) == mode) return absl::OkStatus();
  if (fchmod(dir->get(), mode) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", UserDirPath(user)));
  }
  ctx.counters->metadata_fixed++;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UserSyncResult> SyncUser(const UserSyncContext& ctx, const std::string& user,
                                        const DeltaBase* since,
                                        const std::optional<SourceDelta>* prefetched) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  if (ctx.Cancelled()) return absl::CancelledError("sync cancelled");
  if (since != nullptr && ctx.options.use_delta) {
    std::optional<SourceDelta> fetched;
    if (prefetched == nullptr) {
      absl::StatusOr<std::optional<SourceDelta>> answer =
          ctx.source->GetDelta(user, *since, ctx.options.inline_limits(), ctx.cancelled);
      if (!answer.ok()) return answer.status();
      fetched = *std::move(answer);
      prefetched = &fetched;
    }
    if (prefetched->has_value()) {
      absl::StatusOr<std::optional<UserSyncResult>> delta = SyncUserDelta(ctx, user, **prefetched);
      if (!delta.ok()) return delta.status();
      if (delta->has_value()) return std::move(**delta);
    }
    ctx.counters->delta_fallbacks++;
  }
  UserSyncResult result;
  uint32_t user_mode = 0;
  absl::StatusOr<Manifest> source = ctx.source->GetManifest(user, &result.generation, &user_mode);
  if (!source.ok()) return source.status();
  ctx.counters->manifests_fetched++;
  for (const ManifestEntry& e : *source) {
    if (e.directory()) continue;
    result.bytes_total += e.size();
    result.files_total++;
  }

  std::vector<std::string> temps;
  absl::StatusOr<Manifest> local =
      ScanUser(ctx.target_root, ctx.target_scope, user, ctx.cache, nullptr, &temps);
  if (!local.ok()) return local.status();
  UserPlan plan = PlanUserSync(*source, *local, ctx.options.guard);
  if (plan.blocked) {
    LogWarning("sync", absl::StrCat("user ", user, ": ", plan.blocked_reason));
    result.blocked = true;
    result.blocked_reason = plan.blocked_reason;
    return result;
  }
  if (!plan.empty() || !temps.empty()) {
    if (absl::Status s = ApplyPlan(ctx, user, plan, temps, &result.staged); !s.ok()) {
      DiscardStaged(ctx.fs, &result.staged);
      return s;
    }
  }
  if (absl::Status s = MatchUserDirMode(ctx, user, user_mode); !s.ok()) {
    DiscardStaged(ctx.fs, &result.staged);
    return s;
  }
  return result;
}

}  // namespace slotkeeper::sync
