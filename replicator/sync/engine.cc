#include "replicator/sync/engine.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/status_macros.h"
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
  PullerDeps pull;
  pull.db = db_.get();
  pull.slots = &slots_;
  pull.cache = cache_.get();
  pull.quarantine = &quarantine_;
  pull.guards = &guards_;
  pull.clock = clock_;
  pull.fs = fs_;
  pull.sync = options_.sync;
  pull.peer = options_.peer;
  puller_ = std::make_unique<SlotPuller>(std::move(pull));
  auto channel_to = [this](const std::string& address) { return puller_->ChannelTo(address); };
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
  scrub.channel_to = channel_to;
  scrub.on_corrupt = [this](const std::string& slot, const ScrubFinding& f) {
    loops_->AddRepair(slot, f);
  };
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
  safety.channel_to = channel_to;
  safety.refresh_log = refresh_log;
  safety_commands_ = std::make_unique<SafetyCommands>(std::move(safety));
  loops_ = std::make_unique<CatchUpLoops>(LoopsDeps());
  tasks_ = std::make_unique<TaskRunner>();
  maintenance_->Start();
  scrub_->Start();
}

CatchUpLoopsDeps SyncEngine::LoopsDeps() {
  CycleDeps cycle;
  cycle.puller = puller_.get();
  cycle.slots = &slots_;
  cycle.records = &records_;
  cycle.checkpoints = &checkpoints_;
  cycle.cache = cache_.get();
  cycle.quarantine = &quarantine_;
  cycle.clock = clock_;
  cycle.fs = fs_;
  cycle.on_repaired = [this](const std::string& slot, uint64_t files) {
    scrub_->NoteRepaired(slot, files);
  };
  CatchUpLoopsDeps loops;
  loops.clock = clock_;
  loops.interval = options_.catch_up_interval;
  loops.safety_net_interval = options_.safety_net_interval;
  loops.make_cycle = [cycle](const ReplicaAssignment& replica,
                             const std::atomic<bool>* stop) -> CycleFn {
    auto made = std::make_shared<CatchUpCycle>(cycle, replica, stop);
    return [made](const CycleHooks& hooks, const v1::ListUsersResponse* pushed) {
      return made->Run(hooks, pushed);
    };
  };
  if (options_.push) {
    loops.make_follower = [this](const ReplicaAssignment& replica, const std::atomic<bool>* stop,
                                 std::function<void()> wake) {
      return std::make_unique<ChangeFollower>(
          v1::ReplicaPeer::NewStub(puller_->ChannelTo(replica.master_address)), replica.master_slot,
          replica.store, clock_, stop, std::move(wake));
    };
  }
  // A scrub pass comparing the slot with its master ends too (the master
  // changes or the slot leaves the store).
  loops.on_retire = [this](const std::string& slot) { scrub_->CancelPass(slot); };
  return loops;
}

void SyncEngine::RegisterService(grpc::ServerBuilder* builder) {
  builder->RegisterService(service_.get());
}

SyncEngine::~SyncEngine() {
  // What did not end within the wind-down time (only local work remains)
  // is joined by the tasks' and the loops' destructors, which run first.
  Stop();
}

void SyncEngine::Stop() {
  scrub_->Stop();
  maintenance_->Stop();
  tasks_->Shutdown();
  loops_->Shutdown();
  // Real time: a bound on local work, not a replication interval.
  const absl::Time deadline = absl::Now() + options_.wind_down_timeout;
  const bool tasks_ended = tasks_->AwaitAllEnded(deadline);
  if (!loops_->AwaitAllEnded(deadline) || !tasks_ended) {
    LogWarning("sync", absl::StrCat("stopping: some work had not ended after ",
                                    absl::FormatDuration(options_.wind_down_timeout)));
  }
  Reap();
}

void SyncEngine::Reap() {
  tasks_->Reap();
  loops_->Reap();
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
  SK_RETURN_IF_ERROR(slots_.Root(target_slot).status());
  const TaskSpec spec{task_id, kind, store, target_slot, source_address, source_slot};
  // A verification of a replica against its master counts for its loop.
  auto on_verified = [this](const TaskSpec& t, absl::Duration started, const VerifyReport& r) {
    loops_->NoteVerification(t.target_slot, t.source_address, t.source_slot, started, r);
  };
  SK_RETURN_IF_ERROR(tasks_->Start(
      task_id, target_slot,
      [this, spec, on_progress = std::move(on_progress), on_done = std::move(on_done),
       on_verified](std::atomic<bool>* cancelled) {
        const TaskOutcome outcome = puller_->RunTask(spec, on_progress, on_verified, cancelled);
        if (on_done) on_done(outcome);
      }));
  Reap();
  return absl::OkStatus();
}

absl::Status SyncEngine::CancelTask(const std::string& task_id) { return tasks_->Cancel(task_id); }

absl::Status SyncEngine::AssignReplica(const std::string& slot, const std::string& store,
                                       const std::string& master_address,
                                       const std::string& master_slot) {
  SK_RETURN_IF_ERROR(slots_.Root(slot).status());
  SK_RETURN_IF_ERROR(ValidateHostPort(master_address));
  if (store.empty() || master_slot.empty()) {
    return absl::InvalidArgumentError("store and master slot are required");
  }
  Reap();
  // A slot that was master (also one adopted after a restart) becomes a
  // replica: its first complete catch-up looks for stranded mail.
  OnRoleChanged(slot, v1::SLOT_REPLICA);
  return loops_->Assign({slot, store, master_address, master_slot});
}

