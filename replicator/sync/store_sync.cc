#include "replicator/sync/store_sync.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/install.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/user_sync.h"

namespace slotkeeper::sync {
namespace {

// One run of SyncStore over a listing: which users to sync, the worker
// threads, the group commit and the result. Methods marked
// ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) run under the run's lock; the rest may
// run on any worker.
class StoreSyncRun {
 public:
  StoreSyncRun(const StoreSyncContext& ctx, const v1::ListUsersResponse& listed,
               CheckpointStore* checkpoints, std::string identity, UserSyncContext user_ctx)
      : ctx_(ctx),
        listed_(listed),
        checkpoints_(checkpoints),
        identity_(std::move(identity)),
        user_ctx_(std::move(user_ctx)),
        start_(ctx.clock->Monotonic()) {
    result_.source_instance_id = listed.instance_id();
  }

  // Picks the users to sync: all listed (or only_user), minus those at
  // their checkpoint; notes where a delta may start, and the lag. The
  // progress totals count the users to transfer (not those unchanged), from
  // the listing when it gives their sizes (model.proto TaskProgress).
  // NOT_FOUND when only_user is not listed.
  absl::Status SelectUsers() {
    absl::MutexLock lock(&mu_);
    const std::string& only_user = ctx_.options.only_user;
    int64_t oldest_pending = 0;
    for (const v1::UserSummary& u : listed_.users()) {
      if (!only_user.empty() && u.user() != only_user) continue;
      v1::TaskProgress& p = result_.progress;
      p.set_users_total(p.users_total() + 1);
      if (AtCheckpoint(u)) {
        result_.users_skipped_unchanged++;
        p.set_users_done(p.users_done() + 1);
        continue;
      }
      if (Sized(u)) {
        files_to_transfer_ += u.file_count();
        bytes_to_transfer_ += u.total_bytes();
      } else {
        ++unsized_users_;
      }
      if (u.oldest_change_ms() > 0 &&
          (oldest_pending == 0 || u.oldest_change_ms() < oldest_pending)) {
        oldest_pending = u.oldest_change_ms();
      }
      todo_.push_back(&u);
    }
    if (!only_user.empty() && result_.progress.users_total() == 0) {
      return absl::NotFoundError(
          absl::StrCat("source slot ", ctx_.source->source_slot(), " has no user ", only_user));
    }
    if (oldest_pending > 0) {
      result_.lag_ms = std::max<int64_t>(0, listed_.source_time_ms() - oldest_pending);
    }
    return absl::OkStatus();
  }

  // Syncs the selected users on parallel_users threads, commits the last
  // group, and returns the result (the first user's error, if any, after
  // all others finished). `*result` is the result either way.
  absl::Status Run(StoreSyncResult* result) {
    const size_t threads = std::min<size_t>(
        todo_.size(), static_cast<size_t>(std::max(1, ctx_.options.parallel_users)));
    if (threads <= 1) {
      Worker();  // one user (a push cycle, mostly): no thread to start
    } else {
      std::vector<std::thread> pool;
      for (size_t t = 0; t < threads; ++t) pool.emplace_back([this] { Worker(); });
      for (std::thread& t : pool) t.join();
    }
    std::vector<Finished> rest;
    {
      absl::MutexLock lock(&mu_);
      rest.swap(pending_commit_);
    }
    Commit(std::move(rest));
    absl::MutexLock lock(&mu_);
    Report();
    std::sort(result_.blocked_users.begin(), result_.blocked_users.end());
    *result = result_;
    if (!first_error_.ok() && !result_.failed_users.empty()) {
      return absl::Status(first_error_.code(),
                          absl::StrCat(result_.failed_users.size(),
                                       " user(s) failed; first: ", first_error_.message()));
    }
    return first_error_;
  }

 private:
  // A synced user waiting for its group's commit.
  struct Finished {
    const v1::UserSummary* user;
    absl::StatusOr<UserSyncResult> result;
  };

  // Whether the listing gave the user's size (it does when asked for
  // digests; a routine listing does not).
  static bool Sized(const v1::UserSummary& u) { return u.file_count() > 0 || u.total_bytes() > 0; }

