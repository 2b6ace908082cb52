#include "replicator/sync/engine.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/state_db.h"

namespace slotkeeper::sync {

absl::StatusOr<std::unique_ptr<SyncEngine>> SyncEngine::Create(
    const std::string& data_dir, std::map<std::string, std::string> slots, Clock* clock,
    TargetFs* fs, EngineOptions options) {
  for (const auto& [name, path] : slots) {
    if (name.empty() || path.empty() || path[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("slot \"", name, "\": path \"", path, "\" is not absolute"));
    }
  }
  if (clock == nullptr) return absl::InvalidArgumentError("no clock");
  if (options.stale_after <= options.catch_up_interval) {
    return absl::InvalidArgumentError("stale_after must be longer than catch_up_interval");
  }
  if (fs == nullptr) return absl::InvalidArgumentError("no filesystem");
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> db = OpenStateDb(data_dir);
  if (!db.ok()) return db.status();
  return std::unique_ptr<SyncEngine>(
      new SyncEngine(*std::move(db), std::move(slots), clock, fs, std::move(options)));
}

SyncEngine::SyncEngine(std::unique_ptr<rocksdb::DB> db, std::map<std::string, std::string> slots,
                       Clock* clock, TargetFs* fs, EngineOptions options)
    : db_(std::move(db)),
      slots_(slots),
      clock_(clock),
      fs_(fs),
      options_(std::move(options)),
      records_(db_.get()),
      quarantine_(db_.get()),
      guards_(db_.get()),
      deletion_log_(db_.get()),
      checkpoints_(db_.get()) {
  cache_ = std::make_unique<RocksHashCache>(db_.get());
  peer_ = std::make_unique<PeerCore>(slots, cache_.get(), clock_, NewInstanceId(),
                                     options_.full_scan_interval);
  // The deletion log is served and used as of the moment it is asked for.
  auto refresh_log = [this](const std::string& slot) { maintenance_->IndexNow(slot); };
  safety_ = std::make_unique<SafetySource>(peer_.get(), &quarantine_, &deletion_log_, refresh_log);
  service_ = std::make_unique<ReplicaPeerService>(peer_.get(), safety_.get(), options_.authorizer);
  MaintenanceDeps deps;
  deps.slots = &slots_;
  deps.records = &records_;
  deps.quarantine = &quarantine_;
  deps.deletion_log = &deletion_log_;
  deps.tracker = peer_->tracker();
  deps.clock = clock_;
  deps.fs = fs_;
  maintenance_ = std::make_unique<Maintenance>(deps, options_.maintenance);
  ScrubRunnerDeps scrub;
  scrub.records = &records_;
  scrub.cache = cache_.get();
  scrub.checkpoints = &checkpoints_;
  scrub.clock = clock_;
  scrub.peer = options_.peer;
  scrub.targets = [this] { return ScrubTargets(); };
  scrub.channel_to = [this](const std::string& address) { return ChannelTo(address); };
  scrub.on_corrupt = [this](const std::string& slot, const ScrubFinding& f) { OnCorrupt(slot, f); };
  scrub_ = std::make_unique<ScrubRunner>(std::move(scrub), options_.scrub);
  SafetyDeps safety;
  safety.slots = &slots_;
  safety.records = &records_;
  safety.quarantine = &quarantine_;
  safety.guards = &guards_;
  safety.deletion_log = &deletion_log_;
  safety.scrub = scrub_.get();
  safety.clock = clock_;
  safety.fs = fs_;
  safety.peer = options_.peer;
  safety.channel_to = [this](const std::string& address) { return ChannelTo(address); };
  safety.refresh_log = refresh_log;
  safety_commands_ = std::make_unique<SafetyCommands>(std::move(safety));
  maintenance_->Start();
  scrub_->Start();
}

SyncEngine::~SyncEngine() {
  Stop();
  // What did not end within the wind-down time: only local work remains.
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, task] : tasks_) {
      if (task->thread.joinable()) threads.push_back(std::move(task->thread));
    }
    for (auto& replica : retired_) {
      if (replica->thread.joinable()) threads.push_back(std::move(replica->thread));
    }
  }
  for (std::thread& t : threads) t.join();
}

void SyncEngine::Stop() {
  scrub_->Stop();
  maintenance_->Stop();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [id, task] : tasks_) task->cancelled = true;
    while (!replicas_.empty()) RetireLocked(replicas_.begin()->first);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& [id, task] : tasks_) {
        if (!task->finished) return false;
      }
      for (const auto& replica : retired_) {
        if (!replica->finished) return false;
      }
      return true;
    };
    // Real time: a bound on local work, not a replication interval.
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended), options_.wind_down_timeout)) {
      LogWarning("sync", absl::StrCat("stopping: some work had not ended after ",
                                      absl::FormatDuration(options_.wind_down_timeout)));
    }
  }
  Reap();
}

