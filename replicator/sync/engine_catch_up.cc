// SyncEngine's pulling into replica slots: the rolling catch-up loop and
// its cycle (identity, scrub repairs, stranded mail, verification), and the
// one-shot final pull (engine.h).
#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "replicator/sync/engine.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The new master's deletion log by user, for a stranded-mail check; nullopt
// when it has none to give (every message it lacks is then stranded).
std::optional<std::map<std::string, std::set<std::string>>> DeletedAtMaster(
    const PeerClient& master) {
  absl::StatusOr<v1::ListDeletedResponse> listed = master.ListDeleted("");
  if (!listed.ok()) {
    LogWarning("sync", absl::StrCat("no deletion log from ", master.source_name(), ": ",
                                    listed.status().message(),
                                    "; every message it lacks counts as stranded"));
    return std::nullopt;
  }
  std::map<std::string, std::set<std::string>> out;
  for (const v1::DeletedMessage& d : listed->deleted()) out[d.user()].insert(d.maildir_key());
  return out;
}

}  // namespace

void SyncEngine::CatchUpLoop(Replica* replica) {
  ReplicaState config;
  {
    absl::MutexLock lock(&mu_);
    config = replica->state;
    // A loop this one replaced may still be winding down: one loop writes
    // into a slot at a time.
    auto quiet = [this, replica, &config]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return replica->stop || !StoppedLoopInLocked(config.slot);
    };
    mu_.Await(absl::Condition(&quiet));
  }
  std::unique_ptr<v1::ReplicaPeer::Stub> stub =
      v1::ReplicaPeer::NewStub(ChannelTo(config.master_address));
  const PeerClient master(stub.get(), config.master_slot, config.master_address, options_.peer,
                          &replica->stop);
  while (!replica->stop) {
    const absl::Duration started = clock_->Monotonic();
    CatchUpCycle(replica, master);
    if (!AwaitNextCycle(replica, started + options_.catch_up_interval)) break;
  }
  absl::MutexLock lock(&mu_);
  replica->finished = true;
}

bool SyncEngine::AwaitNextCycle(Replica* replica, absl::Duration next) {
  // The time is the engine clock's; a stop is seen at once (it is set under
  // mu_), and the clock is looked at every 200 ms of real time.
  auto stopped = [replica]() { return replica->stop.load(); };
  absl::MutexLock lock(&mu_);
  while (clock_->Monotonic() < next) {
    if (mu_.AwaitWithTimeout(absl::Condition(&stopped), absl::Milliseconds(200))) return false;
  }
  return !replica->stop;
}

absl::StatusOr<bool> SyncEngine::CheckIdentity(const std::string& slot, int root) {
  const SlotRecord record = records_.Get(slot);
  absl::StatusOr<SlotIdentity> now = ReadSlotIdentity(root);
  if (!now.ok()) return now.status();
  const bool changed = !record.identity().empty() &&
                       (now->instance_id.empty() || now->ToString() != record.identity());
  if (!changed && !record.identity().empty()) return record.verify_pending();
  absl::StatusOr<SlotIdentity> ensured = EnsureSlotIdentity(root, fs_);
  if (!ensured.ok()) return ensured.status();
  if (changed) {
    LogError("sync", absl::StrCat("replica slot ", slot, ": its identity changed (",
                                  record.identity(), " -> ", ensured->ToString(),
                                  "): emptied, replaced or mounted over behind the agent's back; "
                                  "full sync and verification before it is in sync again"));
    // Nothing remembered about the old copy may vouch for the new one.
    SK_RETURN_IF_ERROR(checkpoints_.Clear(slot));
    SK_RETURN_IF_ERROR(cache_->ForgetScope(slot));
  }
  SK_RETURN_IF_ERROR(records_.Update(slot, [&](SlotRecord* r) {
    r->set_identity(ensured->ToString());
    if (changed) r->set_verify_pending(true);
  }));
  return changed || record.verify_pending();
}

void SyncEngine::StartRepairs(Replica* replica, const SlotQuarantine& quarantine) {
  std::vector<ScrubFinding> repairs;
  {
    absl::MutexLock lock(&mu_);
    repairs.swap(replica->repairs);
  }
  for (const ScrubFinding& f : repairs) {
    QuarantineNote note{kReasonCorrupt, f.found};
    // A missing file has nothing to set aside: its user's next sync brings
    // it back.
    absl::StatusOr<v1::QuarantineItem> moved =
        f.missing ? absl::StatusOr<v1::QuarantineItem>(v1::QuarantineItem())
                  : quarantine.Move(f.user, f.path, note);
    if (!moved.ok()) {
      if (!absl::IsNotFound(moved.status())) {
        LogWarning("sync", absl::StrCat("slot ", quarantine.slot(), ": cannot move corrupt ",
                                        f.user, "/", f.path, " aside: ", moved.status().message()));
      }
      continue;
    }
    cache_->Forget(HashCacheKey(quarantine.slot(), f.user, f.path));
    (void)checkpoints_.Forget(quarantine.slot(), f.user);  // the user's next sync walks it
    replica->repairing.push_back(f);
  }
}

