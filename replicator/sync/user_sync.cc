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

UserSyncResult Blocked(const std::string& reason) {
  UserSyncResult result;
  result.blocked = true;
  result.blocked_reason = reason;
  return result;
}

// The owner every copy gets (SyncOptions::owner): with a fixed owner, the
// wanted entries and the user directory carry it instead of the source's.
void ApplyOwnerPolicy(const OwnerOptions& owner, Manifest* entries, UserDirMetadata* user_dir) {
  if (owner.mode != OwnerOptions::Mode::kFixed) return;
  for (ManifestEntry& e : *entries) {
    e.set_uid(owner.uid);
    e.set_gid(owner.gid);
  }
  if (user_dir != nullptr) {
    user_dir->uid = owner.uid;
    user_dir->gid = owner.gid;
  }
}

PlanOptions PlanOptionsFor(const UserSyncContext& ctx) {
  PlanOptions options;
  options.compare_owner = ctx.options.owner.mode != OwnerOptions::Mode::kNone;
  return options;
}

// The guard stopped the user: remembered (durably) until an operator
// unblocks it.
void NoteBlocked(const UserSyncContext& ctx, const std::string& user, const std::string& reason) {
  LogWarning("sync", absl::StrCat("slot ", ctx.target_scope, ", user ", user, ": ", reason));
  if (ctx.guards == nullptr) return;
  const int64_t now = ctx.clock->NowMs();
  absl::Status s =
      ctx.guards->Update(ctx.target_scope, user, /*durable=*/true, [&](GuardRecord* r) {
        if (r->allow_once()) return;  // unblocked meanwhile: the next sync applies
        r->set_blocked(true);
        r->set_blocked_reason(reason);
        r->set_blocked_ms(now);
      });
  if (!s.ok()) LogWarning("sync", std::string(s.message()));
}

// An applied sync: its removals join the window; after an operator's
// unblock the window starts again from here. Written only when something
// changes (removals, a new high-water mark, an unblock used up).
void NoteApplied(const UserSyncContext& ctx, const std::string& user, const GuardRecord& before,
                 const GuardInput& input) {
  if (ctx.guards == nullptr) return;
  const int64_t now = ctx.clock->NowMs();
  const bool fresh_start = before.allow_once();
  const uint64_t most = std::max(input.messages_before, input.messages_after);
  if (!fresh_start && input.removals == 0 && before.buckets_size() > 0 &&
      most <= HighWaterMark(ctx.options.guard, before, now)) {
    return;
  }
  absl::Status s =
      ctx.guards->Update(ctx.target_scope, user, /*durable=*/fresh_start, [&](GuardRecord* r) {
        if (fresh_start) {
          *r = RecordSync(ctx.options.guard, GuardRecord(), now,
                          GuardInput{0, input.messages_after, 0});
          return;
        }
        *r = RecordSync(ctx.options.guard, *r, now, input);
      });
  if (!s.ok()) LogWarning("sync", std::string(s.message()));
}