void SyncEngine::Reap() {
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<std::unique_ptr<Replica>> loops;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (!it->second->finished) {
        ++it;
        continue;
      }
      tasks.push_back(std::move(it->second));
      it = tasks_.erase(it);
    }
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (!(*it)->finished) {
        ++it;
        continue;
      }
      loops.push_back(std::move(*it));
      it = retired_.erase(it);
    }
  }
  // Each has set `finished` as its last step: these joins are immediate.
  for (auto& task : tasks) {
    if (task->thread.joinable()) task->thread.join();
  }
  for (auto& loop : loops) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

StoreSyncContext SyncEngine::SyncContext(const PeerClient* source, const std::string& store,
                                         int target_root, const std::string& target_slot,
                                         SyncCounters* counters) {
  StoreSyncContext ctx;
  ctx.source = source;
  ctx.store = store;
  ctx.target_root = target_root;
  ctx.target_slot = target_slot;
  ctx.options = options_.sync;
  ctx.db = db_.get();
  ctx.fs = fs_;
  ctx.clock = clock_;
  ctx.counters = counters;
  ctx.quarantine_index = &quarantine_;
  ctx.guards = &guards_;
  return ctx;
}

void SyncEngine::RegisterService(grpc::ServerBuilder* builder) {
  builder->RegisterService(service_.get());
}

absl::StatusOr<std::shared_ptr<const Fd>> SyncEngine::SlotRoot(const std::string& slot) {
  return slots_.Root(slot);
}

std::shared_ptr<grpc::Channel> SyncEngine::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) channel = MakeChannel(address);
  return channel;
}

absl::Status SyncEngine::StartTask(const std::string& task_id, v1::TaskKind kind,
                                   const std::string& store, const std::string& target_slot,
                                   const std::string& source_address,
                                   const std::string& source_slot, ProgressCallback on_progress,
                                   DoneCallback on_done) {
  if (task_id.empty()) return absl::InvalidArgumentError("task id is empty");
  if (kind != v1::TASK_RE_REPLICATE && kind != v1::TASK_CATCH_UP && kind != v1::TASK_VERIFY) {
    return absl::InvalidArgumentError(absl::StrCat("task ", task_id, ": unsupported kind ", kind));
  }
  if (absl::Status s = ValidateHostPort(source_address); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", task_id, ": source: ", s.message()));
  }
  if (source_slot.empty()) return absl::InvalidArgumentError("source slot is empty");
  if (absl::StatusOr<std::shared_ptr<const Fd>> root = SlotRoot(target_slot); !root.ok()) {
    return root.status();
  }
  std::unique_ptr<Task> previous;  // a finished attempt of the same id
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::FailedPreconditionError("the data path is stopping");
    auto it = tasks_.find(task_id);
    if (it != tasks_.end()) {
      if (!it->second->finished) {
        return absl::AlreadyExistsError(absl::StrCat("task ", task_id, " is running"));
      }
      previous = std::move(it->second);
      tasks_.erase(it);
    }
    auto task = std::make_unique<Task>();
    task->target_slot = target_slot;
    Task* raw = task.get();
    tasks_[task_id] = std::move(task);
    raw->thread = std::thread([=]() {
      TaskOutcome outcome = RunTask(task_id, kind, store, target_slot, source_address, source_slot,
                                    on_progress, &raw->cancelled);
      if (on_done) on_done(outcome);
      absl::MutexLock lock(&mu_);
      raw->finished = true;
    });
  }
  // It set `finished` as its last step: an immediate join.
  if (previous != nullptr && previous->thread.joinable()) previous->thread.join();
  Reap();
  return absl::OkStatus();
}

absl::Status SyncEngine::CancelTask(const std::string& task_id) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second->finished) {
    return absl::NotFoundError(absl::StrCat("no running task ", task_id));
  }
  it->second->cancelled = true;
  return absl::OkStatus();
}