  // Whether the user's checkpoint equals the listing; else records where a
  // delta may start (a checkpoint from this source instance).
  bool AtCheckpoint(const v1::UserSummary& u) {
    if (checkpoints_ == nullptr) return false;
    std::optional<CheckpointStore::Checkpoint> c = checkpoints_->Get(ctx_.target_slot, u.user());
    if (!c || !c->SameCopy(listed_.instance_id(), ctx_.source->source_slot(), identity_)) {
      return false;
    }
    // A user directory removed behind the agent's back (the slot itself
    // kept): the checkpoint speaks of a copy that is gone.
    if (!OpenUserDir(ctx_.target_root, u.user(), /*create=*/false).ok()) return false;
    if (c->generation == u.generation()) return true;
    if (c->generation < u.generation()) {
      delta_bases_[&u] = DeltaBase{c->instance_id, c->generation};
    }
    return false;
  }

  // Workers take users in runs of delta_batch_users; the run's delta
  // manifests come in one GetManifests call.
  void Worker() {
    const size_t run =
        user_ctx_.options.use_delta ? std::max<size_t>(1, ctx_.options.delta_batch_users) : 1;
    for (;;) {
      const size_t begin = next_.fetch_add(run);
      if (begin >= todo_.size()) return;
      const size_t end = std::min(todo_.size(), begin + run);
      const std::map<std::string, std::optional<SourceDelta>> deltas = PrefetchDeltas(begin, end);
      for (size_t i = begin; i < end; ++i) {
        if (user_ctx_.Cancelled()) {
          absl::MutexLock lock(&mu_);
          if (first_error_.ok()) first_error_ = absl::CancelledError("cancelled");
          return;
        }
        // Every further call would wait for the same unreachable source.
        if (source_lost_) return;
        auto pre = deltas.find(todo_[i]->user());
        SyncOne(*todo_[i], pre == deltas.end() ? nullptr : &pre->second);
      }
    }
  }

  // The delta answers of todo_[begin, end) in one GetManifests call, for
  // the users with a delta base. Empty when there are fewer than two, or
  // the call failed (each user then asks on its own, as SyncUser does); a
  // source without GetManifests is not asked again.
  std::map<std::string, std::optional<SourceDelta>> PrefetchDeltas(size_t begin, size_t end) {
    std::vector<std::pair<std::string, DeltaBase>> asks;
    for (size_t i = begin; i < end; ++i) {
      auto base = delta_bases_.find(todo_[i]);
      if (base != delta_bases_.end()) asks.emplace_back(todo_[i]->user(), base->second);
    }
    if (asks.size() <= 1 || batch_unsupported_.load()) return {};
    absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> answer =
        ctx_.source->GetDeltas(asks, user_ctx_.options.inline_limits());
    if (answer.ok()) {
      ctx_.counters->delta_batches++;
      return *std::move(answer);
    }
    if (absl::IsUnimplemented(answer.status())) {
      batch_unsupported_ = true;  // an older source: one call per user from now on
    } else if (SourceUnreachable(answer.status()) || absl::IsCancelled(answer.status())) {
      absl::MutexLock lock(&mu_);
      source_lost_ = true;
      if (first_error_.ok()) first_error_ = answer.status();
    } else {
      LogWarning("sync", absl::StrCat("GetManifests on ", ctx_.source->source_slot(), ": ",
                                      answer.status().ToString(), "; asking user by user"));
    }
    return {};
  }

  // One user: sync, then either account for it now (failed, blocked) or
  // queue it for the group commit.
  void SyncOne(const v1::UserSummary& u, const std::optional<SourceDelta>* prefetched) {
    auto base = delta_bases_.find(&u);
    absl::StatusOr<UserSyncResult> r = SyncUser(
        user_ctx_, u.user(), base == delta_bases_.end() ? nullptr : &base->second, prefetched);
    if (!r.ok() || r->blocked) {
      absl::MutexLock lock(&mu_);
      Finish(u, r);
      return;
    }
    std::vector<Finished> to_commit;
    {
      absl::MutexLock lock(&mu_);
      pending_commit_.push_back(Finished{&u, std::move(r)});
      if (pending_commit_.size() >= std::max<size_t>(1, ctx_.options.commit_group_users)) {
        to_commit.swap(pending_commit_);
      }
      Report();  // bytes and files so far; users once committed
    }
    Commit(std::move(to_commit));
  }

