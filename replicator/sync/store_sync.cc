#include "replicator/sync/store_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "base/log.h"
#include "replicator/sync/install.h"
#include "replicator/sync/slot_layout.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

std::string CheckpointKey(const std::string& slot, const std::string& user) {
  return absl::StrCat("c/", slot, "\n", user);
}

}  // namespace

std::optional<CheckpointStore::Checkpoint> CheckpointStore::Get(const std::string& target_slot,
                                                                const std::string& user) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), CheckpointKey(target_slot, user), &value).ok()) {
    return std::nullopt;
  }
  std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits('\n', 1));
  Checkpoint c;
  c.instance_id = parts.first;
  if (!absl::SimpleAtoi(parts.second, &c.generation)) return std::nullopt;
  return c;
}

absl::Status CheckpointStore::Put(const std::string& target_slot, const std::string& user,
                                  const Checkpoint& checkpoint) {
  rocksdb::WriteOptions options;
  // Not synced: a checkpoint lost in a crash only costs a re-walk of the
  // user (renames and hashes make that cheap); it never loses mail.
  rocksdb::Status s = db_->Put(options, CheckpointKey(target_slot, user),
                               absl::StrCat(checkpoint.instance_id, "\n", checkpoint.generation));
  if (!s.ok()) return absl::InternalError("checkpoint: " + s.ToString());
  return absl::OkStatus();
}

absl::Status CheckpointStore::Clear(const std::string& target_slot) {
  const std::string prefix = absl::StrCat("c/", target_slot, "\n");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return absl::InternalError("checkpoint clear: " + s.ToString());
  return absl::OkStatus();
}

std::string ListingDigest(const v1::ListUsersResponse& listed) {
  ContentHasher hasher;
  std::string buf = absl::StrCat(listed.instance_id(), "\n");
  for (const v1::UserSummary& u : listed.users()) {
    absl::StrAppend(&buf, u.user(), "\n", u.generation(), "\n");
  }
  hasher.Update(buf.data(), buf.size());
  return absl::BytesToHexString(hasher.Finish());
}

namespace {

constexpr char kLastListingFile[] = "last-complete-listing";

}  // namespace

std::string ReadLastListing(const std::string& state_dir) {
  std::ifstream in(absl::StrCat(state_dir, "/", kLastListingFile));
  std::string digest;
  if (!(in >> digest)) return "";
  return digest;
}

absl::Status WriteLastListing(const std::string& state_dir, const std::string& digest) {
  const std::string path = absl::StrCat(state_dir, "/", kLastListingFile);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << digest << "\n";
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "rename " + temp);
  return absl::OkStatus();
}

absl::Status ClearLastListing(const std::string& state_dir) {
  const std::string path = absl::StrCat(state_dir, "/", kLastListingFile);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink " + path);
  return absl::OkStatus();
}

bool AllUsersAtCheckpoint(const v1::ListUsersResponse& listed, const std::string& target_slot,
                          const std::string& only_user, CheckpointStore* checkpoints,
                          uint64_t* users) {
  *users = 0;
  for (const v1::UserSummary& u : listed.users()) {
    if (!only_user.empty() && u.user() != only_user) continue;
    ++*users;
    std::optional<CheckpointStore::Checkpoint> c = checkpoints->Get(target_slot, u.user());
    if (!c || c->instance_id != listed.instance_id() || c->generation != u.generation()) {
      return false;
    }
  }
  return *users > 0;
}