TaskOutcome SyncEngine::RunTask(const std::string& task_id, v1::TaskKind kind,
                                const std::string& store, const std::string& target_slot,
                                const std::string& source_address, const std::string& source_slot,
                                const ProgressCallback& on_progress,
                                const std::atomic<bool>* cancelled) {
  TaskOutcome outcome;
  outcome.task_id = task_id;
  absl::StatusOr<std::shared_ptr<const Fd>> root = SlotRoot(target_slot);
  std::unique_ptr<v1::ReplicaPeer::Stub> stub = v1::ReplicaPeer::NewStub(ChannelTo(source_address));
  const PeerClient source(stub.get(), source_slot, source_address, options_.peer, cancelled);
  auto fail = [&](const absl::Status& s) {
    outcome.state = absl::IsCancelled(s) ? v1::TASK_CANCELLED : v1::TASK_FAILED;
    outcome.error = std::string(s.message());
    return outcome;
  };
  if (!root.ok()) return fail(root.status());
  if (kind != v1::TASK_VERIFY) {
    SyncCounters counters;
    StoreSyncContext ctx = SyncContext(&source, store, (*root)->get(), target_slot, &counters);
    ctx.progress = [&](const v1::TaskProgress& p) {
      if (on_progress) on_progress(task_id, p);
    };
    ctx.cancelled = cancelled;
    StoreSyncResult partial;
    absl::StatusOr<StoreSyncResult> r = SyncStore(ctx, &partial);
    outcome.progress = partial.progress;
    outcome.blocked_users = partial.blocked_users;
    if (!r.ok()) return fail(r.status());
  }
  const absl::Duration verify_started = clock_->Monotonic();
  absl::StatusOr<VerifyReport> report =
      VerifyAgainstSource(source, "", (*root)->get(), target_slot, cache_.get());
  if (!report.ok()) return fail(report.status());
  NoteVerification(target_slot, source_address, source_slot, verify_started, *report);
  if (!report->consistent()) {
    const Difference& d = report->differences.front();
    return fail(absl::DataLossError(absl::StrCat(report->differences.size(),
                                                 " difference(s) after sync; first: ", d.path, " ",
                                                 DifferenceKindName(d.kind))));
  }
  outcome.verified = true;
  outcome.state = v1::TASK_DONE;
  if (!outcome.blocked_users.empty()) {
    outcome.state = v1::TASK_FAILED;
    outcome.error =
        absl::StrCat(outcome.blocked_users.size(), " user(s) blocked by the mass-deletion guard");
  }
  return outcome;
}

absl::Status SyncEngine::AssignReplica(const std::string& slot, const std::string& store,
                                       const std::string& master_address,
                                       const std::string& master_slot) {
  if (absl::StatusOr<std::shared_ptr<const Fd>> root = SlotRoot(slot); !root.ok()) {
    return root.status();
  }
  if (absl::Status s = ValidateHostPort(master_address); !s.ok()) return s;
  if (store.empty() || master_slot.empty()) {
    return absl::InvalidArgumentError("store and master slot are required");
  }
  Reap();
  // A slot that was master (also one adopted after a restart) becomes a
  // replica: its first complete catch-up looks for stranded mail.
  OnRoleChanged(slot, v1::SLOT_REPLICA);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::FailedPreconditionError("the data path is stopping");
  auto it = replicas_.find(slot);
  if (it != replicas_.end()) {
    const ReplicaState& s = it->second->state;
    if (s.store == store && s.master_address == master_address && s.master_slot == master_slot) {
      return absl::OkStatus();  // a re-sent assignment: the loop goes on
    }
  }
  RetireLocked(slot);
  auto replica = std::make_unique<Replica>();
  replica->state.slot = slot;
  replica->state.store = store;
  replica->state.master_address = master_address;
  replica->state.master_slot = master_slot;
  replica->record.assigned_at = clock_->Monotonic();
  Replica* raw = replica.get();
  replicas_[slot] = std::move(replica);
  raw->thread = std::thread([this, raw]() { CatchUpLoop(raw); });
  return absl::OkStatus();
}

void SyncEngine::RetireLocked(const std::string& slot) {
  // A scrub pass comparing the slot with its master ends too (the master
  // changes or the slot leaves the store).
  scrub_->CancelPass(slot);
  auto it = replicas_.find(slot);
  if (it == replicas_.end()) return;
  it->second->stop = true;
  retired_.push_back(std::move(it->second));
  replicas_.erase(it);
}

void SyncEngine::CancelTasksIntoLocked(const std::string& slot) {
  for (auto& [id, task] : tasks_) {
    if (task->target_slot == slot) task->cancelled = true;
  }
}

bool SyncEngine::StoppedLoopInLocked(const std::string& slot) const {
  for (const auto& replica : retired_) {
    if (replica->state.slot == slot && !replica->finished) return true;
  }
  return false;
}

bool SyncEngine::WritingIntoLocked(const std::string& slot) const {
  for (const auto& [id, task] : tasks_) {
    if (task->target_slot == slot && !task->finished) return true;
  }
  return StoppedLoopInLocked(slot);
}

absl::Status SyncEngine::UnassignReplica(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  if (!replicas_.count(slot))
    return absl::NotFoundError(absl::StrCat("slot ", slot, " has no replica assignment"));
  RetireLocked(slot);
  return absl::OkStatus();
}

void SyncEngine::StopPulling(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  RetireLocked(slot);
  CancelTasksIntoLocked(slot);
}