absl::Status SyncEngine::UnassignReplica(const std::string& slot) { return loops_->Unassign(slot); }

void SyncEngine::StopPulling(const std::string& slot) {
  loops_->Retire(slot);
  tasks_->CancelInto(slot);
}

absl::Status SyncEngine::FinalPull(const std::string& store, const std::string& target_slot,
                                   const std::string& source_address,
                                   const std::string& source_slot, absl::Duration budget) {
  SK_RETURN_IF_ERROR(ValidateHostPort(source_address));
  if (source_slot.empty() || store.empty()) {
    return absl::InvalidArgumentError("final pull: store and source slot are required");
  }
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root, slots_.Root(target_slot));
  if (budget <= absl::ZeroDuration()) budget = options_.final_pull_default;
  std::optional<LoopStatus> paused;
  FinalPullOutcome outcome;
  outcome.source_slot = source_slot;
  absl::Status ran = tasks_->RunHere(
      absl::StrCat("final-pull:", target_slot), target_slot, [&](std::atomic<bool>* cancelled) {
        paused = loops_->Retire(target_slot);  // the pull writes into the slot alone
        loops_->AwaitStopped(target_slot, absl::Now() + options_.wind_down_timeout);
        outcome.started = clock_->Monotonic();
        outcome.pull = puller_->FinalPull(store, target_slot, *root, source_address, source_slot,
                                          budget, cancelled);
      });
  if (absl::IsAlreadyExists(ran)) {
    return absl::FailedPreconditionError(
        absl::StrCat("a final pull into ", target_slot, " is running"));
  }
  SK_RETURN_IF_ERROR(ran);
  Reap();
  // The loop goes on unless the slot was promoted or given another
  // assignment meanwhile.
  if (paused && !records_.Get(target_slot).master() && loops_->MayResume(target_slot)) {
    const ReplicaAssignment& replica = paused->replica;
    (void)AssignReplica(replica.slot, replica.store, replica.master_address, replica.master_slot);
    // A complete pull from the slot the loop follows is a complete
    // catch-up: the loop resumes in sync (RecordFinalPull).
    outcome.finished_ms = clock_->NowMs();
    outcome.verify_pending = records_.Get(target_slot).verify_pending();
    outcome.verification_failed = paused->record.verification_failed;
    loops_->NoteFinalPull(target_slot, outcome);
  }
  return outcome.pull;
}

absl::Status SyncEngine::ReleaseSlot(const std::string& slot, const std::string& store) {
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root_fd, slots_.Root(slot));
  const int root = root_fd->get();
  loops_->Retire(slot);
  tasks_->CancelInto(slot);
  // Real time: a bound on local work (the stopped work's calls are
  // cancelled), not a replication interval.
  const absl::Time deadline = absl::Now() + options_.wind_down_timeout;
  if (!tasks_->AwaitQuietInto(slot, deadline) || !loops_->AwaitStopped(slot, deadline)) {
    return absl::UnavailableError(
        absl::StrCat("slot ", slot, ": the replication into it had not ended after ",
                     absl::FormatDuration(options_.wind_down_timeout), "; release it again"));
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

CatchUpTotals SyncEngine::CatchUpFigures() { return loops_->Totals(); }

std::vector<ReplicaState> SyncEngine::ReplicationStatus() {
  std::vector<ReplicaState> out;
  std::set<std::string> replicas;
  const std::vector<LoopStatus> loops = loops_->Status();
  // Read after the records: no record is newer than `now`.
  const absl::Duration now = clock_->Monotonic();
  for (const LoopStatus& loop : loops) {
    ReplicaState s;
    s.slot = loop.replica.slot;
    s.store = loop.replica.store;
    s.master_address = loop.replica.master_address;
    s.master_slot = loop.replica.master_slot;
    const ReplicaVerdict verdict = JudgeReplica(loop.record, now, options_.stale_after);
    s.in_sync = verdict.in_sync;
    s.lag_ms = verdict.lag_ms;
    s.last_error = verdict.why_not;
    s.last_success_ms = loop.record.last_success_ms;
    if (loop.record.feed_live && loop.record.feed_caught_up_to) {
      // A live feed with nothing owed up to a moment is a catch-up then.
      s.last_success_ms = std::max(
          s.last_success_ms,
          clock_->NowMs() - absl::ToInt64Milliseconds(now - *loop.record.feed_caught_up_to));
    }
    s.feed = loop.record.feed;
    s.blocked_users = loop.record.blocked_users;
    replicas.insert(s.slot);
    out.push_back(std::move(s));
  }
  for (const std::string& slot : slots_.names()) {
    if (replicas.count(slot) || !records_.Get(slot).master()) continue;
    ReplicaState s;
    s.slot = slot;
    s.role = v1::SLOT_MASTER;
    if (absl::StatusOr<std::shared_ptr<const Fd>> root = slots_.Root(slot); root.ok()) {
      s.store = ReadStoreMarker((*root)->get()).value_or("");
    }
    out.push_back(std::move(s));
  }
  for (ReplicaState& s : out) safety_commands_->AddStatus(&s);
  return out;
}

}  // namespace slotkeeper::sync