absl::StatusOr<StoreSyncResult> SyncStore(const StoreSyncRequest& request,
                                          const StoreSyncOptions& options, rocksdb::DB* db,
                                          TargetFs* fs, Clock* clock,
                                          const ProgressCallback& progress,
                                          const std::atomic<bool>* cancelled,
                                          SyncCounters* counters, StoreSyncResult* partial) {
  if (request.stub == nullptr || request.target_root < 0) {
    return absl::InvalidArgumentError("store sync: no source or no target");
  }
  if (!options.only_user.empty()) {
    if (absl::Status s = ValidateUserName(options.only_user); !s.ok()) return s;
  }
  const PeerClient source(request.stub, request.source_slot);
  absl::StatusOr<v1::ListUsersResponse> listing = source.ListUsers(request.store);
  if (!listing.ok()) return listing.status();
  const v1::ListUsersResponse& listed = *listing;
  if (!request.store.empty()) {
    if (absl::Status s = WriteStoreMarker(request.target_root, request.store, fs); !s.ok()) {
      return s;
    }
  }
  std::unique_ptr<CheckpointStore> checkpoints;
  std::unique_ptr<RocksHashCache> cache;
  if (db != nullptr) {
    cache = std::make_unique<RocksHashCache>(db);
    if (options.use_checkpoints) {
      checkpoints = std::make_unique<CheckpointStore>(db);
    }
  }
  std::unique_ptr<TokenBucket> bucket;
  if (options.bandwidth_bytes_per_second > 0) {
    bucket = std::make_unique<TokenBucket>(
        options.bandwidth_bytes_per_second,
        std::max<uint64_t>(options.bandwidth_bytes_per_second / 4, 1 << 20), clock);
  }
  UserSyncContext ctx;
  ctx.source = &source;
  ctx.target_root = request.target_root;
  ctx.target_scope = request.target_slot;
  ctx.cache = cache.get();
  ctx.fs = fs;
  ctx.clock = clock;
  ctx.bucket = bucket.get();
  ctx.options = options.user;
  ctx.options.defer_directory_sync = true;  // one syncfs per group of users
  ctx.options.stage_small_fetches = true;   // and for their few new files
  ctx.counters = counters;
  ctx.cancelled = cancelled;

  StoreSyncResult result;
  result.source_instance_id = listed.instance_id();
  result.listing_digest = ListingDigest(listed);
  int64_t oldest_pending = 0;
  std::vector<const v1::UserSummary*> todo;
  // The checkpoint of a user in `todo` from the same source instance: what
  // a delta manifest may start from.
  std::map<const v1::UserSummary*, DeltaBase> delta_bases;
  for (const v1::UserSummary& u : listed.users()) {
    if (!options.only_user.empty() && u.user() != options.only_user) continue;
    result.progress.set_users_total(result.progress.users_total() + 1);
    if (checkpoints != nullptr) {
      std::optional<CheckpointStore::Checkpoint> c =
          checkpoints->Get(request.target_slot, u.user());
      if (c && c->instance_id == listed.instance_id() && c->generation == u.generation()) {
        result.users_skipped_unchanged++;
        result.progress.set_users_done(result.progress.users_done() + 1);
        continue;
      }
      if (c && c->instance_id == listed.instance_id() && c->generation < u.generation()) {
        delta_bases[&u] = DeltaBase{c->instance_id, c->generation};
      }
    }
    if (u.oldest_change_ms() > 0 &&
        (oldest_pending == 0 || u.oldest_change_ms() < oldest_pending)) {
      oldest_pending = u.oldest_change_ms();
    }
    todo.push_back(&u);
  }
  if (!options.only_user.empty() && result.progress.users_total() == 0) {
    return absl::NotFoundError(
        absl::StrCat("source slot ", request.source_slot, " has no user ", options.only_user));
  }
  if (oldest_pending > 0) {
    result.lag_ms = std::max<int64_t>(0, listed.source_time_ms() - oldest_pending);
  }

  absl::Mutex mu;  // guards result, first_error
  absl::Status first_error;
  const absl::Duration start = clock->Monotonic();
  auto report = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::TaskProgress& p = result.progress;
    p.set_files_done(counters->files_copied + counters->files_renamed);
    p.set_bytes_done(counters->bytes_received);
    p.set_files_renamed(counters->files_renamed);
    p.set_files_quarantined(counters->files_quarantined);
    double secs = absl::ToDoubleSeconds(clock->Monotonic() - start);
    p.set_bytes_per_second(secs > 0 ? counters->bytes_received / secs : 0);
    if (progress) progress(p);
  };
  // Accounts for one user's outcome. Requires mu.
  auto finish = [&](const v1::UserSummary& u,
                    const absl::StatusOr<UserSyncResult>& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!r.ok()) {
      result.failed_users.push_back(absl::StrCat(u.user(), ": ", r.status().message()));
      if (first_error.ok()) first_error = r.status();
      return;
    }
    result.progress.set_files_total(result.progress.files_total() + r->files_total);
    result.progress.set_bytes_total(result.progress.bytes_total() + r->bytes_total);
    if (r->blocked) {
      result.blocked_users.push_back(u.user());
    } else {
      result.progress.set_users_done(result.progress.users_done() + 1);
    }
    report();
  };
  // Group commit of finished users: their staged files (small fetches,
  // verified but not yet durable) are made durable by one syncfs and
  // renamed into place; one more syncfs makes every rename of the group
  // durable; then their checkpoints are written. A crash before that only
  // costs a re-walk of those users (nothing is fetched twice: the diff finds
  // their files in place; leftover temporaries go to the quarantine). A user
  // counts as done only once committed.
  struct Finished {
    const v1::UserSummary* user;
    absl::StatusOr<UserSyncResult> result;
  };
  std::vector<Finished> pending_commit;  // guarded by mu
  auto commit = [&](std::vector<Finished> group) {
    if (group.empty()) return;
    bool any_staged = false;
    for (const Finished& f : group) any_staged |= !f.result->staged.empty();
    absl::Status durable = any_staged ? fs->SyncFilesystem(request.target_root) : absl::OkStatus();
    for (Finished& f : group) {
      std::vector<StagedFile>& staged = f.result->staged;
      if (staged.empty()) continue;
      if (!durable.ok()) {
        DiscardStaged(fs, &staged);
        f.result = durable;
        continue;
      }
      if (absl::Status s = InstallStaged(ctx, f.user->user(), &staged); !s.ok()) f.result = s;
    }
    absl::Status renames = fs->SyncFilesystem(request.target_root);
    for (Finished& f : group) {
      if (!f.result.ok()) continue;
      if (!renames.ok()) {
        f.result = renames;
      } else if (checkpoints != nullptr) {
        if (absl::Status s = checkpoints->Put(request.target_slot, f.user->user(),
                                              {listed.instance_id(), f.user->generation()});
            !s.ok()) {
          f.result = s;
        }
      }
    }
    absl::MutexLock lock(&mu);
    for (const Finished& f : group) finish(*f.user, f.result);
  };
  // One user: sync, then either account for it now (failed, blocked) or
  // queue it for the group commit.
  auto sync_one = [&](const v1::UserSummary& u, const std::optional<SourceDelta>* prefetched) {
    auto base = delta_bases.find(&u);
    absl::StatusOr<UserSyncResult> r =
        SyncUser(ctx, u.user(), base == delta_bases.end() ? nullptr : &base->second, prefetched);
    if (!r.ok() || r->blocked) {
      absl::MutexLock lock(&mu);
      finish(u, r);
      return;
    }
    std::vector<Finished> to_commit;
    {
      absl::MutexLock lock(&mu);
      pending_commit.push_back(Finished{&u, std::move(r)});
      if (pending_commit.size() >= std::max<size_t>(1, options.commit_group_users)) {
        to_commit.swap(pending_commit);
      }
      report();  // bytes and files so far; users once committed
    }
    commit(std::move(to_commit));
  };
  // Workers take users in runs of delta_batch_users; the run's delta
  // manifests come in one GetManifests call (a source without it, or any
  // failure of the call: each user asks on its own, as SyncUser does).
  const size_t run = ctx.options.use_delta ? std::max<size_t>(1, options.delta_batch_users) : 1;
  std::atomic<size_t> next{0};
  std::atomic<bool> batch_unsupported{false};
  auto worker = [&]() {
    for (;;) {
      const size_t begin = next.fetch_add(run);
      if (begin >= todo.size()) return;
      const size_t end = std::min(todo.size(), begin + run);
      std::vector<std::pair<std::string, DeltaBase>> asks;
      for (size_t i = begin; i < end; ++i) {
        auto base = delta_bases.find(todo[i]);
        if (base != delta_bases.end()) asks.emplace_back(todo[i]->user(), base->second);
      }
      std::map<std::string, std::optional<SourceDelta>> deltas;
      if (asks.size() > 1 && !batch_unsupported.load()) {
        absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> answer =
            source.GetDeltas(asks, ctx.options.inline_limits());
        if (answer.ok()) {
          counters->delta_batches++;
          deltas = *std::move(answer);
        } else if (absl::IsUnimplemented(answer.status())) {
          batch_unsupported = true;  // an older source: one call per user from now on
        } else {
          LogWarning("sync", absl::StrCat("GetManifests on ", request.source_slot, ": ",
                                          answer.status().ToString(), "; asking user by user"));
        }
      }
      for (size_t i = begin; i < end; ++i) {
        if (cancelled != nullptr && cancelled->load()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = absl::CancelledError("cancelled");
          return;
        }
        auto pre = deltas.find(todo[i]->user());
        sync_one(*todo[i], pre == deltas.end() ? nullptr : &pre->second);
      }
    }
  };
  const size_t threads =
      std::min<size_t>(todo.size(), static_cast<size_t>(std::max(1, options.parallel_users)));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  std::vector<Finished> rest;
  {
    absl::MutexLock lock(&mu);
    rest.swap(pending_commit);
  }
  commit(std::move(rest));
  absl::MutexLock lock(&mu);
  report();
  std::sort(result.blocked_users.begin(), result.blocked_users.end());
  if (partial != nullptr) *partial = result;
  if (!first_error.ok()) {
    return absl::Status(first_error.code(),
                        absl::StrCat(result.failed_users.size(),
                                     " user(s) failed; first: ", first_error.message()));
  }
  return result;
}

}  // namespace slotkeeper::sync