absl::Status SyncEngine::ReleaseSlot(const std::string& slot, const std::string& store) {
  absl::StatusOr<std::shared_ptr<const Fd>> root_fd = SlotRoot(slot);
  if (!root_fd.ok()) return root_fd.status();
  const int root = (*root_fd)->get();
  {
    absl::MutexLock lock(&mu_);
    RetireLocked(slot);
    CancelTasksIntoLocked(slot);
    auto quiet = [this, &slot]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !WritingIntoLocked(slot); };
    // Real time: a bound on local work (the stopped work's calls are
    // cancelled), not a replication interval.
    if (!mu_.AwaitWithTimeout(absl::Condition(&quiet), options_.wind_down_timeout)) {
      return absl::UnavailableError(
          absl::StrCat("slot ", slot, ": the replication into it had not ended after ",
                       absl::FormatDuration(options_.wind_down_timeout), "; release it again"));
    }
  }
  Reap();
  absl::StatusOr<std::string> marker = ReadStoreMarker(root);
  if (marker.ok() && *marker != store) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " holds store \"", *marker, "\", not \"", store, "\""));
  }
  absl::StatusOr<std::vector<std::string>> users = ListSlotUsers(root);
  if (!users.ok()) return users.status();
  const SlotQuarantine quarantine(root, slot, clock_, fs_, &quarantine_);
  for (const std::string& user : *users) {
    if (absl::Status s = quarantine.MoveUserDir(user, kReasonReleased); !s.ok()) return s;
  }
  if (marker.ok()) {
    absl::StatusOr<Fd> q =
        OpenDirBeneath(root, absl::StrCat(kQuarantineDir, "/", QuarantineDay(clock_->Now())), true);
    if (!q.ok()) return q.status();
    if (absl::Status s =
            fs_->Rename(root, std::string(kStoreMarker), q->get(), absl::StrCat("store-", store));
        !s.ok()) {
      return s;
    }
  }
  LogInfo("sync", absl::StrCat("released slot ", slot, " (store ", store, "): ", users->size(),
                               " user(s) moved to quarantine"));
  // A spare slot remembers nothing of the store: no guard, no role, no
  // deletion log (its quarantine stays listed until purged).
  absl::Status cleared = checkpoints_.Clear(slot);
  cleared.Update(guards_.Clear(slot));
  cleared.Update(deletion_log_.Clear(slot));
  cleared.Update(records_.Update(slot, [](SlotRecord* r) {
    r->set_master(false);
    r->set_stranded_check_pending(false);
    r->set_verify_pending(false);
  }));
  return cleared;
}

void SyncEngine::NoteVerification(const std::string& slot, const std::string& source_address,
                                  const std::string& source_slot, absl::Duration started,
                                  const VerifyReport& report) {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(slot);
  if (it == replicas_.end()) return;
  const ReplicaState& assigned = it->second->state;
  if (assigned.master_address != source_address || assigned.master_slot != source_slot) return;
  CatchUpRecord& c = it->second->record;
  if (report.consistent()) {
    // The copy equalled the master when the verification started.
    c.verification_failed = false;
    c.last_cycle_ok = true;
    c.last_error.clear();
    if (!c.caught_up_at || *c.caught_up_at < started) c.caught_up_at = started;
    return;
  }
  // A catch-up does not look at users at their checkpoint: only a
  // verification that finds no difference clears this.
  c.verification_failed = true;
  c.last_error = absl::StrCat("verification: ", report.differences.size(),
                              " difference(s); first: ", report.differences.front().path);
}

std::vector<ReplicaState> SyncEngine::ReplicationStatus() {
  std::vector<ReplicaState> out;
  std::set<std::string> replicas;
  {
    absl::MutexLock lock(&mu_);
    const absl::Duration now = clock_->Monotonic();
    for (const auto& [slot, replica] : replicas_) {
      ReplicaState s = replica->state;
      const CatchUpRecord& c = replica->record;
      const ReplicaVerdict verdict = JudgeReplica(c, now, options_.stale_after);
      s.in_sync = verdict.in_sync;
      s.lag_ms = verdict.lag_ms;
      s.last_error = verdict.why_not;
      s.last_success_ms = c.last_success_ms;
      s.blocked_users = c.blocked_users;
      out.push_back(std::move(s));
      replicas.insert(slot);
    }
  }
  for (const std::string& slot : slots_.names()) {
    if (replicas.count(slot) || !records_.Get(slot).master()) continue;
    ReplicaState s;
    s.slot = slot;
    s.role = v1::SLOT_MASTER;
    if (absl::StatusOr<std::shared_ptr<const Fd>> root = SlotRoot(slot); root.ok()) {
      s.store = ReadStoreMarker((*root)->get()).value_or("");
    }
    out.push_back(std::move(s));
  }
  for (ReplicaState& s : out) safety_commands_->AddStatus(&s);
  return out;
}

}  // namespace slotkeeper::sync