  // Group commit: the group's staged files (small fetches, verified but not
  // yet durable) are made durable by one syncfs and renamed into place; one
  // more syncfs makes every rename of the group durable; then their
  // checkpoints are written. A crash before that only costs a re-walk of
  // those users (nothing is fetched twice: the diff finds their files in
  // place; leftover temporaries go to the quarantine).
  void Commit(std::vector<Finished> group) {
    if (group.empty()) return;
    InstallGroup(&group);
    const absl::Status renames = ctx_.fs->SyncFilesystem(ctx_.target_root);
    for (Finished& f : group) {
      if (!f.result.ok()) continue;
      if (!renames.ok()) {
        f.result = renames;
      } else if (checkpoints_ != nullptr) {
        if (absl::Status s = checkpoints_->Put(ctx_.target_slot, f.user->user(),
                                               {listed_.instance_id(), f.user->generation(),
                                                ctx_.source->source_slot(), identity_});
            !s.ok()) {
          f.result = s;
        }
      }
    }
    absl::MutexLock lock(&mu_);
    for (const Finished& f : group) Finish(*f.user, f.result);
  }

  // The staged files of a group: one syncfs, then each user's installed (or,
  // after a failed syncfs, discarded and the user failed).
  void InstallGroup(std::vector<Finished>* group) {
    bool any_staged = false;
    for (const Finished& f : *group) any_staged |= !f.result->staged.empty();
    const absl::Status durable =
        any_staged ? ctx_.fs->SyncFilesystem(ctx_.target_root) : absl::OkStatus();
    for (Finished& f : *group) {
      std::vector<StagedFile>& staged = f.result->staged;
      if (staged.empty()) continue;
      if (!durable.ok()) {
        DiscardStaged(ctx_.fs, &staged);
        f.result = durable;
        continue;
      }
      if (absl::Status s = InstallStaged(user_ctx_, f.user->user(), &staged); !s.ok()) {
        f.result = s;
      }
    }
  }

  // Accounts for one user's outcome.
  void Finish(const v1::UserSummary& u, const absl::StatusOr<UserSyncResult>& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!r.ok()) {
      result_.failed_users.push_back(absl::StrCat(u.user(), ": ", r.status().message()));
      if (first_error_.ok()) first_error_ = r.status();
      if (SourceUnreachable(r.status())) source_lost_ = true;
      return;
    }
    v1::TaskProgress& p = result_.progress;
    // A full manifest counts the user exactly (what is in flight in tmp/
    // left out) and replaces the listing's figures; a delta knows only the
    // changed paths, so the listing's stand (none when it gave no sizes).
    if (!Sized(u)) --unsized_users_;
    const uint64_t files = r->delta ? u.file_count() : r->files_total;
    const uint64_t bytes = r->delta ? u.total_bytes() : r->bytes_total;
    files_to_transfer_ += files - u.file_count();
    bytes_to_transfer_ += bytes - u.total_bytes();
    if (r->blocked) {
      result_.blocked_users.push_back(u.user());
    } else {
      p.set_users_done(p.users_done() + 1);
      files_in_place_ += files;
      bytes_in_place_ += bytes;
    }
    Report();
  }

  // Progress from the counters, to the callback: what is in place is at
  // least what was received and at least the users finished; a total is
  // never below what is done (mail delivered during the copy).
  void Report() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const SyncCounters& counters = *ctx_.counters;
    v1::TaskProgress& p = result_.progress;
    p.set_files_done(
        std::max<uint64_t>(counters.files_copied + counters.files_renamed, files_in_place_));
    p.set_bytes_done(std::max<uint64_t>(counters.bytes_received, bytes_in_place_));
    p.set_bytes_received(counters.bytes_received);
    // Unknown (0) while a user to transfer has no known size.
    p.set_files_total(unsized_users_ > 0 ? 0 : std::max(files_to_transfer_, p.files_done()));
    p.set_bytes_total(unsized_users_ > 0 ? 0 : std::max(bytes_to_transfer_, p.bytes_done()));
    p.set_files_renamed(counters.files_renamed);
    p.set_files_quarantined(counters.files_quarantined);
    const double secs = absl::ToDoubleSeconds(ctx_.clock->Monotonic() - start_);
    p.set_bytes_per_second(secs > 0 ? counters.bytes_received / secs : 0);
    if (ctx_.progress) ctx_.progress(p);
  }

  const StoreSyncContext& ctx_;
  const v1::ListUsersResponse& listed_;
  CheckpointStore* const checkpoints_;  // may be null
  const std::string identity_;          // the target slot's (checkpoints name it)
  const UserSyncContext user_ctx_;
  const absl::Duration start_;
  // Fixed once SelectUsers returned.
  std::vector<const v1::UserSummary*> todo_;
  // The checkpoint of a user in todo_ from the same source instance: what a
  // delta manifest may start from.
  std::map<const v1::UserSummary*, DeltaBase> delta_bases_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> batch_unsupported_{false};
  // The source stopped answering (or the run was cancelled during a call):
  // no further user is started.
  std::atomic<bool> source_lost_{false};