void SyncEngine::CatchUpCycle(Replica* replica, const PeerClient& master) {
  const ReplicaState& config = replica->state;
  const absl::Duration started = clock_->Monotonic();
  SyncCounters counters;
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = absl::UnknownError("no cycle");
  absl::Status verified;  // of a verification after an identity change
  bool verify_pending = false;
  absl::StatusOr<std::shared_ptr<const Fd>> root = SlotRoot(config.slot);
  absl::StatusOr<bool> pending =
      root.ok() ? CheckIdentity(config.slot, (*root)->get()) : absl::StatusOr<bool>(root.status());
  if (!pending.ok()) {
    r = pending.status();
  } else {
    verify_pending = *pending;
    if (verify_pending) {
      // Not in sync from this moment, not only once the cycle ends.
      absl::MutexLock lock(&mu_);
      replica->record.identity_changed = true;
    }
    const int fd = (*root)->get();
    StartRepairs(replica, SlotQuarantine(fd, config.slot, clock_, fs_, &quarantine_));
    const bool stranded_check = records_.Get(config.slot).stranded_check_pending();
    std::optional<std::map<std::string, std::set<std::string>>> deleted;
    if (stranded_check) deleted = DeletedAtMaster(master);
    StoreSyncContext ctx = SyncContext(&master, config.store, fd, config.slot, &counters);
    ctx.cancelled = &replica->stop;
    ctx.stranded_check = stranded_check;
    ctx.deleted_at_source = deleted ? &*deleted : nullptr;
    r = SyncStore(ctx, &partial);
    const bool complete = r.ok() && partial.blocked_users.empty();
    if (complete && stranded_check) {
      LogInfo("sync",
              absl::StrCat("slot ", config.slot, ": stranded-mail check done: ",
                           quarantine_.Totals(config.slot).stranded, " message(s) stranded here"));
      (void)records_.Update(config.slot,
                            [](SlotRecord* rec) { rec->set_stranded_check_pending(false); });
    }
    if (complete && verify_pending) {
      verified = VerifyAfterIdentityChange(config.slot, fd, master);
      verify_pending = !verified.ok();
    }
    if (complete) FinishRepairs(replica, fd);
  }
  absl::MutexLock lock(&mu_);
  CatchUpRecord& c = replica->record;
  c.blocked_users = partial.blocked_users;
  c.identity_changed = verify_pending;
  c.last_cycle_ok = r.ok() && partial.blocked_users.empty() && verified.ok();
  c.listed_lag_ms = r.ok() ? r->lag_ms : std::max(c.listed_lag_ms, partial.lag_ms);
  if (!r.ok()) {
    c.last_error = std::string(r.status().message());
  } else if (!partial.blocked_users.empty()) {
    c.last_error =
        absl::StrCat(partial.blocked_users.size(), " user(s) blocked by the mass-deletion guard");
  } else if (!verified.ok()) {
    c.last_error = std::string(verified.message());
  } else {
    c.last_error.clear();
  }
  if (r.ok()) c.last_success_ms = clock_->NowMs();
  if (c.last_cycle_ok && !verify_pending) c.caught_up_at = started;
}

absl::Status SyncEngine::VerifyAfterIdentityChange(const std::string& slot, int root,
                                                   const PeerClient& master) {
  absl::StatusOr<VerifyReport> report = VerifyAgainstSource(master, "", root, slot, cache_.get());
  if (!report.ok()) return report.status();
  if (!report->consistent()) {
    return absl::DataLossError(absl::StrCat(
        "after the slot's identity changed: verification found ", report->differences.size(),
        " difference(s); first: ", report->differences.front().path));
  }
  LogInfo("sync", absl::StrCat("replica slot ", slot, ": verified against ", master.source_name(),
                               " after its identity changed (", report->files_checked, " files)"));
  return records_.Update(slot, [](SlotRecord* r) { r->set_verify_pending(false); });
}