// The delta path: applies a delta answer `d` (what changed since the user's
// checkpoint), looking at the changed paths on both sides instead of
// walking the trees. The replica is taken to hold the source's state at the
// checkpoint (that is what a checkpoint says), so the plan over the changed
// paths equals the full plan: unchanged paths neither move nor serve as
// rename donors (a renamed message's old name is itself a changed path).
// std::nullopt (fall back to the full manifest) on any doubt: a changed path
// that is a directory or symlink here, or removals the mass-deletion guard
// might block, which it judges against the whole user on the full path.
absl::StatusOr<std::optional<UserSyncResult>> SyncUserDelta(const UserSyncContext& ctx,
                                                            const std::string& user,
                                                            const SourceDelta& d,
                                                            const GuardRecord& guard) {
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
  Manifest wanted = d.entries;
  ApplyOwnerPolicy(ctx.options.owner, &wanted, nullptr);
  UserPlan plan = PlanUserSync(wanted, local, PlanOptionsFor(ctx));
  // The delta does not know the user's message count: the high-water mark
  // of earlier syncs stands in for it. With no record, or a verdict that
  // may block, the full path judges exactly.
  const int64_t now = ctx.clock->NowMs();
  const GuardInput input{plan.removed_messages, HighWaterMark(ctx.options.guard, guard, now), 0};
  if (plan.removed_messages > 0 &&
      (guard.buckets_size() == 0 || JudgeRemovals(ctx.options.guard, guard, now, input).blocked)) {
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
  NoteApplied(ctx, user, guard, input);
  return result;
}

// Gives the replica's user directory the source's permission bits and (per
// SyncOptions::owner) owner, creating it for a user with no files; nothing
// when the source did not say.
absl::Status MatchUserDir(const UserSyncContext& ctx, const std::string& user,
                          const UserDirMetadata& want) {
  if (!want.known()) return absl::OkStatus();
  absl::StatusOr<Fd> dir = OpenUserDir(ctx.target_root, user, /*create=*/true);
  if (!dir.ok()) return dir.status();
  struct stat st;
  if (fstat(dir->get(), &st) != 0)
    return ErrnoStatus(errno, absl::StrCat("stat ", UserDirPath(user)));
  if (ctx.options.owner.mode != OwnerOptions::Mode::kNone &&
      (st.st_uid != want.uid || st.st_gid != want.gid)) {
    if (absl::Status s = ctx.fs->SetOwner(dir->get(), "", want.uid, want.gid); !s.ok()) return s;
    ctx.counters->metadata_fixed++;
  }
  if ((st.st_mode & kPermissionBits) == (want.mode & kPermissionBits)) return absl::OkStatus();
  if (fchmod(dir->get(), want.mode & kPermissionBits) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", UserDirPath(user)));
  }
  ctx.counters->metadata_fixed++;
  return absl::OkStatus();
}

// The removals the guard weighs: every message the plan moves aside or
// replaces, except stranded mail of an old master (kept, listed and
// reported for reconciliation: not taken from anyone).
uint64_t GuardedRemovals(const UserSyncContext& ctx, const std::string& user,
                         const UserPlan& plan) {
  uint64_t removals = plan.removed_messages;
  if (!ctx.stranded_check) return removals;
  for (const Departure& d : plan.quarantines) {
    if (d.message && DepartureReason(ctx, user, d) == kReasonStranded && removals > 0) --removals;
  }
  return removals;
}

// The full path: the source's whole manifest against a scan of the replica.
absl::StatusOr<UserSyncResult> SyncUserFull(const UserSyncContext& ctx, const std::string& user,
                                            const GuardRecord& guard) {
  UserSyncResult result;
  UserDirMetadata user_dir;
  absl::StatusOr<Manifest> source = ctx.source->GetManifest(user, &result.generation, &user_dir);
  if (!source.ok()) return source.status();
  ctx.counters->manifests_fetched++;
  for (const ManifestEntry& e : *source) {
    if (e.directory()) continue;
    result.bytes_total += e.size();
    result.files_total++;
  }
  ApplyOwnerPolicy(ctx.options.owner, &*source, &user_dir);
  std::vector<std::string> temps;
  absl::StatusOr<Manifest> local =
      ScanUser(ctx.target_root, ctx.target_scope, user, ctx.cache, nullptr, &temps);
  if (!local.ok()) return local.status();
  UserPlan plan = PlanUserSync(*source, *local, PlanOptionsFor(ctx));
  const GuardInput input{GuardedRemovals(ctx, user, plan), plan.local_messages,
                         plan.source_messages};
  if (!guard.allow_once()) {
    GuardVerdict verdict = JudgeRemovals(ctx.options.guard, guard, ctx.clock->NowMs(), input);
    if (verdict.blocked) {
      NoteBlocked(ctx, user, verdict.reason);
      UserSyncResult blocked = Blocked(verdict.reason);
      blocked.files_total = result.files_total;
      blocked.bytes_total = result.bytes_total;
      return blocked;
    }
  }
  if (!plan.empty() || !temps.empty()) {
    if (absl::Status s = ApplyPlan(ctx, user, plan, temps, &result.staged); !s.ok()) {
      DiscardStaged(ctx.fs, &result.staged);
      return s;
    }
  }
  if (absl::Status s = MatchUserDir(ctx, user, user_dir); !s.ok()) {
    DiscardStaged(ctx.fs, &result.staged);
    return s;
  }
  NoteApplied(ctx, user, guard, input);
  return result;
}

}  // namespace

absl::StatusOr<UserSyncResult> SyncUser(const UserSyncContext& ctx, const std::string& user,
                                        const DeltaBase* since,
                                        const std::optional<SourceDelta>* prefetched) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  if (ctx.Cancelled()) return absl::CancelledError("sync cancelled");
  const GuardRecord guard =
      ctx.guards != nullptr ? ctx.guards->Get(ctx.target_scope, user) : GuardRecord();
  if (guard.blocked() && !guard.allow_once()) return Blocked(guard.blocked_reason());
  // An unblocked user and a stranded-mail check take the full path: both
  // need the user's whole picture.
  if (since != nullptr && ctx.options.use_delta && !guard.allow_once() && !ctx.stranded_check) {
    std::optional<SourceDelta> fetched;
    if (prefetched == nullptr) {
      absl::StatusOr<std::optional<SourceDelta>> answer =
          ctx.source->GetDelta(user, *since, ctx.options.inline_limits(), ctx.cancelled);
      if (!answer.ok()) return answer.status();
      fetched = *std::move(answer);
      prefetched = &fetched;
    }
    if (prefetched->has_value()) {
      absl::StatusOr<std::optional<UserSyncResult>> delta =
          SyncUserDelta(ctx, user, **prefetched, guard);
      if (!delta.ok()) return delta.status();
      if (delta->has_value()) return std::move(**delta);
    }
    ctx.counters->delta_fallbacks++;
  }
  return SyncUserFull(ctx, user, guard);
}

}  // namespace slotkeeper::sync