  absl::Mutex mu_;
  StoreSyncResult result_ ABSL_GUARDED_BY(mu_);
  // Of the users to transfer: the files and bytes of those known (from the
  // listing, or exactly once synced by a full manifest), how many have no
  // known size, and the files and bytes of those in place on the target.
  // Unsigned arithmetic: a user's listed figures are taken out exactly as
  // they were put in.
  uint64_t files_to_transfer_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_to_transfer_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unsized_users_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t files_in_place_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_in_place_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<Finished> pending_commit_ ABSL_GUARDED_BY(mu_);
};

// What every user of the store sync shares: the store's source, target,
// cache, filesystem, clock and limits; directories and small fetches are
// made durable per group of users.
UserSyncContext UserContextFor(const StoreSyncContext& ctx, HashCache* cache, TokenBucket* bucket,
                               const SlotQuarantine* quarantine, GuardStore* guards) {
  UserSyncContext user;
  user.source = ctx.source;
  user.target_root = ctx.target_root;
  user.target_scope = ctx.target_slot;
  user.cache = cache;
  user.fs = ctx.fs;
  user.clock = ctx.clock;
  user.bucket = bucket;
  user.options = ctx.options.user;
  user.options.defer_directory_sync = true;  // one syncfs per group of users
  user.options.stage_small_fetches = true;   // and for their few new files
  user.counters = ctx.counters;
  user.cancelled = ctx.cancelled;
  user.quarantine = quarantine;
  user.guards = guards;
  user.stranded_check = ctx.stranded_check;
  user.deleted_at_source = ctx.deleted_at_source;
  return user;
}

}  // namespace

absl::StatusOr<StoreSyncResult> SyncStore(const StoreSyncContext& ctx, StoreSyncResult* partial) {
  if (ctx.source == nullptr || ctx.target_root < 0) {
    return absl::InvalidArgumentError("store sync: no source or no target");
  }
  const StoreSyncOptions& options = ctx.options;
  if (!options.only_user.empty()) SK_RETURN_IF_ERROR(ValidateUserName(options.only_user));
  v1::ListUsersResponse listed;
  if (ctx.given_listing != nullptr) {
    listed = *ctx.given_listing;
  } else {
    SK_ASSIGN_OR_RETURN(listed, ctx.source->ListUsers(ctx.store));
  }
  if (!ctx.store.empty()) SK_RETURN_IF_ERROR(EnsureStoreMarker(ctx.target_root, ctx.store, ctx.fs));
  SK_ASSIGN_OR_RETURN(const SlotIdentity identity, EnsureSlotIdentity(ctx.target_root, ctx.fs));
  std::unique_ptr<CheckpointStore> checkpoints;
  std::unique_ptr<RocksHashCache> cache;
  std::unique_ptr<QuarantineIndex> own_index;
  std::unique_ptr<GuardStore> own_guards;
  QuarantineIndex* index = ctx.quarantine_index;
  GuardStore* guards = ctx.guards;
  if (ctx.db != nullptr) {
    cache = std::make_unique<RocksHashCache>(ctx.db);
    if (options.use_checkpoints) checkpoints = std::make_unique<CheckpointStore>(ctx.db);
    if (index == nullptr) index = (own_index = std::make_unique<QuarantineIndex>(ctx.db)).get();
    if (guards == nullptr) guards = (own_guards = std::make_unique<GuardStore>(ctx.db)).get();
  }
  const SlotQuarantine quarantine(ctx.target_root, ctx.target_slot, ctx.clock, ctx.fs, index);
  std::unique_ptr<TokenBucket> bucket;
  if (options.bandwidth_bytes_per_second > 0) {
    bucket = std::make_unique<TokenBucket>(
        options.bandwidth_bytes_per_second,
        std::max<uint64_t>(options.bandwidth_bytes_per_second / 4, 1 << 20), ctx.clock);
  }
  StoreSyncRun run(ctx, listed, checkpoints.get(), identity.ToString(),
                   UserContextFor(ctx, cache.get(), bucket.get(), &quarantine, guards));
  SK_RETURN_IF_ERROR(run.SelectUsers());
  StoreSyncResult result;
  const absl::Status status = run.Run(&result);
  if (partial != nullptr) *partial = result;
  if (!status.ok()) return status;
  result.listing = std::move(listed);
  return result;
}

}  // namespace slotkeeper::sync