void SyncEngine::FinishRepairs(Replica* replica, int root) {
  uint64_t repaired = 0;
  for (const ScrubFinding& f : replica->repairing) {
    absl::StatusOr<Fd> dir = OpenUserDir(root, f.user, /*create=*/false);
    struct stat st;
    if (dir.ok() && fstatat(dir->get(), f.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      LogInfo("sync", absl::StrCat("slot ", replica->state.slot, ": ", f.user, "/", f.path,
                                   " repaired from ", replica->state.master_address));
      ++repaired;
    }
  }
  replica->repairing.clear();
  scrub_->NoteRepaired(replica->state.slot, repaired);
}

absl::Status SyncEngine::FinalPull(const std::string& store, const std::string& target_slot,
                                   const std::string& source_address,
                                   const std::string& source_slot, absl::Duration budget) {
  SK_RETURN_IF_ERROR(ValidateHostPort(source_address));
  if (source_slot.empty() || store.empty()) {
    return absl::InvalidArgumentError("final pull: store and source slot are required");
  }
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root, SlotRoot(target_slot));
  if (budget <= absl::ZeroDuration()) budget = options_.final_pull_default;
  const std::string id = absl::StrCat("final-pull:", target_slot);
  std::optional<ReplicaState> paused;
  std::optional<CatchUpRecord> paused_record;
  Task* task = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::FailedPreconditionError("the data path is stopping");
    auto running = tasks_.find(id);
    if (running != tasks_.end() && !running->second->finished) {
      return absl::FailedPreconditionError(
          absl::StrCat("a final pull into ", target_slot, " is running"));
    }
    auto loop = replicas_.find(target_slot);
    if (loop != replicas_.end()) {
      paused = loop->second->state;
      paused_record = loop->second->record;
    }
    RetireLocked(target_slot);  // the pull writes into the slot alone
    auto t = std::make_unique<Task>();
    t->target_slot = target_slot;
    task = t.get();
    tasks_[id] = std::move(t);
    auto quiet = [this, &target_slot]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !StoppedLoopInLocked(target_slot);
    };
    mu_.AwaitWithTimeout(absl::Condition(&quiet), options_.wind_down_timeout);
  }
  const absl::Duration pull_started = clock_->Monotonic();
  absl::Status status = RunFinalPull(store, target_slot, *root, source_address, source_slot, budget,
                                     &task->cancelled);
  {
    absl::MutexLock lock(&mu_);
    task->finished = true;
  }
  Reap();
  // The loop goes on unless the slot was promoted or given another
  // assignment meanwhile.
  if (paused && !records_.Get(target_slot).master()) {
    bool reassigned = false;
    {
      absl::MutexLock lock(&mu_);
      reassigned = replicas_.count(target_slot) > 0 || stopping_;
    }
    if (!reassigned) {
      (void)AssignReplica(paused->slot, paused->store, paused->master_address, paused->master_slot);
      // A complete pull from the slot the loop follows is a complete
      // catch-up: the loop resumes in sync, not "no catch-up yet" (the
      // coordinator that asked for the pull promotes the best copy, and
      // this one must not look worse for having pulled).
      if (status.ok() && paused->master_slot == source_slot &&
          !records_.Get(target_slot).verify_pending()) {
        absl::MutexLock lock(&mu_);
        auto it = replicas_.find(target_slot);
        if (it != replicas_.end() && !it->second->record.caught_up_at) {
          CatchUpRecord& r = it->second->record;
          r.caught_up_at = pull_started;
          r.last_cycle_ok = true;
          r.verification_failed = paused_record->verification_failed;
          r.listed_lag_ms = 0;
          r.last_success_ms = clock_->NowMs();
          r.last_error.clear();
        }
      }
    }
  }
  return status;
}

absl::Status SyncEngine::RunFinalPull(const std::string& store, const std::string& target_slot,
                                      const Fd& root, const std::string& source_address,
                                      const std::string& source_slot, absl::Duration budget,
                                      std::atomic<bool>* cancelled) {
  std::unique_ptr<v1::ReplicaPeer::Stub> stub = v1::ReplicaPeer::NewStub(ChannelTo(source_address));
  const PeerClient source(stub.get(), source_slot, source_address, options_.peer, cancelled);
  // Cancels the pull at the budget (engine clock, looked at every 50 ms).
  absl::Notification done;
  const absl::Duration deadline = clock_->Monotonic() + budget;
  std::thread timer([&] {
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
      if (clock_->Monotonic() >= deadline) {
        *cancelled = true;
        return;
      }
    }
  });
  SyncCounters counters;
  StoreSyncContext ctx = SyncContext(&source, store, root.get(), target_slot, &counters);
  ctx.cancelled = cancelled;
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = SyncStore(ctx, &partial);
  const bool timed_out = cancelled->load() && clock_->Monotonic() >= deadline;
  done.Notify();
  timer.join();
  const v1::TaskProgress& p = partial.progress;
  if (r.ok() && partial.blocked_users.empty()) {
    LogInfo("sync", absl::StrCat("final pull into ", target_slot, " from ", source.source_name(),
                                 ": all ", p.users_total(), " user(s) synced, ",
                                 counters.files_copied.load(), " file(s) copied"));
    return absl::OkStatus();
  }
  const std::string how_far = absl::StrCat(
      "final pull into ", target_slot, " from ", source.source_name(), ": ", p.users_done(), " of ",
      p.users_total(), " user(s) synced, ", counters.files_copied.load(), " file(s) copied");
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(how_far, " when its ", absl::FormatDuration(budget), " ran out"));
  }
  if (!r.ok())
    return absl::Status(r.status().code(), absl::StrCat(how_far, "; ", r.status().message()));
  return absl::AbortedError(absl::StrCat(how_far, "; ", partial.blocked_users.size(),
                                         " user(s) blocked by the mass-deletion guard"));
}

}  // namespace slotkeeper::sync
